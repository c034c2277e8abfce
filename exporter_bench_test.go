//go:build unix

package main

// The exporter benchmark of issue 14: pgprobe exporter (the built binary,
// a subprocess) answers 1,000 targets behind a 50 ms round trip (25 ms
// each way, pgtest's delay proxy in front of the project's test server:
// TLS 1.3, SCRAM-SHA-256-PLUS), each scraped every 15 s as Prometheus
// would (targets spread over the interval, scrape timeout 10 s, kept-alive
// connections), for EXPORTER_BENCH_SECONDS (default 60) per module. It
// reports the exporter's CPU (cores, from /proc: its own, not the load
// generator's, server's or proxy's), its peak RSS, and the scrape
// durations' p50 and p99 seen by the scrapers. Goal for the full module:
// at most 0.25 core and 150 MiB.
//
//	go test -run '^$' -bench BenchmarkExporter -benchtime 1x -timeout 20m .
//	scripts/bench-exporter.sh

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/exporter"
	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/server"
)

const (
	exporterBenchTargets  = 1000
	exporterBenchInterval = 15 * time.Second
)

func BenchmarkExporter(b *testing.B) {
	bin := buildBinary(b)
	seconds, _ := strconv.Atoi(os.Getenv("EXPORTER_BENCH_SECONDS"))
	if seconds <= 0 {
		seconds = 60
	}
	port := testServer(b, server.Config{SSL: true, Auth: server.AuthSCRAMSHA256, Password: fleetPW, Then: server.ThenOK, Timeout: time.Minute})
	p := pgtest.NewProxy(b, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pgtest.ProxyOptions{Up: fleetOneWay, Down: fleetOneWay, HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})
	dir := b.TempDir()
	pw := filepath.Join(dir, "password")
	config := filepath.Join(dir, "pgprobe.yml")
	for name, content := range map[string]string{pw: fleetPW + "\n", config: fmt.Sprintf(
		"modules:\n  ping:\n    ping: true\n  full:\n    settings: {user: fleet, sslmode: require}\n    password_file: %q\n", pw)} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	targets := make([]string, exporterBenchTargets)
	for i := range targets {
		targets[i] = fmt.Sprintf("postgresql://127.0.0.1:%d/db%04d?application_name=bench-%04d", p.Port, i, i)
	}
	for _, module := range []string{"ping", "full"} {
		b.Run("module="+module, func(b *testing.B) {
			for range b.N {
				x := startExporterBinary(b, bin, "--config", config)
				r := scrapeLoad(b, x, module, targets, time.Duration(seconds)*time.Second)
				b.ReportMetric(r.cores, "exporter-cores")
				b.ReportMetric(float64(r.peakKiB)/1024, "peak-RSS-MiB")
				b.ReportMetric(r.p50.Seconds()*1000, "p50-ms")
				b.ReportMetric(r.p99.Seconds()*1000, "p99-ms")
				b.ReportMetric(float64(r.scrapes), "scrapes")
				if r.failed > 0 {
					b.Errorf("%d of %d scrapes did not answer probe_success 1", r.failed, r.scrapes)
				}
			}
		})
	}
}

type loadResult struct {
	cores        float64
	peakKiB      int64
	p50, p99     time.Duration
	scrapes      int
	failed       int
	failedSample string
}

// scrapeLoad scrapes every target once per interval, the targets spread
// evenly over it, for d; the CPU is the exporter's over that window.
func scrapeLoad(b *testing.B, x *exporterProcess, module string, targets []string, d time.Duration) loadResult {
	b.Helper()
	pid := x.cmd.Process.Pid
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(targets), IdleConnTimeout: time.Minute}, Timeout: 11 * time.Second}
	var mu sync.Mutex
	var r loadResult
	var durations []time.Duration
	start := time.Now()
	cpu0 := procCPU(b, pid)
	var wg sync.WaitGroup
	for i, target := range targets {
		u := x.base + "/probe?" + url.Values{"target": {target}, "module": {module}}.Encode()
		wg.Go(func() {
			next := start.Add(time.Duration(i) * exporterBenchInterval / time.Duration(len(targets)))
			for ; next.Before(start.Add(d)); next = next.Add(exporterBenchInterval) {
				time.Sleep(time.Until(next))
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Header.Set(exporter.ScrapeTimeoutHeader, "10")
				t0 := time.Now()
				resp, err := client.Do(req)
				ok := false
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == 200 && bytes.Contains(body, []byte("\nprobe_success 1\n"))
				}
				took := time.Since(t0)
				mu.Lock()
				durations = append(durations, took)
				r.scrapes++
				if !ok {
					r.failed++
					if r.failedSample == "" {
						r.failedSample = fmt.Sprintf("%v %s", err, body)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	r.cores = (procCPU(b, pid) - cpu0).Seconds() / wall.Seconds()
	r.peakKiB = procHWM(b, pid)
	slices.Sort(durations)
	if n := len(durations); n > 0 {
		r.p50, r.p99 = durations[n/2], durations[n*99/100]
	}
	if r.failed > 0 {
		b.Logf("a failed scrape: %.2000s", r.failedSample)
	}
	return r
}

// procCPU is the process's user and system time (/proc/PID/stat, in clock
// ticks of 1/100 s on Linux).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(s), ") ") // after the command name
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procHWM is the process's peak RSS so far (VmHWM, KiB).
func procHWM(b *testing.B, pid int) int64 {
	b.Helper()
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(s), "VmHWM:")
	line, _, _ := strings.Cut(rest, "\n")
	v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "kB")), 10, 64)
	return v
}
