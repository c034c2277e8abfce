//go:build unix

package main

// Every failure class and startup SQLSTATE, provoked against a real
// PostgreSQL 15 where it can be and against the project's scripted test
// server where PostgreSQL cannot be made to: 57P03 "in recovery mode" (sent
// only between a backend's crash and the end of the other backends, which
// the postmaster kills within 5 s, SIGKILL_CHILDREN_AFTER_SECS: too short a
// window to hold four clients in on a loaded machine), 08P01 and 0A000
// (which take a client that breaks the protocol) and poolers (a real
// PgBouncer in e2e_pooler_test.go). Each checks the exit code, error.class, that the advice
// names the fix, that psql fails too, and, where pg_isready applies, that
// --ping agrees with it.

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/server"
)

// testServer runs the project's test server on a loopback port until the
// test ends.
func testServer(t testing.TB, cfg server.Config) int {
	t.Helper()
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func fatalResponse(code, msg, detail string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg, Detail: detail}
}

func encodeMsg(t *testing.T, m pgproto3.BackendMessage) []byte {
	t.Helper()
	b, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// preAuthError answers the startup message with a FATAL ErrorResponse and
// closes, as PostgreSQL's ProcessStartupPacket does for 57P03 or 0A000.
func preAuthError(t *testing.T, code, msg, detail string) int {
	t.Helper()
	b := encodeMsg(t, fatalResponse(code, msg, detail))
	return testServer(t, server.Config{Timeout: 10 * time.Second, Script: func(int) *server.Script {
		return &server.Script{Actions: []server.Action{{Step: "auth_request", Nth: 1, Replace: b, Close: true}}}
	}})
}

func TestFailureClassesAndAdvice(t *testing.T) {
	c := sslServer(t)
	p := plainServer(t)
	refused := pgtest.FreePort(t)
	silent := pgtest.SilentPeer(t)
	garbage := scripted(t, "HTTP/1.1 400 Bad Request\r\n\r\n")
	other := pgtest.NewCA(t, "Some Other CA")
	otherCA := pgtest.WriteFile(t, t.TempDir(), "other.crt", other.CertPEM, 0o644)

	type tc struct {
		name     string
		target   func(t *testing.T) string
		args     []string
		code     int
		class    string
		sqlstate string
		advice   []string // each must appear in error.advice
		avoid    []string // none may appear in error.advice
		psql     bool     // psql must fail on the same target
		isready  int      // pg_isready's exit code on the same target; -1: not compared
	}
	fixed := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }
	cases := []tc{
		{name: "name resolution", target: fixed("host=nosuch.invalid port=5432 user=x"),
			code: 2, class: "dns", advice: []string{"getent hosts nosuch.invalid", "hostaddr="}, psql: true, isready: 2},
		{name: "refused", target: fixed(fmt.Sprintf("host=127.0.0.1 port=%d user=x", refused)),
			code: 2, class: "connect", advice: []string{"listen_addresses", "pg_isready -h 127.0.0.1"}, psql: true, isready: 2},
		{name: "timeout waiting for SSLRequest answer", target: fixed(fmt.Sprintf("host=127.0.0.1 port=%d user=x", silent)), args: []string{"-t", "1"},
			code: 2, class: "timeout", advice: []string{"no answer to SSLRequest", "-t/--timeout"}, isready: -1},
		{name: "SSL refused", target: fixed(conn(p, "user=scramuser", "dbname=postgres", "sslmode=require")),
			code: 2, class: "ssl", advice: []string{"ssl = on", "ssl_cert_file", "sslmode=prefer"}, psql: true, isready: 2},
		{name: "certificate untrusted", target: fixed(fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser dbname=postgres sslmode=verify-full sslrootcert=%s", c.Port, otherCA)),
			code: 2, class: "tls", advice: []string{"sslrootcert="}, psql: true, isready: 2},
		{name: "host-name mismatch", target: fixed(fmt.Sprintf("host=wrong.example hostaddr=127.0.0.1 port=%d user=trustuser dbname=postgres sslmode=verify-full sslrootcert=%s", c.Port, c.CAFile)),
			code: 2, class: "tls", advice: []string{"subjectAltName DNS:wrong.example", "verify-ca"}, psql: true, isready: 2},
		{name: "TLS alert: no common version", target: func(t *testing.T) string {
			t13 := pgtest.Start(t, pgtest.Options{SSL: true, HBA: hba, Roles: roles, Conf: []string{"ssl_min_protocol_version = 'TLSv1.3'"}})
			return conn(t13, "user=trustuser", "dbname=postgres", "sslmode=require", "ssl_max_protocol_version=TLSv1.2")
		}, code: 2, class: "tls", advice: []string{"ssl_min_protocol_version", "ssl_max_protocol_version"}, psql: true, isready: 2},
		{name: "protocol violation", target: fixed(fmt.Sprintf("host=127.0.0.1 port=%d user=x sslmode=prefer", garbage)),
			code: 2, class: "protocol", advice: []string{"not to another service", "pg_isready -h 127.0.0.1"}, psql: true, isready: -1},
		{name: "28000 no encryption", target: fixed(conn(c, "user=nohba", "dbname=postgres", "sslmode=disable")),
			code: 1, class: "auth", sqlstate: "28000", advice: []string{"`hostnossl postgres nohba 127.0.0.1/32 scram-sha-256`", "`host …`", "pg_reload_conf()"}, psql: true, isready: 0},
		{name: "28000 SSL encryption", target: fixed(conn(c, "user=nohba", "dbname=postgres", "sslmode=require")),
			code: 1, class: "auth", sqlstate: "28000", advice: []string{"`hostssl postgres nohba 127.0.0.1/32 scram-sha-256`", "pg_reload_conf()"}, psql: true, isready: 0},
		{name: "28P01", target: fixed(conn(c, "user=scramuser", "dbname=postgres", "password=wrong")),
			code: 1, class: "auth", sqlstate: "28P01", advice: []string{"~/.pgpass", `\password scramuser`}, psql: true, isready: 0},
		// libpq's last error is the retry's 28000, but the fix is the SSL
		// attempt's password: the advice must say so, not open a
		// hostnossl path.
		{name: "28P01 over SSL, then sslmode=prefer's retry without SSL", target: fixed(conn(c, "user=sslonly", "dbname=postgres", "sslmode=prefer", "password=wrong")),
			code: 1, class: "auth", sqlstate: "28000", advice: []string{"sslmode=prefer's retry without SSL", `password authentication failed for user "sslonly"`, `\password sslonly`},
			avoid: []string{"No line in pg_hba.conf"}, psql: true, isready: 0},
		{name: "28000 unknown user", target: func(t *testing.T) string {
			all := pgtest.Start(t, pgtest.Options{HBA: []string{"host all all 127.0.0.1/32 trust"}})
			return fmt.Sprintf("host=127.0.0.1 port=%d user=nosuchuser dbname=postgres", all.Port)
		}, code: 1, class: "auth", sqlstate: "28000", advice: []string{`no role "nosuchuser"`, `CREATE ROLE "nosuchuser" LOGIN`}, psql: true, isready: 0},
		{name: "3D000", target: fixed(conn(c, "user=trustuser", "dbname=nosuchdb")),
			code: 1, class: "server", sqlstate: "3D000", advice: []string{"createdb -h 127.0.0.1", "nosuchdb"}, psql: true, isready: 0},
		{name: "53300 max_connections", target: func(t *testing.T) string {
			m := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles, Conf: []string{"max_connections = 3", "superuser_reserved_connections = 2"}})
			target := conn(m, "user=trustuser", "dbname=postgres")
			// Fill the only ordinary slot (see TestTooManyConnections).
			for try := 0; try < 50; try++ {
				pgtest.RunPsqlBackground(t, target, "select pg_sleep(60)")
				time.Sleep(200 * time.Millisecond)
				if r := pgprobe(t, nil, "-o", "json", target); r.code != 0 {
					break
				}
			}
			return target
		}, code: 1, class: "server", sqlstate: "53300", advice: []string{"max_connections", "pg_stat_activity"}, psql: true, isready: 0},
		{name: "57P03 starting up", target: func(t *testing.T) string {
			s := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles})
			s.RestartRefusing(t, pgtest.StartingUp)
			return conn(s, "user=trustuser", "dbname=postgres")
		}, code: 1, class: "server", sqlstate: "57P03", advice: []string{"starting up", "pgprobe --wait"}, psql: true, isready: 1},
		{name: "57P03 shutting down", target: func(t *testing.T) string {
			s := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles})
			target := conn(s, "user=trustuser", "dbname=postgres")
			// A smart shutdown waits for this session, and turns new
			// connections away meanwhile.
			pgtest.RunPsqlBackground(t, target, "select pg_sleep(60)")
			s.WaitSessions(t, 1)
			s.BeginSmartShutdown(t)
			return target
		}, code: 1, class: "server", sqlstate: "57P03", advice: []string{"shutting down", "server log"}, psql: true, isready: 1},
		{name: "57P03 recovery mode", target: func(t *testing.T) string {
			return fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=postgres", preAuthError(t, "57P03", "the database system is in recovery mode", ""))
		}, code: 1, class: "server", sqlstate: "57P03", advice: []string{"recovery", "primary", "hot_standby"}, psql: true, isready: 1},
		{name: "57P03 hot standby off", target: func(t *testing.T) string {
			s := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles})
			s.RestartRefusing(t, pgtest.HotStandbyOff)
			return conn(s, "user=trustuser", "dbname=postgres")
		}, code: 1, class: "server", sqlstate: "57P03", advice: []string{"hot_standby = on"}, psql: true, isready: 1},
		{name: "42704 unknown startup parameter", target: func(t *testing.T) string {
			return conn(p, "user=trustuser", "dbname=postgres", "options=-c nosuch_setting=on")
		}, code: 1, class: "server", sqlstate: "42704", advice: []string{`"nosuch_setting"`, "PGOPTIONS", "options="}, psql: true, isready: 0},
		{name: "08P01 protocol violation reported by the server", target: func(t *testing.T) string {
			return fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=postgres", preAuthError(t, "08P01", "invalid startup packet layout: expected terminator as last byte", ""))
		}, code: 1, class: "server", sqlstate: "08P01", advice: []string{"invalid startup packet layout", "proxy", "client library"}, psql: true, isready: 0},
		{name: "0A000 unsupported protocol", target: func(t *testing.T) string {
			return fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=postgres", preAuthError(t, "0A000", "unsupported frontend protocol 3.0: server supports 2.0 to 2.0", ""))
		}, code: 1, class: "server", sqlstate: "0A000", advice: []string{"max_protocol_version"}, psql: true, isready: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target(t)
			r := pgprobe(t, nil, append(append([]string{"-o", "json"}, tc.args...), target)...)
			mustCode(t, r, tc.code)
			mustEqual(t, r, "error.class", tc.class)
			if tc.sqlstate != "" {
				mustEqual(t, r, "error.sqlstate", tc.sqlstate)
			}
			advice, _ := get(r.doc, "error.advice").(string)
			for _, want := range tc.advice {
				if !strings.Contains(advice, want) {
					t.Errorf("advice should contain %q:\n%s", want, advice)
				}
			}
			for _, bad := range tc.avoid {
				if strings.Contains(advice, bad) {
					t.Errorf("advice should not contain %q:\n%s", bad, advice)
				}
			}
			if strings.Contains(advice, "pooler or proxy, not from PostgreSQL") {
				t.Errorf("advice wrongly blames a pooler:\n%s", advice)
			}
			if tc.psql {
				if out, code := pgtest.RunPsql(t, target, ""); code == 0 {
					t.Errorf("psql connected where pgprobe failed: %s", out)
				}
			}
			if tc.isready >= 0 {
				_, got := pgtest.RunPgIsready(t, []string{"-d", target})
				if got != tc.isready {
					t.Errorf("pg_isready exit %d, want %d", got, tc.isready)
				}
				rp := pgprobe(t, nil, "--ping", "-o", "json", target)
				if rp.code != got {
					t.Errorf("pgprobe --ping exit %d, pg_isready %d\n%s", rp.code, got, rp.stdout)
				}
			}
		})
	}
}
