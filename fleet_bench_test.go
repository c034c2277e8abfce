//go:build unix

package main

// The fleet benchmark of issue 7: 1,000 targets behind 50 ms of round-trip
// latency (25 ms each way, injected by pgtest's proxy), each probed fully
// (SSLRequest, TLS 1.3, SCRAM-SHA-256-PLUS, startup to ReadyForQuery) by
// the project's own test server. Goals: the whole pgprobe process takes at
// most 1.5 s of wall time and 150 MiB of peak memory.
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 3x .
//
// BenchmarkFleet runs the built binary as a subprocess and reports its wall
// time, peak RSS (sampled from /proc: see watchHWM) and CPU time;
// BenchmarkFleetInProcess runs the same fleet inside the test binary, for
// -cpuprofile and -memprofile.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/server"
)

const (
	fleetTargets = 1000
	// fleetOneWay is half the 50 ms round-trip time a DBA calls latency.
	fleetOneWay = 25 * time.Millisecond
	fleetPW     = "fleet-secret"
)

// fleetConcurrency: the old default (16), and 64, 128 and 256 (the
// default). Five round trips of 50 ms make a probe last at least 250 ms,
// so 1,000 probes in 1.5 s need about 170 at once.
var fleetConcurrency = []int{16, 64, 128, 256}

// fleetSetup starts the test server behind the delay proxy and writes the
// targets file: the same server, 1,000 distinct targets (dbname and
// application_name differ).
func fleetSetup(b *testing.B) (targetsFile string) {
	b.Helper()
	port := testServer(b, server.Config{SSL: true, Auth: server.AuthSCRAMSHA256, Password: fleetPW, Then: server.ThenOK, Timeout: time.Minute})
	p := pgtest.NewProxy(b, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pgtest.ProxyOptions{Up: fleetOneWay, Down: fleetOneWay, HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})
	var sb strings.Builder
	for i := range fleetTargets {
		fmt.Fprintf(&sb, "host=127.0.0.1 port=%d user=fleet dbname=db%04d application_name=fleet-%04d sslmode=require password=%s\n", p.Port, i, i, fleetPW)
	}
	targetsFile = filepath.Join(b.TempDir(), "targets")
	if err := os.WriteFile(targetsFile, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return targetsFile
}

// checkFleet fails the benchmark unless out is a fleet document with
// 1,000 successful full probes.
func checkFleet(b *testing.B, out []byte) {
	b.Helper()
	var doc struct {
		OK      bool `json:"ok"`
		Results []struct {
			OK       bool `json:"ok"`
			Attempts []struct {
				TLS *struct {
					Version string `json:"version"`
				} `json:"tls"`
				Auth *struct {
					Method string `json:"method"`
				} `json:"auth"`
			} `json:"attempts"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		b.Fatalf("output is not one JSON document: %v\n%.2000s", err, out)
	}
	ok := 0
	for _, r := range doc.Results {
		a := r.Attempts
		if r.OK && len(a) == 1 && a[0].TLS != nil && a[0].TLS.Version == "TLSv1.3" && a[0].Auth != nil && strings.HasPrefix(a[0].Auth.Method, "scram-sha-256") {
			ok++
		}
	}
	if !doc.OK || len(doc.Results) != fleetTargets || ok != fleetTargets {
		b.Fatalf("%d results, %d full TLS 1.3 + SCRAM successes; want %d\n%.2000s", len(doc.Results), ok, fleetTargets, out)
	}
}

func BenchmarkFleet(b *testing.B) {
	bin := buildBinary(b) // as the README builds it
	targets := fleetSetup(b)
	for _, n := range fleetConcurrency {
		b.Run(fmt.Sprintf("concurrency=%d", n), func(b *testing.B) {
			var wall, cpu time.Duration
			var peak int64
			for range b.N {
				cmd := exec.Command(bin, "--targets-file", targets, "-o", "json", "--concurrency", fmt.Sprint(n), "-t", "60")
				cmd.Env = []string{"HOME=" + b.TempDir(), "PATH=" + os.Getenv("PATH")}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				hwm := watchHWM(cmd.Process.Pid)
				err := cmd.Wait()
				wall += time.Since(start)
				if err != nil {
					b.Fatalf("pgprobe: %v\n%s%.2000s", err, stderr.String(), stdout.String())
				}
				peak = max(peak, hwm())
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				checkFleet(b, stdout.Bytes())
			}
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "wall-ms/op")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			// pgprobe's own CPU time: on a small machine the test server and
			// the proxy, in this process, compete with it for the cores.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "pgprobe-cpu-ms/op")
		})
	}
}

// watchHWM samples the process's peak RSS (VmHWM in /proc/PID/status, KiB)
// every 2 ms until it exits, and returns a function giving the last
// sample. The rusage of wait4 would not do: os/exec starts the child with
// vfork (CLONE_VM), and the kernel carries the parent's own high-water
// mark into the child's ru_maxrss at execve, so that figure is the test
// process's peak (server, proxy and earlier runs' output) whenever that is
// the larger, 110–250 MiB against 20–40 for pgprobe itself.
func watchHWM(pid int) func() int64 {
	var mu sync.Mutex
	var kib int64
	done := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(done)
		for {
			b, err := os.ReadFile(path)
			if err != nil {
				return
			}
			_, rest, ok := bytes.Cut(b, []byte("VmHWM:"))
			if !ok { // exiting: the memory is gone
				return
			}
			line, _, _ := bytes.Cut(rest, []byte("\n"))
			if v, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64); err == nil {
				mu.Lock()
				kib = max(kib, v)
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() int64 {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return kib
	}
}

// BenchmarkFleetInProcess is BenchmarkFleet's fleet run by runEnv inside
// the test binary, so that -cpuprofile and -memprofile see pgprobe's work
// (the test server and the proxy run in the same process: tell them apart
// by package in the profile).
func BenchmarkFleetInProcess(b *testing.B) {
	targets := fleetSetup(b)
	for _, n := range fleetConcurrency {
		b.Run(fmt.Sprintf("concurrency=%d", n), func(b *testing.B) {
			for range b.N {
				var out, errb bytes.Buffer
				vars := map[string]string{"HOME": b.TempDir()}
				e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, NoTTY: true,
					Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
				if code := runEnv(e, []string{"pgprobe", "--targets-file", targets, "-o", "json", "--concurrency", fmt.Sprint(n), "-t", "60"}); code != 0 {
					b.Fatalf("exit %d\n%s%.2000s", code, errb.String(), out.String())
				}
				checkFleet(b, out.Bytes())
			}
		})
	}
}
