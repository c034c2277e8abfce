//go:build unix

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/server"
)

// When a pooler sends its error, relative to authentication.
const (
	// beforeAuth: in answer to the StartupMessage, instead of the first
	// authentication request.
	beforeAuth = iota
	// duringAuth: after the client sent its password, instead of
	// AuthenticationOk (PgBouncer's finish_client_login, Neon's and pgcat's
	// connection to the server behind them).
	duringAuth
	// afterAuth: after AuthenticationOk, instead of ReadyForQuery.
	afterAuth
)

// poolerServer answers with the pooler's ErrorResponse at the given moment.
func poolerServer(t *testing.T, when int, e *pgproto3.ErrorResponse) int {
	t.Helper()
	b := encodeMsg(t, e)
	switch when {
	case beforeAuth:
		return testServer(t, server.Config{Timeout: 10 * time.Second, Script: func(int) *server.Script {
			return &server.Script{Actions: []server.Action{{Step: "auth_request", Nth: 1, Replace: b, Close: true}}}
		}})
	case duringAuth:
		return testServer(t, server.Config{Auth: server.AuthPassword, Password: "secret", Timeout: 10 * time.Second, Script: func(int) *server.Script {
			return &server.Script{Actions: []server.Action{{Step: "auth_ok", Nth: 1, Replace: b, Close: true}}}
		}})
	default:
		return testServer(t, server.Config{Auth: server.AuthTrust, Timeout: 10 * time.Second, Script: func(int) *server.Script {
			return &server.Script{ThenError: e}
		}})
	}
}

// TestPoolerRecognition: errors and ParameterStatus values that only a
// pooler or proxy sends make the advice say that the database behind it
// was not proven, and name the pooler's own fix. Each case sends the text,
// severity and SQLSTATE the pooler sends, at the moment it sends it; the
// source of each is cited (diagnose/pooler_test.go has every recognised text).
func TestPoolerRecognition(t *testing.T) {
	errorCases := []struct {
		name, pooler   string
		severity, code string
		msg            string
		when           int
		fix            string
	}{
		// pgbouncer/pgbouncer 13a344f2 (after 1.25.2) src/client.c:1086;
		// FATAL and 08P01 from src/proto.c send_pooler_error.
		{"PgBouncer max_client_conn", "PgBouncer", "FATAL", "08P01", "no more connections allowed (max_client_conn)", beforeAuth, "max_client_conn in pgbouncer.ini"},
		// pgbouncer 13a344f2 src/client.c:1057.
		{"PgBouncer unsupported startup parameter", "PgBouncer", "FATAL", "08P01", "unsupported startup parameter: extra_float_digits", beforeAuth, "ignore_startup_parameters"},
		// pgbouncer 13a344f2 src/objects.c:2041 finish_client_login.
		{"PgBouncer no such database", "PgBouncer", "FATAL", "08P01", "no such database: app", duringAuth, "[databases]"},
		// pgbouncer 13a344f2 src/client.c:1413.
		{"PgBouncer password", "PgBouncer", "FATAL", "08P01", "password authentication failed", duringAuth, "auth_file"},
		// pgbouncer 13a344f2 src/client.c:439 (1.18.0: :262): auth_type=trust
		// and a user not in auth_file, in answer to the startup message.
		{"PgBouncer trust, unknown user", "PgBouncer", "FATAL", "08P01", `"trust" authentication failed`, beforeAuth, "auth_file"},
		// pgbouncer 13a344f2 src/client.c:794 (1.18.0: :478): auth_query found no row.
		{"PgBouncer no such user", "PgBouncer", "FATAL", "08P01", "no such user", beforeAuth, "auth_query"},
		// pgbouncer 13a344f2 src/client.c:1305 (1.18.0: :757): client_tls_sslmode=require.
		{"PgBouncer SSL required", "PgBouncer", "FATAL", "08P01", "SSL required", beforeAuth, "client_tls_sslmode"},
		// pgbouncer 13a344f2 src/objects.c:2046 (1.18.0: :1464) finish_client_login.
		{"PgBouncer database disabled", "PgBouncer", "FATAL", "08P01", `database "app" is disabled`, duringAuth, "ENABLE"},
		// pgbouncer 13a344f2 src/objects.c:881 check_fast_fail.
		{"PgBouncer server login failing", "PgBouncer", "FATAL", "08P01", `server login has been failing, cached error: connect failed (server_login_retry)`, duringAuth, "server_login_retry"},
		// pgbouncer before 1.17 (src/objects.c, replaced by commit ab795716).
		{"PgBouncer cannot connect (<1.17)", "PgBouncer", "FATAL", "08P01", "pgbouncer cannot connect to server", duringAuth, "[databases] entry"},
		// pgbouncer 13a344f2 src/janitor.c:464.
		{"PgBouncer query_wait_timeout", "PgBouncer", "FATAL", "08P01", "query_wait_timeout", afterAuth, "default_pool_size"},
		// supabase/supavisor 03e5cc56 (v2.9.5-55) lib/supavisor/errors/tenant_or_user_not_found_error.ex,
		// FATAL and XX000 from lib/supavisor/error.ex.
		{"Supavisor tenant/user", "Supavisor", "FATAL", "XX000", "(ENOTFOUND) tenant/user postgres.abcdefghij not found", beforeAuth, "USER.PROJECT_REF"},
		// supavisor 85acdde2 (v2.8.8-39) lib/supavisor/client_handler/error.ex.
		{"Supavisor tenant or user (<2.8)", "Supavisor", "FATAL", "XX000", "Tenant or user not found", beforeAuth, "USER.PROJECT_REF"},
		// supavisor 03e5cc56 lib/supavisor/errors/max_connections_error.ex.
		{"Supavisor max clients", "Supavisor", "FATAL", "XX000", "(EMAXCONNSESSION) max clients reached in session mode - max clients are limited to pool_size: 15", beforeAuth, "Pool Size"},
		// neondatabase/neon 6a35a3e9 proxy/src/auth/mod.rs:51; ERROR and
		// XX000 from proxy/src/stream.rs throw_error, proxy/src/pqproto.rs.
		{"Neon endpoint", "Neon's proxy", "ERROR", "XX000", "Endpoint ID is not specified. Either please upgrade the postgres client library (libpq) for SNI support or pass the endpoint ID (first part of the domain name) as a parameter: '?options=endpoint%3D<endpoint-id>'. See more at https://neon.tech/sni", beforeAuth, "options=endpoint%3DENDPOINT_ID"},
		// neon 6a35a3e9 proxy/src/compute/mod.rs:33 COULD_NOT_CONNECT.
		{"Neon compute", "Neon's proxy", "ERROR", "XX000", "Couldn't connect to compute node", duringAuth, "connect_timeout"},
		// neon 6a35a3e9 proxy/src/auth/mod.rs:64.
		{"Neon password", "Neon's proxy", "ERROR", "XX000", "password authentication failed for user 'neondb_owner'", duringAuth, "Neon console"},
		// AWS "Troubleshooting for RDS Proxy" (awsdocs/amazon-rds-user-guide
		// doc_source/rds-proxy.troubleshooting.md, 0219b24f); no SQLSTATE documented.
		{"RDS Proxy no credentials", "RDS Proxy", "FATAL", "XX000", "This RDS proxy has no credentials for the role postgres. Check the credentials for this role and try again.", duringAuth, "Secrets Manager"},
		{"RDS Proxy requires TLS", "RDS Proxy", "FATAL", "XX000", "This RDS Proxy requires TLS connections.", beforeAuth, "sslmode=require"},
		{"RDS Proxy IAM", "RDS Proxy", "FATAL", "XX000", "IAM authentication failed for user app. Check the IAM token for this user and try again.", duringAuth, "generate-db-auth-token"},
		// postgresml/pgcat 5b038813 src/client.rs:563; FATAL and 58000 from
		// src/messages.rs error_response_terminal.
		{"pgcat no pool", "pgcat", "FATAL", "58000", `No pool configured for database: "app", user: "x"`, beforeAuth, "pgcat.toml"},
		// pgcat 5b038813 src/client.rs:729.
		{"pgcat pool down", "pgcat", "FATAL", "58000", `Pool down for database: "app", user: "x"`, duringAuth, "shards"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			port := poolerServer(t, tc.when, &pgproto3.ErrorResponse{Severity: tc.severity, SeverityUnlocalized: tc.severity, Code: tc.code, Message: tc.msg})
			target := fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=app password=secret", port)
			r := pgprobe(t, nil, "-o", "json", target)
			mustCode(t, r, 1)
			mustEqual(t, r, "error.sqlstate", tc.code)
			advice, _ := get(r.doc, "error.advice").(string)
			for _, want := range []string{tc.pooler, "pooler or proxy", "not proven", tc.fix} {
				if !strings.Contains(advice, want) {
					t.Errorf("advice should contain %q:\n%s", want, advice)
				}
			}
		})
	}
	t.Run("PgBouncer server_version on success", func(t *testing.T) {
		// PgBouncer's admin console: pgbouncer 13a344f2 src/admin.c:1905
		// sends server_version PACKAGE_VERSION "/bouncer".
		port := testServer(t, server.Config{Auth: server.AuthTrust, Then: server.ThenOK, ServerVersion: "1.25.2/bouncer", Timeout: 10 * time.Second})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=pgbouncer", port))
		mustCode(t, r, 0)
		if w := fmt.Sprint(get(r.doc, "warnings")); !strings.Contains(w, "PgBouncer") || !strings.Contains(w, "not that the database behind it is up") {
			t.Errorf("warnings should say PgBouncer answered and the database was not proven: %s", w)
		}
		// The timeline shows it too.
		r = pgprobe(t, nil, fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=pgbouncer", port))
		if !strings.Contains(r.stdout+r.stderr, "PgBouncer") {
			t.Errorf("the timeline should name PgBouncer:\n%s%s", r.stdout, r.stderr)
		}
	})
	t.Run("plain PostgreSQL is no pooler", func(t *testing.T) {
		port := testServer(t, server.Config{Auth: server.AuthTrust, Then: server.ThenOK, Timeout: 10 * time.Second})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=neondb", port))
		mustCode(t, r, 0)
		mustEqual(t, r, "warnings", nil)
	})
	t.Run("PostgreSQL's own password error is no pooler", func(t *testing.T) {
		port := poolerServer(t, duringAuth, &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28P01", Message: `password authentication failed for user "x"`})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=app password=secret", port))
		mustCode(t, r, 1)
		if advice, _ := get(r.doc, "error.advice").(string); strings.Contains(advice, "pooler") {
			t.Errorf("advice names a pooler:\n%s", advice)
		}
	})
}

// startPgBouncer runs the machine's real PgBouncer (Debian 12's package,
// 1.18; scripts/test.sh installs it, and a missing binary fails the test)
// on a free loopback port with auth_type = trust and an auth_file that
// lists only the user "known", who is also an admin_users user. Its
// [databases] entry app points at a port where nothing listens; live, when
// livePort is not 0, at the database postgres on that port. PgBouncer
// refuses to run as root, so as root it runs as the postgres OS user, like
// pgtest's servers.
func startPgBouncer(t *testing.T, livePort int) int {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer" // Debian's, off an ordinary user's PATH
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("pgbouncer not found on PATH nor at %s: run scripts/test.sh, which installs Debian's pgbouncer package", bin)
		}
	}
	cred := pgtest.ServerCredential(t) // pgbouncer refuses to run as root too
	// Not t.TempDir: the postgres user must be able to reach the directory.
	dir, err := os.MkdirTemp("", "pgprobe-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port, nowhere := pgtest.FreePort(t), pgtest.FreePort(t)
	live := ""
	if livePort != 0 {
		live = fmt.Sprintf("live = host=127.0.0.1 port=%d dbname=postgres", livePort)
	}
	files := map[string]string{
		"userlist.txt": `"known" ""` + "\n",
		"pgbouncer.ini": fmt.Sprintf(`[databases]
app = host=127.0.0.1 port=%d dbname=app
%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = known
logfile = %s
pidfile =
`, nowhere, live, port, filepath.Join(dir, "userlist.txt"), filepath.Join(dir, "pgbouncer.log")),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, "userlist.txt"), filepath.Join(dir, "pgbouncer.ini")} {
		if err := os.Chmod(p, map[bool]os.FileMode{true: 0o755, false: 0o644}[p == dir]); err != nil {
			t.Fatal(err)
		}
		if err := pgtest.ChownTo(p, cred); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Ready once PgBouncer itself logs that it listens on port (pgbouncer
	// src/pooler.c: "listening on %s"), not merely when something accepts
	// there: FreePort's port may have been taken in the meantime by another
	// test's server, and then pgbouncer exits with "cannot listen" while a
	// dial would still succeed. An exit is checked before anything else.
	logfile := filepath.Join(dir, "pgbouncer.log")
	listening := []byte(fmt.Sprintf("listening on 127.0.0.1:%d", port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logfile)
			t.Fatalf("pgbouncer exited (%v) before it listened:\n%s%s", err, out.String(), log)
		default:
		}
		if log, _ := os.ReadFile(logfile); bytes.Contains(log, listening) {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				return port
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logfile)
			t.Fatalf("pgbouncer did not log %q within 15s:\n%s", listening, log)
		}
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestPoolerRealPgBouncer: the advice for what a real PgBouncer answers
// names PgBouncer and its own fix, and does not blame the client library
// (08P01 is the code PgBouncer sends for all its errors: 1.18's
// src/proto.c send_pooler_error). psql, the oracle, gets the same message.
func TestPoolerRealPgBouncer(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{HBA: []string{"host all all 127.0.0.1/32 trust"}, Roles: []pgtest.Role{{Name: "known"}}})
	port := startPgBouncer(t, pg.Port)
	target := func(user, db string) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable connect_timeout=10", port, user, db)
	}
	for _, tc := range []struct {
		name, user, db, msg string
		fix                 []string
	}{
		// pgbouncer_1_18_0 src/client.c:262 (13a344f2: :439): trust, but the
		// user is not in auth_file.
		{"trust, user not in auth_file", "nobody", "app", `"trust" authentication failed`, []string{"auth_file", "trust"}},
		// pgbouncer_1_18_0 src/objects.c finish_client_login (13a344f2: :2041).
		{"no such database", "known", "nosuchdb", "no such database: nosuchdb", []string{"[databases]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pgprobe(t, nil, "-o", "json", target(tc.user, tc.db))
			mustCode(t, r, 1)
			mustEqual(t, r, "error.sqlstate", "08P01")
			mustEqual(t, r, "error.severity", "FATAL")
			if msg, _ := get(r.doc, "error.message").(string); !strings.HasSuffix(msg, "FATAL:  "+tc.msg) {
				t.Errorf("error.message = %q, want it to end with PgBouncer's %q", msg, tc.msg)
			}
			advice, _ := get(r.doc, "error.advice").(string)
			for _, want := range append([]string{"PgBouncer", "pooler or proxy", "not proven"}, tc.fix...) {
				if !strings.Contains(advice, want) {
					t.Errorf("advice should contain %q:\n%s", want, advice)
				}
			}
			for _, bad := range []string{"client library", "broke the protocol", "pg_hba.conf"} {
				if strings.Contains(advice, bad) {
					t.Errorf("advice should not say %q:\n%s", bad, advice)
				}
			}
			if out, code := pgtest.RunPsql(t, target(tc.user, tc.db), ""); code != 2 || !strings.Contains(out, "FATAL:  "+tc.msg) {
				t.Errorf("psql (exit %d) says %q, want exit 2 and %q", code, out, tc.msg)
			}
		})
	}
	t.Run("through to PostgreSQL", func(t *testing.T) {
		// PgBouncer passes the server's ParameterStatus on (server_version
		// is PostgreSQL's), but makes up the BackendKeyData: pgbouncer_1_18_0
		// src/client.c sends client->cancel_key, 8 random bytes
		// (13a344f2: src/objects.c, get_random_bytes).
		// Straight to PostgreSQL, the pid is a real one and nothing is said.
		direct := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=known dbname=postgres", pg.Port))
		mustCode(t, direct, 0)
		if w := fmt.Sprint(get(direct.doc, "warnings")); strings.Contains(w, "backend_pid") {
			t.Errorf("a direct connection was taken for a pooler's: %s", w)
		}
		// A random pid is at most MaxOSPid about once in 1024 logins, and
		// PgBouncer makes a new key for every client: retry a few times,
		// and fail (not pass in silence) if the pid always looks real.
		for try := 1; ; try++ {
			r := pgprobe(t, nil, "-o", "json", target("known", "live"))
			mustCode(t, r, 0)
			if v, _ := get(r.doc, "attempts.0.server.parameters.server_version").(string); !strings.HasPrefix(v, "15.") {
				t.Errorf("server_version = %q, want PostgreSQL's, passed on", v)
			}
			pid, _ := get(r.doc, "attempts.0.server.backend_pid").(float64)
			w := fmt.Sprint(get(r.doc, "warnings"))
			t.Logf("through PgBouncer, try %d: backend_pid %.0f, warnings %s", try, pid, w)
			if pid > diagnose.MaxOSPid {
				if !strings.Contains(w, "backend_pid") || !strings.Contains(w, "pooler") {
					t.Errorf("backend_pid %.0f is no process id, and the warnings should say a pooler answered: %s", pid, w)
				}
				break
			}
			if strings.Contains(w, "backend_pid") {
				t.Errorf("backend_pid %.0f can be a process id, yet the warnings call it made up: %s", pid, w)
			}
			if try == 3 {
				t.Fatalf("backend_pid was at most %d (diagnose.MaxOSPid) on %d logins through PgBouncer: a random key does that about once in a billion times, so PgBouncer seems to pass the server's real process id on, and the made-up-key warning went unchecked", diagnose.MaxOSPid, try)
			}
		}
	})
	t.Run("admin console", func(t *testing.T) {
		// pgbouncer_1_18_0 src/admin.c sends server_version
		// PACKAGE_VERSION "/bouncer" (13a344f2: :1905).
		r := pgprobe(t, nil, "-o", "json", target("known", "pgbouncer"))
		mustCode(t, r, 0)
		if v, _ := get(r.doc, "attempts.0.server.parameters.server_version").(string); !strings.HasSuffix(v, "/bouncer") {
			t.Errorf("server_version = %q, want PgBouncer's VERSION/bouncer", v)
		}
		if w := fmt.Sprint(get(r.doc, "warnings")); !strings.Contains(w, "PgBouncer") || !strings.Contains(w, "not that the database behind it is up") {
			t.Errorf("warnings should say PgBouncer answered and the database was not proven: %s", w)
		}
	})
}
