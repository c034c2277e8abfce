//go:build unix

package main

// Cases found by walking the issue from a fresh clone, each compared with
// psql or pg_isready.

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

func TestPingMultiHostAfterTimeout(t *testing.T) {
	c := sslServer(t)
	silent := pgtest.SilentPeer(t)
	dsn := fmt.Sprintf("host=127.0.0.1,localhost port=%d,%d user=trustuser dbname=postgres connect_timeout=1", silent, c.Port)
	_, want := pgtest.RunPgIsready(t, []string{"-d", dsn})
	r := pgprobe(t, nil, "--ping", "-o", "json", dsn)
	if r.code != want || want != 0 {
		t.Errorf("pgprobe --ping %d, pg_isready %d\n%s", r.code, want, r.stdout)
	}
	r = pgprobe(t, nil, "-o", "json", dsn)
	mustCode(t, r, 0)
}

func TestIntermediateOnlyRootFile(t *testing.T) {
	c := sslServer(t)
	inter := c.CA.NewIntermediate(t, "Intermediate CA")
	certPEM, keyPEM := inter.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}})
	// The server sends its certificate and the intermediate.
	c.SetServerCert(t, append(certPEM, inter.CertPEM...), keyPEM)
	dir := t.TempDir()
	interOnly := pgtest.WriteFile(t, dir, "inter.crt", inter.CertPEM, 0o644)
	both := pgtest.WriteFile(t, dir, "both.crt", append(append([]byte{}, inter.CertPEM...), c.CA.CertPEM...), 0o644)
	for _, tc := range []struct {
		root string
		ok   bool
	}{{interOnly, false}, {both, true}, {c.CAFile, true}} {
		target := fmt.Sprintf("host=localhost port=%d user=trustuser dbname=postgres sslmode=verify-full sslrootcert=%s", c.Port, tc.root)
		r := pgprobe(t, nil, "-o", "json", target)
		out, code := pgtest.RunPsql(t, target, "")
		if (r.code == 0) != tc.ok || (code == 0) != tc.ok {
			t.Errorf("%s: want ok=%v; pgprobe %d, psql %d %s", tc.root, tc.ok, r.code, code, out)
		}
	}
}

func TestAllowAgainstSSLOffWithWrongPassword(t *testing.T) {
	c := plainServer(t)
	target := conn(c, "user=scramuser", "dbname=postgres", "password=wrong", "sslmode=allow")
	r := pgprobe(t, nil, "-o", "json", target)
	mustCode(t, r, 1)
	mustEqual(t, r, "error.sqlstate", "28P01")
	out, _ := pgtest.RunPsql(t, target, "")
	if !strings.Contains(out, "password authentication failed") {
		t.Errorf("psql: %s", out)
	}
}

func TestClientEncodingAuto(t *testing.T) {
	c := sslServer(t)
	r := pgprobe(t, map[string]string{"LC_ALL": "C.UTF-8"}, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "client_encoding=auto"))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.server.parameters.client_encoding", "UTF8")
}

func TestRequirePeer(t *testing.T) {
	c := sslServer(t)
	owner := "postgres"
	if os.Geteuid() != 0 {
		owner = os.Getenv("USER")
	}
	for _, tc := range []struct {
		peer string
		ok   bool
	}{{owner, true}, {"nobody", false}} {
		target := fmt.Sprintf("host=%s port=%d user=trustuser dbname=postgres requirepeer=%s", c.SocketDir, c.Port, tc.peer)
		r := pgprobe(t, nil, "-o", "json", target)
		out, code := pgtest.RunPsql(t, target, "")
		if (r.code == 0) != tc.ok || (code == 0) != tc.ok {
			t.Fatalf("requirepeer=%s: pgprobe %d, psql %d %s\n%s", tc.peer, r.code, code, out, r.stdout)
		}
		if !tc.ok {
			msg, _ := get(r.doc, "error.message").(string)
			if !strings.Contains(out, msg) {
				t.Errorf("psql %q\npgprobe %q", out, msg)
			}
		}
	}
}

// scripted answers a startup message (after refusing SSL) with raw bytes.
func scripted(t *testing.T, reply string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 8)
				for {
					if _, err := c.Read(buf[:4]); err != nil {
						return
					}
					n := int(buf[0])<<24 | int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
					rest := make([]byte, n-4)
					if _, err := c.Read(rest); err != nil {
						return
					}
					if n == 8 { // SSLRequest
						c.Write([]byte("N"))
						continue
					}
					c.Write([]byte(reply))
					time.Sleep(5 * time.Second)
					return
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestShortAndOldStyleReplies(t *testing.T) {
	for _, tc := range []struct{ name, reply, msg string }{
		{"one byte that is not PostgreSQL", "X", "expected authentication request from server, but received X"},
		{"protocol 2 error", "Ecould not fork new process for connection: Resource temporarily unavailable\n\x00", "could not fork new process for connection: Resource temporarily unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := scripted(t, tc.reply)
			target := fmt.Sprintf("host=127.0.0.1 port=%d user=u connect_timeout=10", port)
			start := time.Now()
			r := pgprobe(t, nil, "-o", "json", target)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s: the answer should be recognised at once", d)
			}
			msg, _ := get(r.doc, "error.message").(string)
			out, _ := pgtest.RunPsql(t, target, "")
			if !strings.Contains(msg, tc.msg) || !strings.Contains(out, tc.msg) {
				t.Errorf("pgprobe %q\npsql %q", msg, out)
			}
		})
	}
}

func TestBadPortValues(t *testing.T) {
	for _, port := range []string{"abc", "99999"} {
		dsn := "host=127.0.0.1 user=u port=" + port
		r := pgprobe(t, nil, "-o", "json", dsn)
		mustCode(t, r, 3)
		mustEqual(t, r, "error.class", "usage")
		_, want := pgtest.RunPgIsready(t, []string{"-d", dsn})
		if r = pgprobe(t, nil, "--ping", "-o", "json", dsn); r.code != want {
			t.Errorf("port=%s: --ping %d, pg_isready %d", port, r.code, want)
		}
	}
}

func TestCommandLineForms(t *testing.T) {
	c := sslServer(t)
	// Attached short values, as psql takes them.
	r := pgprobe(t, nil, "-h127.0.0.1", fmt.Sprintf("-p%d", c.Port), "-Utrustuser", "-dpostgres", "-ojson")
	mustCode(t, r, 0)
	mustEqual(t, r, "target", fmt.Sprintf("host=127.0.0.1 port=%d user=trustuser dbname=postgres", c.Port))
	// Root flags before a subcommand still reach it.
	r = pgprobe(t, nil, "-o", "json", "settings", conn(c, "user=trustuser"))
	mustCode(t, r, 0)
	mustEqual(t, r, "settings.user.value", "trustuser")
	// -d as a URI expands as psql's does; with a target too it is ambiguous.
	uri := fmt.Sprintf("postgresql://scramuser:%s@127.0.0.1:%d/postgres", "SEKRIT-uri", c.Port)
	r = pgprobe(t, nil, "-o", "json", "-d", uri)
	mustCode(t, r, 1) // wrong password
	if strings.Contains(r.stdout, "SEKRIT") {
		t.Errorf("the password of -d's URI appears in the output")
	}
	r = pgprobe(t, nil, "-o", "json", "-d", uri, conn(c, "user=trustuser"))
	mustCode(t, r, 3)
	if strings.Contains(r.stdout+r.stderr, "SEKRIT") {
		t.Errorf("the password of -d's URI appears in the output")
	}
	// --ping with checks is refused.
	r = pgprobe(t, nil, "--ping", "--min-tls-version", "1.3", conn(c, "user=trustuser"))
	mustCode(t, r, 3)
	// --ping's verdict in words.
	r = pgprobe(t, nil, "--ping", conn(c, "user=trustuser"))
	mustCode(t, r, 0)
	if !strings.Contains(r.stdout, "accepting connections") {
		t.Errorf("--ping timeline should say accepting connections:\n%s", r.stdout)
	}
}

func TestRoundTrips(t *testing.T) {
	c := sslServer(t)
	cases := []struct {
		kv   []string
		want int
	}{
		// TCP handshake, startup → AuthenticationOk … ReadyForQuery.
		{[]string{"user=trustuser", "sslmode=disable"}, 2},
		// + SSLRequest → 'S', + the TLS 1.3 handshake: one flight each way,
		// and one more because PostgreSQL 15 offers only its ssl_ecdh_curve
		// (prime256v1) and asks for a P-256 key share (HelloRetryRequest),
		// as it does of OpenSSL's client in psql.
		{[]string{"user=trustuser", "sslmode=require"}, 5},
		// + SASLInitialResponse → Continue, SASLResponse → Final.
		{[]string{"user=scramuser", "password=" + scramPW, "sslmode=require"}, 7},
	}
	for _, tc := range cases {
		r := pgprobe(t, nil, "-o", "json", conn(c, append([]string{"dbname=postgres"}, tc.kv...)...))
		mustCode(t, r, 0)
		mustEqual(t, r, "attempts.0.round_trips", tc.want)
		if get(r.doc, "attempts.0.tls") != nil {
			mustEqual(t, r, "attempts.0.tls.hello_retry_request", true)
			mustEqual(t, r, "attempts.0.tls.key_exchange", "P-256")
		}
	}
	r := pgprobe(t, nil, conn(c, "user=trustuser", "dbname=postgres", "sslmode=require"))
	// PostgreSQL 15 knows no direct TLS: no hint to use it
	// (TestDirectTLSHintNeedsPostgreSQL17 shows it on 17).
	if !strings.Contains(r.stdout, "5 network round trips\n") || strings.Contains(r.stdout, "sslnegotiation=direct would save") ||
		!strings.Contains(r.stdout, "the server asked again for a P-256 key share: one more round trip") {
		t.Errorf("the timeline should end each attempt with its round trips:\n%s", r.stdout)
	}
}
