//go:build unix

package main

// End-to-end tests: the pgprobe command against real PostgreSQL 15 servers
// started by the tests, with psql and pg_isready as the oracle for what
// libpq does with the same settings.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

const (
	scramPW = "scram-secret-Ω1"
	md5PW   = "md5-secret-Ω2"
	sslPW   = "sslonly-secret-Ω3"
	nosslPW = "nossl-secret-Ω4"
)

var roles = []pgtest.Role{
	{Name: "scramuser", Password: scramPW},
	{Name: "md5user", Password: md5PW, Encryption: "md5"},
	{Name: "sslonly", Password: sslPW},
	{Name: "nossl", Password: nosslPW},
	{Name: "trustuser"},
	{Name: "nohba"},
}

var hba = []string{
	"local all all trust",
	"hostssl all sslonly 127.0.0.1/32 scram-sha-256",
	"hostnossl all nossl 127.0.0.1/32 scram-sha-256",
	"host all scramuser 127.0.0.1/32 scram-sha-256",
	"host all md5user 127.0.0.1/32 md5",
	"host all trustuser 127.0.0.1/32 trust",
	"host all sslonly ::1/128 scram-sha-256",
}

// sslServer starts a server with SSL on and the role matrix; it stops when
// the test ends. A start takes about half a second.
func sslServer(t *testing.T) *pgtest.Cluster {
	t.Helper()
	return pgtest.Start(t, pgtest.Options{SSL: true, HBA: hba, Roles: roles})
}

// plainServer has ssl=off.
func plainServer(t *testing.T) *pgtest.Cluster {
	t.Helper()
	return pgtest.Start(t, pgtest.Options{SSL: false, HBA: hba, Roles: roles})
}

// result is one run of the command.
type result struct {
	code   int
	stdout string
	stderr string
	doc    map[string]any
}

// pgprobe runs the command in-process with an isolated environment: HOME is
// an empty directory (no ~/.pgpass, no ~/.postgresql/root.crt) and only the
// PG* variables given are set. COLUMNS=200 keeps most text on one line, so
// that a test can look for a phrase (e2e_terminal_test.go tests the
// layout).
func pgprobe(t *testing.T, envVars map[string]string, args ...string) result {
	t.Helper()
	vars := map[string]string{"HOME": t.TempDir(), "NO_COLOR": "1", "COLUMNS": "200"}
	for k, v := range envVars {
		vars[k] = v
	}
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(vars["STDIN"]), Stdout: &out, Stderr: &errb, NoTTY: true,
		Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	code := runEnv(e, append([]string{"pgprobe"}, args...))
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") && !strings.Contains(strings.TrimSpace(r.stdout), "\n{") {
		if err := json.Unmarshal(out.Bytes(), &r.doc); err != nil {
			t.Fatalf("output is not one JSON document: %v\n%s", err, r.stdout)
		}
	}
	return r
}

// jq-like access: path "attempts.0.tls.version".
func get(doc any, path string) any {
	cur := doc
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func attempts(r result) []any {
	a, _ := get(r.doc, "attempts").([]any)
	return a
}

func mustCode(t *testing.T, r result, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

func mustEqual(t *testing.T, r result, path string, want any) {
	t.Helper()
	if got := get(r.doc, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf(".%s = %v, want %v\n%s", path, got, want, r.stdout)
	}
}

func states(r result, attempt int) []string {
	var out []string
	evs, _ := get(r.doc, fmt.Sprintf("attempts.%d.events", attempt)).([]any)
	for _, e := range evs {
		out = append(out, fmt.Sprint(get(e, "state")))
	}
	return out
}

func steps(r result, attempt int) []string {
	var out []string
	evs, _ := get(r.doc, fmt.Sprintf("attempts.%d.events", attempt)).([]any)
	for _, e := range evs {
		out = append(out, fmt.Sprint(get(e, "step")))
	}
	return out
}

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func conn(c *pgtest.Cluster, kv ...string) string {
	return c.ConnString(kv...)
}

func TestSCRAMOverTLS13(t *testing.T) {
	c := sslServer(t)
	// channel_binding=disable: plain SCRAM-SHA-256 over TLS.
	r := pgprobe(t, nil, "-o", "json", conn(c, "user=scramuser", "dbname=postgres", "sslmode=require", "channel_binding=disable", "password="+scramPW))
	mustCode(t, r, 0)
	mustEqual(t, r, "ok", true)
	mustEqual(t, r, "attempts.0.ssl_response", "S")
	mustEqual(t, r, "attempts.0.tls.version", "TLSv1.3")
	mustEqual(t, r, "attempts.0.auth.method", "scram-sha-256")
	mustEqual(t, r, "attempts.0.auth.channel_binding", false)
	if v, _ := get(r.doc, "attempts.0.server.parameters.server_version").(string); !strings.HasPrefix(v, "15") {
		t.Errorf("server_version = %q", v)
	}
	if pid, _ := get(r.doc, "attempts.0.server.backend_pid").(float64); pid <= 0 {
		t.Errorf("backend_pid = %v", pid)
	}
	want := []string{"CONNECTION_STARTED", "CONNECTION_MADE", "CONNECTION_SSL_STARTUP", "CONNECTION_AWAITING_RESPONSE", "CONNECTION_AUTH_OK", "CONNECTION_OK"}
	if got := states(r, 0); !inOrder(got, want) {
		t.Errorf("states %v do not contain %v in order", got, want)
	}

	// The default, channel_binding=prefer, uses SCRAM-SHA-256-PLUS as libpq does.
	r = pgprobe(t, nil, "-o", "json", conn(c, "user=scramuser", "dbname=postgres", "sslmode=require", "password="+scramPW))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.method", "scram-sha-256-plus")
	mustEqual(t, r, "attempts.0.auth.channel_binding", true)
}

func TestMD5AndTrust(t *testing.T) {
	c := sslServer(t)
	r := pgprobe(t, nil, "-o", "json", conn(c, "user=md5user", "dbname=postgres", "sslmode=disable", "password="+md5PW))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.method", "md5")
	mustEqual(t, r, "attempts.0.ssl_response", nil)
	r = pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres"))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.method", "trust")
}

func TestSSLOffServer(t *testing.T) {
	c := plainServer(t)
	r := pgprobe(t, nil, "-o", "json", conn(c, "user=scramuser", "dbname=postgres", "sslmode=prefer", "password="+scramPW))
	mustCode(t, r, 0)
	if n := len(attempts(r)); n != 1 {
		t.Errorf("%d attempts, want 1 (prefer after 'N' continues on the same connection)", n)
	}
	mustEqual(t, r, "attempts.0.ssl_response", "N")
	mustEqual(t, r, "attempts.0.tls", nil)
	mustEqual(t, r, "attempts.0.encryption", "plaintext")

	target := conn(c, "user=scramuser", "dbname=postgres", "sslmode=require", "password="+scramPW)
	r = pgprobe(t, nil, "-o", "json", target)
	mustCode(t, r, 2)
	mustEqual(t, r, "error.class", "ssl")
	msg, _ := get(r.doc, "error.message").(string)
	psqlOut, psqlCode := pgtest.RunPsql(t, target, "")
	if psqlCode == 0 {
		t.Fatalf("psql connected with sslmode=require to an ssl=off server: %s", psqlOut)
	}
	want := "server does not support SSL, but SSL was required"
	if !strings.Contains(msg, want) || !strings.Contains(psqlOut, want) {
		t.Errorf("message %q / psql %q: both should say %q", msg, psqlOut, want)
	}
	if !strings.Contains(psqlOut, msg) {
		t.Errorf("psql says %q; pgprobe's message %q should be part of it", psqlOut, msg)
	}
}

func TestFailures(t *testing.T) {
	c := sslServer(t)
	t.Run("wrong password", func(t *testing.T) {
		r := pgprobe(t, nil, "-o", "json", conn(c, "user=scramuser", "dbname=postgres", "password=wrong"))
		mustCode(t, r, 1)
		mustEqual(t, r, "error.sqlstate", "28P01")
		mustEqual(t, r, "error.class", "auth")
	})
	t.Run("no pg_hba entry", func(t *testing.T) {
		r := pgprobe(t, nil, "-o", "json", conn(c, "user=nohba", "dbname=postgres", "sslmode=require"))
		mustCode(t, r, 1)
		mustEqual(t, r, "error.sqlstate", "28000")
		advice, _ := get(r.doc, "error.advice").(string)
		if !strings.Contains(advice, "pg_hba.conf") || !strings.Contains(advice, "hostssl") {
			t.Errorf("advice should name a hostssl line in pg_hba.conf: %q", advice)
		}
		msg, _ := get(r.doc, "error.message").(string)
		if !strings.Contains(msg, "SSL encryption") {
			t.Errorf("message %q should keep the server's \"SSL encryption\"", msg)
		}
	})
	t.Run("refused port", func(t *testing.T) {
		port := pgtest.FreePort(t)
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x", port))
		mustCode(t, r, 2)
		mustEqual(t, r, "error.class", "connect")
		mustEqual(t, r, "attempts.0.error.errno", "ECONNREFUSED")
		out, _ := pgtest.RunPsql(t, fmt.Sprintf("host=127.0.0.1 port=%d user=x", port), "")
		msg, _ := get(r.doc, "error.message").(string)
		if !strings.Contains(out, msg) {
			t.Errorf("psql says %q; pgprobe's message %q should be part of it", out, msg)
		}
	})
	t.Run("invalid option value", func(t *testing.T) {
		r := pgprobe(t, nil, "-o", "json", conn(c, "sslmode=bogus"))
		mustCode(t, r, 3)
		mustEqual(t, r, "error.class", "usage")
		mustEqual(t, r, "error.message", `invalid sslmode value: "bogus"`)
		if len(attempts(r)) != 0 {
			t.Errorf("an invalid option must not make any attempt")
		}
	})
	t.Run("unknown flag", func(t *testing.T) {
		r := pgprobe(t, nil, "--bogus")
		mustCode(t, r, 3)
		if !strings.Contains(r.stderr, "bogus") {
			t.Errorf("stderr should name the flag: %q", r.stderr)
		}
	})
}

// psqlEncryption asks psql which encryption the session it finally got uses.
func psqlEncryption(t *testing.T, target string) string {
	t.Helper()
	out, code := pgtest.RunPsql(t, target, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")
	if code != 0 {
		t.Fatalf("psql %q failed (%d): %s", target, code, out)
	}
	if strings.TrimSpace(out) == "t" {
		return "ssl"
	}
	return "plaintext"
}

func TestSSLModeFallbacks(t *testing.T) {
	c := sslServer(t)
	t.Run("prefer with a hostnossl user", func(t *testing.T) {
		target := conn(c, "user=nossl", "dbname=postgres", "sslmode=prefer", "password="+nosslPW)
		r := pgprobe(t, nil, "-o", "json", target)
		mustCode(t, r, 0)
		if n := len(attempts(r)); n != 2 {
			t.Fatalf("%d attempts, want 2\n%s", n, r.stdout)
		}
		mustEqual(t, r, "attempts.0.encryption", "ssl")
		mustEqual(t, r, "attempts.0.error.sqlstate", "28000")
		mustEqual(t, r, "attempts.1.encryption", "plaintext")
		mustEqual(t, r, "attempts.1.ok", true)
		if got := psqlEncryption(t, target); got != "plaintext" {
			t.Errorf("psql ended on %s, pgprobe on plaintext", got)
		}
	})
	t.Run("allow with a hostssl user", func(t *testing.T) {
		target := conn(c, "user=sslonly", "dbname=postgres", "sslmode=allow", "password="+sslPW)
		r := pgprobe(t, nil, "-o", "json", target)
		mustCode(t, r, 0)
		if n := len(attempts(r)); n != 2 {
			t.Fatalf("%d attempts, want 2\n%s", n, r.stdout)
		}
		mustEqual(t, r, "attempts.0.encryption", "plaintext")
		mustEqual(t, r, "attempts.0.ssl_response", nil)
		mustEqual(t, r, "attempts.1.encryption", "ssl")
		mustEqual(t, r, "attempts.1.ssl_response", "S")
		if got := psqlEncryption(t, target); got != "ssl" {
			t.Errorf("psql ended on %s, pgprobe on ssl", got)
		}
	})
}

func TestUnixSocket(t *testing.T) {
	c := sslServer(t)
	r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=%s port=%d user=trustuser dbname=postgres sslmode=prefer", c.SocketDir, c.Port))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.network", "unix")
	mustEqual(t, r, "attempts.0.ssl_response", nil)
	for _, s := range steps(r, 0) {
		if s == "ssl_request" {
			t.Errorf("an SSLRequest was sent over a Unix socket")
		}
	}
}

func TestVerifyFull(t *testing.T) {
	c := sslServer(t)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			target := fmt.Sprintf("host=%s port=%d user=scramuser dbname=postgres password=%s sslmode=verify-full sslrootcert=%s", host, c.Port, scramPW, c.CAFile)
			r := pgprobe(t, nil, "-o", "json", target)
			mustCode(t, r, 0)
			last := len(attempts(r)) - 1
			mustEqual(t, r, fmt.Sprintf("attempts.%d.tls.verified", last), true)
			if _, code := pgtest.RunPsql(t, target, ""); code != 0 {
				t.Errorf("psql disagrees: exit %d", code)
			}
		})
	}
	t.Run("untrusted CA", func(t *testing.T) {
		other := pgtest.NewCA(t, "Some Other CA")
		caFile := pgtest.WriteFile(t, t.TempDir(), "other.crt", other.CertPEM, 0o644)
		target := fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser dbname=postgres password=%s sslmode=verify-full sslrootcert=%s", c.Port, scramPW, caFile)
		r := pgprobe(t, nil, "-o", "json", target)
		mustCode(t, r, 2)
		mustEqual(t, r, "error.class", "tls")
		msg, _ := get(r.doc, "error.message").(string)
		out, code := pgtest.RunPsql(t, target, "")
		if code == 0 || !strings.Contains(out, "certificate verify failed") || !strings.Contains(msg, "certificate verify failed") {
			t.Errorf("psql (%d) %q and pgprobe %q should both say certificate verify failed", code, out, msg)
		}
	})
	t.Run("root.crt in HOME makes require verify", func(t *testing.T) {
		home := t.TempDir()
		other := pgtest.NewCA(t, "Some Other CA")
		if err := os.MkdirAll(filepath.Join(home, ".postgresql"), 0o700); err != nil {
			t.Fatal(err)
		}
		pgtest.WriteFile(t, filepath.Join(home, ".postgresql"), "root.crt", other.CertPEM, 0o644)
		target := fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser dbname=postgres password=%s sslmode=require", c.Port, scramPW)
		r := pgprobe(t, map[string]string{"HOME": home}, "-o", "json", target)
		mustCode(t, r, 2)
		mustEqual(t, r, "error.class", "tls")
	})
}

func TestPingMatchesPgIsready(t *testing.T) {
	c := sslServer(t)
	p := plainServer(t)
	refused := pgtest.FreePort(t)
	cases := []struct {
		name string
		dsn  string
	}{
		{"accepting", conn(c, "user=scramuser", "dbname=postgres")},
		{"refused port", fmt.Sprintf("host=127.0.0.1 port=%d user=x", refused)},
		{"no pg_hba entry", conn(c, "user=nohba", "dbname=postgres")},
		{"SSL required but refused", conn(p, "user=scramuser", "dbname=postgres", "sslmode=require")},
		{"unknown user", conn(c, "user=nosuchuser", "dbname=postgres")},
		{"invalid option", conn(c, "sslmode=bogus")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, want := pgtest.RunPgIsready(t, []string{"-d", tc.dsn})
			r := pgprobe(t, nil, "--ping", "-o", "json", tc.dsn)
			if r.code != want {
				t.Errorf("pgprobe --ping exit %d, pg_isready %d\n%s", r.code, want, r.stdout)
			}
		})
	}
}

func TestNoPasswordInOutput(t *testing.T) {
	c := sslServer(t)
	home := t.TempDir()
	pgpass := fmt.Sprintf("127.0.0.1:%d:*:scramuser:%s\n", c.Port, scramPW)
	pgtest.WriteFile(t, home, ".pgpass", []byte(pgpass), 0o600)
	wrongHome := t.TempDir()
	pgtest.WriteFile(t, wrongHome, ".pgpass", []byte(fmt.Sprintf("127.0.0.1:%d:*:scramuser:wrong-pgpass-Ω5\n", c.Port)), 0o600)

	type source struct {
		name   string
		env    map[string]string
		target string
		secret string
	}
	uri := func(pw string) string {
		return fmt.Sprintf("postgresql://scramuser:%s@127.0.0.1:%d/postgres", strings.ReplaceAll(pw, "Ω", "%CE%A9"), c.Port)
	}
	sources := []source{
		{"PGPASSWORD ok", map[string]string{"PGPASSWORD": scramPW}, conn(c, "user=scramuser", "dbname=postgres"), scramPW},
		{"PGPASSWORD wrong", map[string]string{"PGPASSWORD": "wrong-env-Ω6"}, conn(c, "user=scramuser", "dbname=postgres"), "wrong-env-Ω6"},
		{"URI ok", nil, uri(scramPW), scramPW},
		{"URI wrong", nil, uri("wrong-uri-Ω7"), "wrong-uri-Ω7"},
		{"conninfo wrong", nil, conn(c, "user=scramuser", "dbname=postgres", "password=wrong-kv-Ω8"), "wrong-kv-Ω8"},
		{"pgpass ok", map[string]string{"HOME": home}, conn(c, "user=scramuser", "dbname=postgres"), scramPW},
		{"pgpass wrong", map[string]string{"HOME": wrongHome}, conn(c, "user=scramuser", "dbname=postgres"), "wrong-pgpass-Ω5"},
	}
	for _, s := range sources {
		for _, out := range []string{"timeline", "json", "ndjson", "table"} {
			for _, extra := range [][]string{nil, {"-v"}, {"--color", "always"}} {
				args := append([]string{"-o", out}, extra...)
				args = append(args, s.target)
				r := pgprobe(t, s.env, args...)
				if r.code != 0 && r.code != 1 {
					t.Errorf("%s -o %s: exit %d\n%s%s", s.name, out, r.code, r.stdout, r.stderr)
				}
				for _, leak := range []string{s.secret, strings.ReplaceAll(s.secret, "Ω", "%CE%A9")} {
					if strings.Contains(r.stdout, leak) || strings.Contains(r.stderr, leak) {
						t.Errorf("%s -o %s %v: the password appears in the output:\n%s\n%s", s.name, out, extra, r.stdout, r.stderr)
					}
				}
			}
		}
	}
	// A fleet of them: the streamed fleet report of each format.
	var fleet []string
	var secrets []string
	for _, s := range sources {
		if s.env == nil {
			fleet = append(fleet, s.target)
			secrets = append(secrets, s.secret, strings.ReplaceAll(s.secret, "Ω", "%CE%A9"))
		}
	}
	if len(fleet) < 2 {
		t.Fatalf("the fleet case needs several targets with a password in them, has %d", len(fleet))
	}
	for _, out := range []string{"timeline", "json", "ndjson", "table"} {
		r := pgprobe(t, nil, append([]string{"-o", out, "-v"}, fleet...)...)
		for _, leak := range secrets {
			if strings.Contains(r.stdout+r.stderr, leak) {
				t.Errorf("fleet -o %s: the password %q appears in the output:\n%s\n%s", out, leak, r.stdout, r.stderr)
			}
		}
	}
	// And pgprobe settings, which shows every value.
	for _, s := range sources {
		for _, out := range []string{"table", "json"} {
			r := pgprobe(t, s.env, "settings", "-o", out, s.target)
			if strings.Contains(r.stdout+r.stderr, s.secret) {
				t.Errorf("settings %s -o %s shows the password:\n%s", s.name, out, r.stdout)
			}
		}
	}
}

func TestFlagsAfterTarget(t *testing.T) {
	c := sslServer(t)
	r := pgprobe(t, nil, conn(c, "user=trustuser", "dbname=postgres"), "-o", "json", "--color", "never")
	mustCode(t, r, 0)
	mustEqual(t, r, "schema", "pgprobe/v1")
	// psql's -h/-p/-U flags.
	r = pgprobe(t, nil, "-h", "127.0.0.1", "-p", fmt.Sprint(c.Port), "-U", "trustuser", "-d", "postgres", "-o", "json")
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.port", c.Port)
}

func TestPasswordPrompt(t *testing.T) {
	c := sslServer(t)
	r := pgprobe(t, map[string]string{"STDIN": scramPW + "\n"}, "-W", "-o", "json", conn(c, "user=scramuser", "dbname=postgres"))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.password_source", "prompt")
	if strings.Contains(r.stdout+r.stderr, scramPW) {
		t.Errorf("the prompted password appears in the output")
	}
	// Without -W there is no password: libpq's "no password supplied", exit 1.
	r = pgprobe(t, nil, "-o", "json", conn(c, "user=scramuser", "dbname=postgres"))
	mustCode(t, r, 1)
	mustEqual(t, r, "error.class", "auth")
	if msg, _ := get(r.doc, "error.message").(string); !strings.HasSuffix(msg, "fe_sendauth: no password supplied") {
		t.Errorf("message %q", msg)
	}
}

func TestEnvironment(t *testing.T) {
	c := sslServer(t)
	envs := map[string]string{
		"PGHOST": "localhost", "PGPORT": fmt.Sprint(c.Port), "PGUSER": "scramuser", "PGDATABASE": "postgres",
		"PGPASSWORD": scramPW, "PGSSLMODE": "verify-full", "PGSSLROOTCERT": c.CAFile,
		"PGCONNECT_TIMEOUT": "5", "PGAPPNAME": "from-env",
	}
	r := pgprobe(t, envs, "-o", "json")
	mustCode(t, r, 0)
	last := len(attempts(r)) - 1
	mustEqual(t, r, fmt.Sprintf("attempts.%d.sslmode", last), "verify-full")
	mustEqual(t, r, fmt.Sprintf("attempts.%d.tls.verified", last), true)
	evs, _ := get(r.doc, fmt.Sprintf("attempts.%d.events", last)).([]any)
	found := false
	for _, e := range evs {
		if get(e, "step") == "startup" && get(e, "data.application_name") == "from-env" {
			found = true
		}
	}
	if !found {
		t.Errorf("the startup message should carry application_name=from-env:\n%s", r.stdout)
	}
	// psql agrees that these settings connect.
	var list []string
	for k, v := range envs {
		list = append(list, k+"="+v)
	}
	if out, code := pgtest.RunPsql(t, "", "select 1", list...); code != 0 {
		t.Errorf("psql with the same environment: exit %d: %s", code, out)
	}
}

func TestPgpassPermissions(t *testing.T) {
	c := sslServer(t)
	home := t.TempDir()
	path := pgtest.WriteFile(t, home, ".pgpass", []byte(fmt.Sprintf("*:*:*:scramuser:%s\n", scramPW)), 0o644)
	target := conn(c, "user=scramuser", "dbname=postgres")
	r := pgprobe(t, map[string]string{"HOME": home}, "-o", "json", target)
	// libpq ignores a group- or world-readable password file, with a warning.
	mustCode(t, r, 1)
	warn := fmt.Sprint(get(r.doc, "warnings"))
	if !strings.Contains(warn, path) || !strings.Contains(warn, "group or world access") {
		t.Errorf("warnings %q should name %s", warn, path)
	}
	out, code := pgtest.RunPsql(t, target, "", "HOME="+home)
	if code != 2 || !strings.Contains(out, "group or world access") {
		t.Errorf("psql: exit %d %q", code, out)
	}
	r = pgprobe(t, map[string]string{"HOME": home}, target)
	if !strings.Contains(r.stdout, "group or world access") {
		t.Errorf("the timeline should show the warning:\n%s", r.stdout)
	}
}

func TestServerErrorsAndAdvice(t *testing.T) {
	c := sslServer(t)
	cases := []struct {
		name, target, class, sqlstate, advice string
		code                                  int
	}{
		{"unknown database", conn(c, "user=trustuser", "dbname=nosuchdb"), "server", "3D000", "createdb", 1},
		{"host-name mismatch", fmt.Sprintf("host=wrong.example hostaddr=127.0.0.1 port=%d user=trustuser dbname=postgres sslmode=verify-full sslrootcert=%s", c.Port, c.CAFile), "tls", "", "certificate", 2},
		{"name resolution", "host=nosuch.invalid port=5432 user=x", "dns", "", "", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := pgprobe(t, nil, "-o", "json", tc.target)
			mustCode(t, r, tc.code)
			mustEqual(t, r, "error.class", tc.class)
			if tc.sqlstate != "" {
				mustEqual(t, r, "error.sqlstate", tc.sqlstate)
			}
			advice, _ := get(r.doc, "error.advice").(string)
			if advice == "" || !strings.Contains(advice, tc.advice) {
				t.Errorf("advice %q should mention %q", advice, tc.advice)
			}
			msg, _ := get(r.doc, "error.message").(string)
			out, code := pgtest.RunPsql(t, tc.target, "")
			if code == 0 || !strings.Contains(out, msg) {
				t.Errorf("psql (exit %d) says %q\npgprobe says %q", code, out, msg)
			}
		})
	}
}

func TestTooManyConnections(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles, Conf: []string{"max_connections = 3", "superuser_reserved_connections = 2"}})
	// One ordinary backend fills the only non-reserved slot. Any other
	// connection (even a superuser's, or this probe's) can take the slot
	// for a moment, so holders are started until the probe meets 53300;
	// extra holders simply fail.
	var r result
	for try := 0; try < 50; try++ {
		pgtest.RunPsqlBackground(t, conn(c, "user=trustuser", "dbname=postgres"), "select pg_sleep(60)")
		time.Sleep(200 * time.Millisecond)
		if r = pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres")); r.code != 0 {
			break
		}
	}
	mustCode(t, r, 1)
	mustEqual(t, r, "error.sqlstate", "53300")
	if advice, _ := get(r.doc, "error.advice").(string); !strings.Contains(advice, "max_connections") {
		t.Errorf("advice %q should mention max_connections", advice)
	}
}

// noSecretSent checks that the record shows no auth_response step: the
// password never left the client.
func noSecretSent(t *testing.T, r result) {
	t.Helper()
	for i := range attempts(r) {
		for _, s := range steps(r, i) {
			if s == "auth_response" {
				t.Errorf("attempt %d sent an authentication response: %v", i, steps(r, i))
			}
		}
	}
}

func TestChannelBindingAndRequireAuth(t *testing.T) {
	c := sslServer(t)
	cases := []struct {
		name   string
		kv     []string
		code   int
		method string
		msg    string
	}{
		{"channel_binding=require over TLS", []string{"user=scramuser", "password=" + scramPW, "sslmode=require", "channel_binding=require"}, 0, "scram-sha-256-plus", ""},
		{"channel_binding=require without SSL", []string{"user=scramuser", "password=" + scramPW, "sslmode=disable", "channel_binding=require"}, 1, "", "channel binding required, but SSL not in use"},
		{"channel_binding=require against md5", []string{"user=md5user", "password=" + md5PW, "sslmode=require", "channel_binding=require"}, 1, "", "channel binding required but not supported by server's authentication request"},
		{"require_auth=md5 against SCRAM", []string{"user=scramuser", "password=" + scramPW, "require_auth=md5"}, 1, "", `authentication method requirement "md5" failed: server requested SASL authentication`},
		{"require_auth=scram-sha-256", []string{"user=scramuser", "password=" + scramPW, "require_auth=scram-sha-256"}, 0, "scram-sha-256-plus", ""},
		{"require_auth=!password against md5", []string{"user=md5user", "password=" + md5PW, "require_auth=!password"}, 0, "md5", ""},
		{"require_auth=scram-sha-256 against trust", []string{"user=trustuser", "require_auth=scram-sha-256"}, 1, "", `authentication method requirement "scram-sha-256" failed: server did not complete authentication`},
		{"require_auth=none against trust", []string{"user=trustuser", "require_auth=none"}, 0, "trust", ""},
		{"require_auth=!md5,!password against md5", []string{"user=md5user", "password=" + md5PW, "require_auth=!md5,!password"}, 1, "", `authentication method requirement "!md5,!password" failed: server requested a hashed password`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := conn(c, append([]string{"dbname=postgres"}, tc.kv...)...)
			r := pgprobe(t, nil, "-o", "json", target)
			mustCode(t, r, tc.code)
			// psql 15's libpq predates require_auth (PostgreSQL 16): it is the
			// oracle for channel_binding only; require_auth follows libpq 16+'s
			// check_expected_areq and its messages.
			out, code := tc.msg, tc.code
			if !strings.Contains(target, "require_auth") {
				out, code = pgtest.RunPsql(t, target, "")
			}
			if (code == 0) != (tc.code == 0) {
				t.Errorf("psql exit %d, pgprobe %d: %s", code, r.code, out)
			}
			if tc.code == 0 {
				last := len(attempts(r)) - 1
				mustEqual(t, r, fmt.Sprintf("attempts.%d.auth.method", last), tc.method)
				if tc.method == "scram-sha-256-plus" {
					mustEqual(t, r, fmt.Sprintf("attempts.%d.auth.channel_binding", last), true)
				}
				return
			}
			mustEqual(t, r, "error.class", "auth")
			noSecretSent(t, r)
			msg, _ := get(r.doc, "error.message").(string)
			if !strings.HasSuffix(msg, tc.msg) || !strings.Contains(out, tc.msg) {
				t.Errorf("pgprobe %q\npsql    %q\nwant    %q", msg, out, tc.msg)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	c := sslServer(t)
	// A certificate valid for 5 more days.
	cert, key := c.CA.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}, NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)})
	c.SetServerCert(t, cert, key)
	target := conn(c, "user=trustuser", "dbname=postgres", "sslmode=require")
	r := pgprobe(t, nil, "-o", "json", "--min-cert-days", "30", target)
	mustCode(t, r, 4)
	mustEqual(t, r, "error.class", "check")
	mustEqual(t, r, "attempts.0.tls.peer_certificates.0.days_left", 5)
	r = pgprobe(t, nil, "-o", "json", "--min-cert-days", "3", target)
	mustCode(t, r, 0)

	r = pgprobe(t, nil, "-o", "json", "--min-tls-version", "1.3", conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "ssl_max_protocol_version=TLSv1.2"))
	mustCode(t, r, 4)
	mustEqual(t, r, "attempts.0.tls.version", "TLSv1.2")
	mustEqual(t, r, "error.class", "check")
	r = pgprobe(t, nil, "-o", "json", "--min-tls-version", "1.2", conn(c, "user=trustuser", "dbname=postgres", "sslmode=disable"))
	mustCode(t, r, 4)
	r = pgprobe(t, nil, "--min-tls-version", "1.1", target)
	mustCode(t, r, 3)
	r = pgprobe(t, nil, "--min-cert-days", "many", target)
	mustCode(t, r, 3)
}

func TestSSLKeyLogFile(t *testing.T) {
	c := sslServer(t)
	path := filepath.Join(t.TempDir(), "keys.log")
	r := pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "sslkeylogfile="+path))
	mustCode(t, r, 0)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// TLS 1.3 in the NSS key log format: CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>, …
	if !strings.Contains(string(b), "CLIENT_TRAFFIC_SECRET_0 ") || !strings.Contains(string(b), "SERVER_HANDSHAKE_TRAFFIC_SECRET ") {
		t.Errorf("key log:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key log mode %v, want 0600", fi.Mode().Perm())
	}
}

// Malformed targets whose errors libpq words with a piece of the password
// (an unencoded '/' in a URI's password, '&' in a query's password, a space
// in an unquoted one): no output, in any format or under -q, holds it.
func TestNoPasswordInUsageErrors(t *testing.T) {
	for _, tc := range []struct{ target, secret string }{
		{"postgresql://u:Zq9a/Zq9b@h/d", "Zq9"},
		{"postgresql://me@corp.com:Zq9a@127.0.0.1/d", "Zq9"},
		{"postgresql://app:Zq9a@Zq9b@127.0.0.1:5432/d", "Zq9"},
		{"postgresql://me@corp.com:Zq9a/Zq9b@127.0.0.1/d", "Zq9"},
		{"postgresql://u:Zq9a Zq9b/x@h/d", "Zq9"},
		{"postgresql://u:Zq9%zz/x@h/d", "Zq9"},
		{"postgresql://h/d?password=Zq9a&Zq9b", "Zq9"},
		{"postgresql://h/d?sslpassword=Zq9a&Zq9b=1", "Zq9"},
		{"password=Zq9a Zq9b=c", "Zq9"},
		{"password=Zq9a Zq9b", "Zq9"},
		{"host=h password=Zq9a Zq9b sslmode=bogus", "Zq9"},
	} {
		for _, args := range [][]string{{"-q"}, {"-o", "json"}, {"-o", "ndjson"}, {"-o", "table"}, {"-v"}, {"-q", tc.target, "port=1"}} {
			r := pgprobe(t, nil, append(append([]string{"-t", "1"}, args...), tc.target)...)
			if r.code != 3 {
				t.Errorf("%q %q: exit %d, want 3 (bad settings)", tc.target, args, r.code)
			}
			if out := r.stdout + r.stderr; strings.Contains(out, tc.secret) {
				t.Errorf("%q %q: a piece of the password is in the output:\n%s", tc.target, args, out)
			}
		}
	}
}
