//go:build unix

package probe_test

// In-process benchmarks of one probe against a real PostgreSQL 15 with TLS
// and SCRAM, the same two cases scripts/bench.sh times as whole processes:
//
//	go test ./probe -run '^$' -bench Probe -benchtime 200x -cpuprofile cpu.out
//	go tool pprof -top probe.test cpu.out
//
// Most of a probe's wall time is the server's (forking a backend, its side
// of the TLS handshake, authentication); the CPU profile shows the client's.

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

const benchPW = "bench-secret"

func benchServer(b *testing.B) *pgtest.Cluster {
	b.Helper()
	return pgtest.Start(b, pgtest.Options{SSL: true,
		HBA:   []string{"host all benchuser 127.0.0.1/32 scram-sha-256"},
		Roles: []pgtest.Role{{Name: "benchuser", Password: benchPW}}})
}

// benchInput is what main.go passes: a home directory with no files in it
// and an environment holding only PGPASSWORD.
func benchInput(b *testing.B, target string, flags map[string]string) conninfo.Input {
	home := b.TempDir()
	env := map[string]string{"HOME": home, "PGPASSWORD": benchPW}
	return conninfo.Input{Target: target, Flags: flags, HomeDir: home,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
}

// runBench probes req b.N times and reports, besides ns/op, the mean time
// of the steps that wait on the server (as the record measures them), so
// that the client's own share is ns/op less their sum, and the client's
// CPU time.
func runBench(b *testing.B, req probe.Request, wantCode int) {
	b.Helper()
	b.ReportAllocs()
	steps := map[string]float64{}
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		l := probe.Probe(context.Background(), req)
		if l.ExitCode != wantCode {
			msg := ""
			if l.Error != nil {
				msg = l.Error.Message
			}
			b.Fatalf("exit code %d, want %d: %s", l.ExitCode, wantCode, msg)
		}
		for _, a := range l.Attempts {
			for _, e := range a.Events {
				steps[e.Step] += e.DurationMS
			}
		}
		n++
	}
	// The process's CPU time (user+system, every thread): what the client
	// itself spends, whatever the server and the machine's load do.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
	for _, step := range []string{"connect", "ssl_response", "tls_handshake", "auth_request", "auth_response", "close"} {
		if ms, ok := steps[step]; ok {
			b.ReportMetric(ms/float64(n), step+"-ms/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProbePing is `pgprobe --ping -h 127.0.0.1 -p PORT -U benchuser`:
// sslmode=prefer, so TLS, then the startup message and the server's first
// answer (its SCRAM request).
func BenchmarkProbePing(b *testing.B) {
	c := benchServer(b)
	in := benchInput(b, "", map[string]string{"host": c.Host, "port": strconv.Itoa(c.Port), "user": "benchuser"})
	runBench(b, probe.Request{Input: in, Ping: true, Timeout: 30 * time.Second}, statelog.ExitOK)
}

// BenchmarkProbeFull is `pgprobe "host=… sslmode=require"`: TLS 1.3,
// SCRAM-SHA-256-PLUS (channel_binding=prefer), ReadyForQuery.
func BenchmarkProbeFull(b *testing.B) {
	c := benchServer(b)
	in := benchInput(b, c.ConnString("user=benchuser", "dbname=postgres", "sslmode=require"), nil)
	runBench(b, probe.Request{Input: in, Timeout: 30 * time.Second}, statelog.ExitOK)
}
