//go:build unix

package scan

// The goal of issue 15: a scan of one server with four users takes
// seconds, not minutes, on loopback. A real PostgreSQL 17 with TLS; each
// iteration is one whole scan (about 45 connections, 4 at once).
//
//	go test -run '^$' -bench BenchmarkScan -benchtime 3x ./scan

import (
	"context"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe/conninfo"
)

func BenchmarkScanFourUsers(b *testing.B) {
	c := pgtest.Start(b, pgtest.Options{Version: 17, SSL: true,
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256", "host all md5user 127.0.0.1/32 md5", "host all all 127.0.0.1/32 scram-sha-256"},
		Roles: []pgtest.Role{{Name: "alice", Password: "a"}, {Name: "bob", Password: "b"}, {Name: "carol", Password: "c"},
			{Name: "md5user", Password: "m", Encryption: "md5"}}})
	in := conninfo.Input{Target: c.ConnString("user=alice", "sslrootcert="+c.CAFile), HomeDir: b.TempDir(),
		Getenv: func(string) (string, bool) { return "", false }}
	users := []string{"alice", "bob", "carol", "md5user"}
	var total time.Duration
	conns := 0
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		doc := Run(context.Background(), Options{Input: in, Users: users})
		total += time.Since(began)
		if doc.Error != nil {
			b.Fatal(doc.Error.Message)
		}
		conns = doc.Connections
	}
	b.ReportMetric(float64(conns), "connections/scan")
	b.Logf("one scan of PostgreSQL %d with 4 users over loopback: %v (%d connections, %d at once)",
		c.Version, (total / time.Duration(b.N)).Round(time.Millisecond), conns, DefaultConcurrency)
}
