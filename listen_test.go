//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/libpqoracle"
	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestDemo runs `pgprobe demo` in every format: it needs no database, and
// nothing of the environment (PG* variables, HOME) changes what it does.
func TestDemo(t *testing.T) {
	hostile := map[string]string{"PGSSLMODE": "disable", "PGPASSWORD": "wrong", "PGHOST": "nowhere.invalid",
		"PGSERVICE": "nosuchservice", "PGCONNECT_TIMEOUT": "1"}
	r := pgprobe(t, hostile, "demo", "-o", "json")
	mustCode(t, r, 0)
	if r.doc == nil {
		t.Fatalf("not one JSON document:\n%s", r.stdout)
	}
	mustEqual(t, r, "schema", "pgprobe/v1")
	mustEqual(t, r, "ok", true)
	mustEqual(t, r, "attempts.0.ssl_response", "S")
	mustEqual(t, r, "attempts.0.tls.sni", "localhost")
	mustEqual(t, r, "attempts.0.auth.method", "scram-sha-256-plus")
	mustEqual(t, r, "attempts.0.auth.channel_binding", true)

	r = pgprobe(t, hostile, "demo")
	mustCode(t, r, 0)
	for _, want := range []string{"✓ connected", "CONNECTION_SSL_STARTUP", "What the server saw", "secure_open_server", "password checked matches"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("timeline lacks %q:\n%s", want, r.stdout)
		}
	}

	r = pgprobe(t, nil, "demo", "-o", "ndjson")
	mustCode(t, r, 0)
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	var last map[string]any
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
	}
	if last["type"] != "verdict" || last["ok"] != true {
		t.Errorf("last ndjson line %v", last)
	}

	r = pgprobe(t, nil, "demo", "-o", "table")
	mustCode(t, r, 0)
	r = pgprobe(t, nil, "demo", "-o", "yaml")
	mustCode(t, r, 3)
}

var listeningOn = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)

// listen runs `pgprobe listen --addr 127.0.0.1:0 ARGS…` in the background
// and returns its port and a function that waits for its exit code and
// output. If the command is still running after 30s, the wait connects
// once more to it (enough to reach any --count) before failing the test.
func listen(t *testing.T, args ...string) (port string, wait func() (int, string, string)) {
	t.Helper()
	var out, errb pgtest.SyncBuffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, NoTTY: true,
		Getenv: func(k string) (string, bool) {
			if k == "NO_COLOR" {
				return "1", true
			}
			return "", false
		}}
	done := make(chan int, 1)
	go func() { done <- runEnv(e, append([]string{"pgprobe", "listen", "--addr", "127.0.0.1:0"}, args...)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningOn.FindStringSubmatch(errb.String()); m != nil {
			port = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("listen exited %d before listening: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen did not start: %s", errb.String())
		}
	}
	var once sync.Once
	var code int
	wait = func() (int, string, string) {
		once.Do(func() {
			select {
			case code = <-done:
				return
			case <-time.After(30 * time.Second):
			}
			for i := 0; i < 100; i++ {
				if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
					c.Close()
				}
				select {
				case code = <-done:
					t.Errorf("listen did not stop by itself within 30s")
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
			t.Fatalf("listen does not stop")
		})
		return code, out.String(), errb.String()
	}
	t.Cleanup(func() { wait() })
	return port, wait
}

func TestListenPsqlSSLRequire(t *testing.T) {
	const pw = "app-password-Ω"
	port, wait := listen(t, "--ssl", "on", "--then", "ok", "-o", "ndjson", "--count", "1")
	out, code := pgtest.RunPsql(t, "host=localhost port="+port+" user=app dbname=appdb application_name=orders sslmode=require password="+pw, "")
	if code != 0 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	rc, stdout, stderr := wait()
	if rc != 0 {
		t.Fatalf("listen exit %d: %s", rc, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Fatalf("want one line for one client:\n%s", stdout)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"type": "session", "ssl_request": true, "ssl_response": "S", "tls.version": "TLSv1.3", "tls.sni": "localhost",
		"startup.parameters.user": "app", "startup.parameters.database": "appdb", "startup.parameters.application_name": "orders",
		"auth.method": "scram-sha-256-plus", "auth.password_received": true, "outcome": "ready",
	} {
		if got := get(doc, path); got != want {
			t.Errorf(".%s = %#v, want %#v", path, got, want)
		}
	}
	if strings.Contains(stdout+stderr, pw) {
		t.Errorf("the password is in the output")
	}
}

func TestListenSSLOff(t *testing.T) {
	port, wait := listen(t, "--ssl", "off", "-o", "json", "--count", "1")
	out, code := pgtest.RunPsql(t, "host=127.0.0.1 port="+port+" user=app sslmode=require", "")
	if code != 2 || !strings.Contains(out, "server does not support SSL, but SSL was required") {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	rc, stdout, stderr := wait()
	if rc != 0 {
		t.Fatalf("listen exit %d: %s", rc, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if get(doc, "ssl_response") != "N" || get(doc, "outcome") != "client_closed" {
		t.Errorf("ssl_response %v, outcome %v", get(doc, "ssl_response"), get(doc, "outcome"))
	}
}

func TestListenTimelineThenErrorAndUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgprobe-listen-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port, wait := listen(t, "--unix", dir, "--auth", "md5", "--count", "2")
	if _, err := os.Stat(filepath.Join(dir, ".s.PGSQL."+port)); err != nil {
		t.Fatal(err)
	}
	out, code := pgtest.RunPsql(t, "host="+dir+" port="+port+" user=sock password=md5-pw-x", "")
	if code != 2 || !strings.Contains(out, "pgprobe listen is not a database") {
		t.Fatalf("psql over the socket: exit %d: %s", code, out)
	}
	out, code = pgtest.RunPsql(t, "host=127.0.0.1 port="+port+" user=tcp sslmode=disable password=md5-pw-x", "")
	if code != 2 || !strings.Contains(out, "pgprobe listen is not a database") {
		t.Fatalf("psql over TCP: exit %d: %s", code, out)
	}
	rc, stdout, stderr := wait()
	if rc != 0 {
		t.Fatalf("listen exit %d: %s", rc, stderr)
	}
	for _, want := range []string{"client 1: [local]", "client 2: 127.0.0.1:", "ClientAuthentication", "AuthenticationMD5Password",
		"refused with a FATAL error (as configured)", `"sock"`, `"tcp"`, "password sent    yes (never recorded)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("timeline lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "md5-pw-x") || regexp.MustCompile(`md5[0-9a-f]{32}`).MatchString(stdout) {
		t.Errorf("a password or its hash is in the output:\n%s", stdout)
	}
	if strings.ContainsRune(stdout, 0x1b) {
		t.Errorf("colour with NO_COLOR set")
	}
	if _, err := os.Stat(filepath.Join(dir, ".s.PGSQL."+port)); err == nil {
		t.Errorf("the socket file outlived listen")
	}
}

// TestListenProtocol: listen shows the version a client asked for and
// what it granted, as PostgreSQL 15 to 17 (the default) or 18 (--protocol
// 3.2) would; libpq 18 is the client.
func TestListenProtocol(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"3.0", "protocol         3.2 asked, 3.0 granted (NegotiateProtocolVersion)"},
		{"3.2", "BackendKeyData: backend pid"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			port, wait := listen(t, "--ssl", "off", "--auth", "trust", "--then", "ok", "--protocol", tc.flag, "--count", "1")
			lib := libpqoracle.Connect(t, oracleVersion, "host=127.0.0.1 port="+port+" user=app sslmode=disable max_protocol_version=3.2")
			if !lib.OK || lib.FullProtocolVersion != 30000+int(tc.flag[2]-'0') {
				t.Errorf("libpq 18: %+v", lib)
			}
			rc, stdout, stderr := wait()
			if rc != 0 {
				t.Fatalf("listen exit %d: %s", rc, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("timeline lacks %q:\n%s", tc.want, stdout)
			}
			if tc.flag == "3.2" && (!strings.Contains(stdout, "32-byte cancel key") || strings.Contains(stdout, "granted")) {
				t.Errorf("3.2 granted as asked, with a 32-byte key:\n%s", stdout)
			}
		})
	}
}

func TestListenUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"listen", "--ssl", "maybe"},
		{"listen", "--auth", "ldap"},
		{"listen", "--then", "later"},
		{"listen", "--protocol", "3.1"},
		{"listen", "-o", "table"},
		{"listen", "--ssl", "off", "--direct-ssl"},
		{"listen", "--cert", "x.pem"},
		{"listen", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"},
		{"listen", "--addr", "nonsense"},
		{"listen", "--count", "-1"},
		{"listen", "extra-argument"},
		{"demo", "extra-argument"},
	} {
		r := pgprobe(t, nil, args...)
		if r.code != 3 {
			t.Errorf("%v: exit %d, want 3; stderr %s", args, r.code, r.stderr)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := pgprobe(t, nil, "listen", "--addr", ln.Addr().String())
	if r.code != 2 || !strings.Contains(r.stderr, "could not listen") {
		t.Errorf("address in use: exit %d, %s", r.code, r.stderr)
	}
}
