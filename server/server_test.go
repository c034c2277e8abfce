//go:build unix

package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

// testServer is a Server on a loopback port whose sessions arrive on a
// channel. It is closed (and its goroutines waited for) when the test ends.
type testServer struct {
	srv      *Server
	port     int
	sessions chan *statelog.Session
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{sessions: make(chan *statelog.Session, 64)}
	cfg.OnSession = func(s *statelog.Session) {
		select {
		case ts.sessions <- s:
		default: // a test that ignores its sessions must not block the server
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, ts.port = srv, ln.Addr().(*net.TCPAddr).Port
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// next waits for the next finished session.
func (ts *testServer) next(t *testing.T) *statelog.Session {
	t.Helper()
	select {
	case s := <-ts.sessions:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no session recorded within 20s")
		return nil
	}
}

func (ts *testServer) conninfo(extra ...string) string {
	return strings.Join(append([]string{"port=" + strconv.Itoa(ts.port)}, extra...), " ")
}

func noEnv(string) (string, bool) { return "", false }

// probeIt runs pgprobe's probe against target with a clean environment and
// streams its NDJSON into ndjson when not nil.
func probeIt(t *testing.T, target string, ndjson io.Writer) *statelog.Log {
	t.Helper()
	req := probe.Request{Input: conninfo.Input{Target: target, HomeDir: t.TempDir(), Getenv: noEnv}, Timeout: 15 * time.Second}
	var sink *statelog.NDJSONSink
	if ndjson != nil {
		sink = statelog.NewNDJSONSink(ndjson)
		req.Sink = sink
	}
	l := probe.Probe(context.Background(), req)
	if sink != nil {
		if err := sink.Verdict(l); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func wantError(t *testing.T, l *statelog.Log, class, msg string) {
	t.Helper()
	if l.Error == nil {
		t.Fatalf("no error; want %s %q", class, msg)
	}
	if l.Error.Class != class || !strings.Contains(l.Error.Message, msg) {
		t.Fatalf("error %s %q; want %s containing %q", l.Error.Class, l.Error.Message, class, msg)
	}
}

// samePsqlMessage checks that psql fails on target with the probe's words.
func samePsqlMessage(t *testing.T, target string, l *statelog.Log) {
	t.Helper()
	out, code := pgtest.RunPsql(t, target, "")
	if code != 2 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	if !strings.Contains(out, l.Error.Message) {
		t.Errorf("psql says %q\npgprobe says %q", out, l.Error.Message)
	}
}

// renderSession renders s in every format the CLI offers.
func renderSession(t *testing.T, s *statelog.Session) string {
	t.Helper()
	var b bytes.Buffer
	for _, color := range []bool{false, true} {
		if err := report.SessionTimeline(&b, s, report.Options{Color: color, Verbose: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := report.SessionJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	if err := report.SessionNDJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// renderLog renders a probe's record as timeline, JSON and table.
func renderLog(t *testing.T, l *statelog.Log) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.Timeline(&b, l, report.Options{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if err := report.JSON(&b, l); err != nil {
		t.Fatal(err)
	}
	if err := report.Table(&b, []*statelog.Log{l}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func wantNoSecret(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
	if m := regexp.MustCompile(`md5[0-9a-f]{32}`).FindString(out); m != "" {
		t.Errorf("%s shows an MD5 password hash %s", what, m)
	}
}

// sessionJSON round-trips s through its JSON form, as jq would see it.
func sessionJSON(t *testing.T, s *statelog.Session) map[string]any {
	t.Helper()
	var b bytes.Buffer
	if err := report.SessionNDJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("ndjson session is %d lines, want 1", n)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func jget(doc any, path string) any {
	cur := doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func TestServerPsqlSSLRequireThenOK(t *testing.T) {
	ts := startServer(t, Config{SSL: true, Then: ThenOK})
	out, code := pgtest.RunPsql(t, ts.conninfo("host=localhost", "user=alice", "dbname=appdb", "application_name=billing",
		"sslmode=require", "password=listen-secret-Ω"), "")
	if code != 0 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	s := ts.next(t)
	doc := sessionJSON(t, s)
	for path, want := range map[string]any{
		"ssl_request":                         true,
		"ssl_response":                        "S",
		"gss_request":                         false,
		"direct_tls":                          false,
		"tls.version":                         "TLSv1.3",
		"tls.sni":                             "localhost",
		"startup.protocol_version":            "3.0",
		"startup.parameters.user":             "alice",
		"startup.parameters.database":         "appdb",
		"startup.parameters.application_name": "billing",
		"auth.password_received":              true,
		"outcome":                             statelog.OutcomeReady,
		"error":                               nil,
	} {
		if got := jget(doc, path); got != want {
			t.Errorf(".%s = %#v, want %#v", path, got, want)
		}
	}
	if s.Auth.Method != "scram-sha-256-plus" || !s.Auth.ChannelBinding {
		t.Errorf("libpq binds the channel when -PLUS is offered over TLS: %+v", s.Auth)
	}
	if s.Auth.PasswordVerified != nil {
		t.Errorf("listen has no password to verify: %v", *s.Auth.PasswordVerified)
	}
	if len(s.TLS.VersionsOffered) == 0 || len(s.TLS.CiphersOffered) == 0 {
		t.Errorf("ClientHello not recorded: %+v", s.TLS)
	}
	if len(s.TLS.ALPNOffered) != 0 {
		t.Errorf("libpq 15 offers no ALPN, recorded %v", s.TLS.ALPNOffered)
	}
	wantNoSecret(t, "session", renderSession(t, s), "listen-secret-Ω")
	steps := map[string]bool{}
	for _, e := range s.Events {
		steps[e.State+"/"+e.Step] = true
	}
	for _, want := range []string{"BackendInitialize/connect", "ProcessStartupPacket/ssl_request", "ProcessStartupPacket/ssl_response",
		"secure_open_server/tls_handshake", "ProcessStartupPacket/startup", "ClientAuthentication/auth_request",
		"ClientAuthentication/auth_ok", "PostgresMain/ready_for_query", "PostgresMain/close", "proc_exit/close"} {
		if !steps[want] {
			t.Errorf("no %s event in %v", want, steps)
		}
	}
}

func TestServerPsqlSSLOff(t *testing.T) {
	ts := startServer(t, Config{SSL: false, Then: ThenOK})
	out, code := pgtest.RunPsql(t, ts.conninfo("host=127.0.0.1", "user=alice", "sslmode=require"), "")
	if code != 2 || !strings.Contains(out, "server does not support SSL, but SSL was required") {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	s := ts.next(t)
	if !s.SSLRequest || s.SSLResponse == nil || *s.SSLResponse != "N" {
		t.Errorf("ssl_request %v, ssl_response %v", s.SSLRequest, s.SSLResponse)
	}
	if s.Outcome != statelog.OutcomeClientClosed || s.Error == nil || !strings.Contains(s.Error.Message, "after 'N'") {
		t.Errorf("outcome %s, error %+v", s.Outcome, s.Error)
	}
	var tl bytes.Buffer
	if err := report.SessionTimeline(&tl, s, report.Options{}); err != nil {
		t.Fatal(err)
	}
	// Long details are wrapped to the width: compare the words.
	if !strings.Contains(strings.Join(strings.Fields(tl.String()), " "), "server does not support SSL, but SSL was required") {
		t.Errorf("the timeline should say what the client concluded:\n%s", tl.String())
	}

	// The probe, likewise.
	l := probeIt(t, ts.conninfo("host=127.0.0.1", "user=alice", "sslmode=require"), nil)
	wantError(t, l, statelog.ClassSSL, "server does not support SSL, but SSL was required")
	if s := ts.next(t); *s.SSLResponse != "N" {
		t.Errorf("ssl_response %q", *s.SSLResponse)
	}
}

func TestServerPasswordNeverInOutput(t *testing.T) {
	const pw = "hunter2-Ω-secret"
	for _, method := range []string{AuthPassword, AuthMD5, AuthSCRAMSHA256} {
		t.Run(method, func(t *testing.T) {
			ts := startServer(t, Config{SSL: true, Auth: method, Password: pw, Then: ThenOK})
			target := ts.conninfo("host=localhost", "user=bob", "dbname=app", "sslmode=require", "password="+pw)

			out, code := pgtest.RunPsql(t, target, "")
			if code != 0 {
				t.Fatalf("psql exit %d: %s", code, out)
			}
			check := func(who string, s *statelog.Session) {
				t.Helper()
				if s.Auth == nil || !s.Auth.PasswordReceived || s.Auth.PasswordVerified == nil || !*s.Auth.PasswordVerified {
					t.Fatalf("%s: auth %+v", who, s.Auth)
				}
				if got := jget(sessionJSON(t, s), "auth.password_received"); got != true {
					t.Errorf("%s: .auth.password_received = %v", who, got)
				}
				wantNoSecret(t, who+" session", renderSession(t, s), pw)
			}
			check("psql", ts.next(t))

			var nd bytes.Buffer
			l := probeIt(t, target, &nd)
			if !l.OK {
				t.Fatalf("probe: %+v", l.Error)
			}
			check("probe", ts.next(t))
			wantNoSecret(t, "probe record", renderLog(t, l)+nd.String(), pw)

			// A wrong password: FATAL 28P01, as PostgreSQL says it.
			wrong := ts.conninfo("host=localhost", "user=bob", "sslmode=require", "password=wrong-"+pw)
			l = probeIt(t, wrong, nil)
			wantError(t, l, statelog.ClassAuth, `password authentication failed for user "bob"`)
			s := ts.next(t)
			if s.Auth.PasswordVerified == nil || *s.Auth.PasswordVerified || s.Error == nil || s.Error.SQLState != "28P01" {
				t.Errorf("wrong password: auth %+v, error %+v", s.Auth, s.Error)
			}
			wantNoSecret(t, "wrong-password session", renderSession(t, s), pw)
			out, code = pgtest.RunPsql(t, wrong, "")
			if code != 2 || !strings.Contains(out, `password authentication failed for user "bob"`) {
				t.Errorf("psql with a wrong password: exit %d: %s", code, out)
			}
			wantNoSecret(t, "wrong-password psql session", renderSession(t, ts.next(t)), pw)
		})
	}
}

func TestServerListenAcceptsAnyPassword(t *testing.T) {
	// pgprobe listen knows no password: every method completes with
	// whatever the client sends, and says it could not check it.
	const pw = "whatever-the-app-has"
	for _, method := range []string{AuthPassword, AuthMD5, AuthSCRAMSHA256} {
		t.Run(method, func(t *testing.T) {
			ts := startServer(t, Config{SSL: false, Auth: method, Then: ThenOK})
			target := ts.conninfo("host=127.0.0.1", "user=carol", "sslmode=prefer", "password="+pw)
			out, code := pgtest.RunPsql(t, target, "")
			if code != 0 {
				t.Fatalf("psql exit %d: %s", code, out)
			}
			s := ts.next(t)
			if !s.Auth.PasswordReceived || s.Auth.PasswordVerified != nil || s.Auth.Method != method {
				t.Errorf("auth %+v", s.Auth)
			}
			wantNoSecret(t, "session", renderSession(t, s), pw)
			l := probeIt(t, target, nil)
			if !l.OK {
				t.Fatalf("probe: %+v", l.Error)
			}
			wantNoSecret(t, "probe", renderLog(t, l), pw)
			ts.next(t)
		})
	}
}

func TestServerThenError(t *testing.T) {
	ts := startServer(t, Config{SSL: true, Auth: AuthTrust})
	out, code := pgtest.RunPsql(t, ts.conninfo("host=localhost", "user=dave", "sslmode=require"), "")
	if code != 2 || !strings.Contains(out, "FATAL:  pgprobe listen is not a database") {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	s := ts.next(t)
	if s.Outcome != statelog.OutcomeRefused || s.Error != nil {
		t.Errorf("outcome %s, error %+v", s.Outcome, s.Error)
	}
	l := probeIt(t, ts.conninfo("host=localhost", "user=dave", "sslmode=require"), nil)
	if l.ExitCode != statelog.ExitRejected || l.Error.SQLState != "08004" {
		t.Errorf("probe: exit %d, %+v", l.ExitCode, l.Error)
	}
}

func TestServerSSLResponseE(t *testing.T) {
	ts := startServer(t, Config{SSL: true, Script: func(int) *Script {
		return &Script{Actions: []Action{{Step: statelog.StepSSLResponse, Replace: []byte("EFATAL:  sorry, too many clients already\n\x00")}}}
	}})
	target := ts.conninfo("host=127.0.0.1", "user=u", "sslmode=prefer")
	l := probeIt(t, target, nil)
	wantError(t, l, statelog.ClassSSL, "server sent an error response during SSL exchange")
	if !strings.Contains(l.Error.Untrusted, "too many clients") {
		t.Errorf("untrusted text %q", l.Error.Untrusted)
	}
	s := ts.next(t)
	if *s.SSLResponse != "E" || s.Outcome != statelog.OutcomeDropped {
		t.Errorf("ssl_response %q, outcome %s", *s.SSLResponse, s.Outcome)
	}
	samePsqlMessage(t, target, l)
	ts.next(t)
}

func TestServerBytesAfterS(t *testing.T) {
	// A man in the middle's AuthenticationOk, in the clear, right after 'S'.
	ts := startServer(t, Config{SSL: true, Then: ThenOK, Script: func(int) *Script {
		return &Script{Actions: []Action{{Step: statelog.StepSSLResponse, After: []byte("R\x00\x00\x00\x08\x00\x00\x00\x00")}}}
	}})
	target := ts.conninfo("host=127.0.0.1", "user=u", "sslmode=require")
	l := probeIt(t, target, nil)
	wantError(t, l, statelog.ClassSSL, "received unencrypted data after SSL response")
	s := ts.next(t)
	if *s.SSLResponse != "S" {
		t.Errorf("ssl_response %q", *s.SSLResponse)
	}
	samePsqlMessage(t, target, l)
	ts.next(t)
}

func TestServerSCRAMPlus(t *testing.T) {
	const pw = "plus-secret"
	for _, mechs := range [][]string{nil, {mechSCRAMPlus}} {
		t.Run(strings.Join(append([]string{"mechs"}, mechs...), "="), func(t *testing.T) {
			ts := startServer(t, Config{SSL: true, Password: pw, Then: ThenOK,
				Script: func(int) *Script { return &Script{SASLMechanisms: mechs} }})
			for _, cb := range []string{"prefer", "require"} {
				l := probeIt(t, ts.conninfo("host=localhost", "user=erin", "sslmode=require", "channel_binding="+cb, "password="+pw), nil)
				if !l.OK {
					t.Fatalf("channel_binding=%s: %+v", cb, l.Error)
				}
				a := l.Attempts[0].Auth
				if a.Method != "scram-sha-256-plus" || !a.ChannelBinding {
					t.Errorf("probe auth %+v", a)
				}
				s := ts.next(t)
				if s.Auth.Method != "scram-sha-256-plus" || !s.Auth.ChannelBinding || s.Auth.ChannelBindingFlag != "p" ||
					s.Auth.PasswordVerified == nil || !*s.Auth.PasswordVerified {
					t.Errorf("session auth %+v", s.Auth)
				}
				if doc := sessionJSON(t, s); jget(doc, "auth.method") != "scram-sha-256-plus" || jget(doc, "auth.channel_binding") != true {
					t.Errorf("json auth %v", doc["auth"])
				}
			}
			out, code := pgtest.RunPsql(t, ts.conninfo("host=localhost", "user=erin", "sslmode=require", "channel_binding=require", "password="+pw), "")
			if code != 0 {
				t.Fatalf("psql: exit %d: %s", code, out)
			}
			if s := ts.next(t); !s.Auth.ChannelBinding {
				t.Errorf("psql session auth %+v", s.Auth)
			}
		})
	}
	t.Run("downgrade", func(t *testing.T) {
		// The client says 'y' (it thinks the server cannot bind) although
		// -PLUS was offered: PostgreSQL refuses, so does the server.
		ts := startServer(t, Config{SSL: true, Password: pw, Then: ThenOK})
		l := probeIt(t, ts.conninfo("host=localhost", "user=erin", "sslmode=require", "channel_binding=disable", "password="+pw), nil)
		if !l.OK {
			t.Fatalf("channel_binding=disable sends 'n', which is fine: %+v", l.Error)
		}
		if s := ts.next(t); s.Auth.ChannelBindingFlag != "n" || s.Auth.Method != "scram-sha-256" {
			t.Errorf("auth %+v", s.Auth)
		}
	})
}

// TestServerNegotiateProtocolVersion: a server speaking up to 3.0 answers a
// 3.2 StartupMessage as PostgreSQL 15 and 17 do (NegotiateProtocolVersion
// 3.0, then a 4-byte cancel key); one speaking 3.2 accepts it as
// PostgreSQL 18 does (no NegotiateProtocolVersion, a 32-byte key); both
// name the _pq_ options they do not know. The probe records each side.
func TestServerNegotiateProtocolVersion(t *testing.T) {
	for _, tc := range []struct {
		name, server, client string
		pqOption             bool
		granted              string
		negotiated           bool
		keyLen               int
	}{
		{name: "3.0 server, 3.0 client", server: Protocol30, client: "3.0", granted: "3.0", keyLen: 4},
		{name: "3.0 server, 3.2 client", server: Protocol30, client: "3.2", granted: "3.0", negotiated: true, keyLen: 4},
		{name: "3.2 server, 3.2 client", server: Protocol32, client: "3.2", granted: "3.2", keyLen: 32},
		{name: "3.2 server, 3.0 client", server: Protocol32, client: "3.0", granted: "3.0", keyLen: 4},
		{name: "3.2 server, _pq_ option", server: Protocol32, client: "3.2", pqOption: true, granted: "3.2", negotiated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{Auth: AuthTrust, Then: ThenOK, MaxProtocol: tc.server})
			if tc.pqOption {
				testPQOption(t, ts)
				return
			}
			l := probeIt(t, ts.conninfo("host=127.0.0.1", "user=u", "sslmode=disable", "max_protocol_version="+tc.client), nil)
			if !l.OK {
				t.Fatalf("%+v", l.Error)
			}
			a := l.Attempts[0]
			if a.Protocol.Granted != tc.granted || a.Protocol.Negotiated != tc.negotiated || a.Server.ProtocolVersion != tc.granted {
				t.Errorf("client's record: protocol %+v, server.protocol_version %q", a.Protocol, a.Server.ProtocolVersion)
			}
			if a.Server.CancelKeyLength != tc.keyLen {
				t.Errorf("cancel key of %d bytes, want %d", a.Server.CancelKeyLength, tc.keyLen)
			}
			s := ts.next(t)
			if s.Startup.ProtocolVersion != tc.client || s.Startup.ProtocolGranted != tc.granted || s.Startup.Negotiated != tc.negotiated {
				t.Errorf("server's record: %+v", s.Startup)
			}
		})
	}
}

// testPQOption sends a 3.2 StartupMessage with a _pq_ option: the server
// answers NegotiateProtocolVersion naming it, with the whole version number
// (as PostgreSQL's FrontendProtocol), and records what the client asked.
func testPQOption(t *testing.T, ts *testServer) {
	c := rawClient(t, ts)
	defer c.Close()
	startup, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "u", "_pq_.test": "1"}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(startup); err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(c, c)
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	npv, ok := msg.(*pgproto3.NegotiateProtocolVersion)
	if !ok || npv.NewestMinorProtocol != pgproto3.ProtocolVersion32 || !slices.Equal(npv.UnrecognizedOptions, []string{"_pq_.test"}) {
		t.Fatalf("got %#v, want NegotiateProtocolVersion 3.2 naming _pq_.test", msg)
	}
	c.Close()
	s := ts.next(t)
	if !slices.Equal(s.Startup.ProtocolOptions, []string{"_pq_.test"}) || !s.Startup.Negotiated || s.Startup.ProtocolGranted != "3.2" {
		t.Errorf("server's record: %+v", s.Startup)
	}
}

func TestServerDelayCloseReset(t *testing.T) {
	t.Run("delay", func(t *testing.T) {
		ts := startServer(t, Config{Auth: AuthTrust, Then: ThenOK, Script: func(int) *Script {
			return &Script{Actions: []Action{{Step: statelog.StepAuthOK, Delay: 300 * time.Millisecond}}}
		}})
		l := probeIt(t, ts.conninfo("host=127.0.0.1", "user=u", "sslmode=disable"), nil)
		if !l.OK {
			t.Fatalf("%+v", l.Error)
		}
		for _, e := range l.Attempts[0].Events {
			if e.Step == statelog.StepAuthOK && e.DurationMS < 290 {
				t.Errorf("auth_ok took %.1f ms, the script waited 300", e.DurationMS)
			}
		}
		ts.next(t)
	})
	t.Run("delay beyond the probe's deadline", func(t *testing.T) {
		ts := startServer(t, Config{SSL: true, Script: func(int) *Script {
			return &Script{Actions: []Action{{Step: statelog.StepSSLResponse, Delay: 5 * time.Second}}}
		}})
		req := probe.Request{Input: conninfo.Input{Target: ts.conninfo("host=127.0.0.1", "user=u"), HomeDir: t.TempDir(), Getenv: noEnv},
			Timeout: 300 * time.Millisecond}
		start := time.Now()
		l := probe.Probe(context.Background(), req)
		wantError(t, l, statelog.ClassTimeout, "timeout expired")
		if l.Error.Step != statelog.StepSSLResponse || time.Since(start) > 3*time.Second {
			t.Errorf("step %q after %s", l.Error.Step, time.Since(start))
		}
		// Close interrupts the delay: the test's cleanup must not wait 5s.
	})
	for _, reset := range []bool{false, true} {
		t.Run("close reset="+strconv.FormatBool(reset), func(t *testing.T) {
			ts := startServer(t, Config{Script: func(int) *Script {
				return &Script{Actions: []Action{{Step: statelog.StepAuthRequest, Replace: []byte{}, Close: !reset, Reset: reset}}}
			}})
			l := probeIt(t, ts.conninfo("host=127.0.0.1", "user=u", "sslmode=disable"), nil)
			// Hanging up on the startup message is refusing the packet.
			wantError(t, l, statelog.ClassProtocol, "server closed the connection unexpectedly")
			if s := ts.next(t); s.Outcome != statelog.OutcomeDropped {
				t.Errorf("outcome %s", s.Outcome)
			}
		})
	}
}

// rawClient dials the test server.
func rawClient(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ts.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func mustSend(t *testing.T, c io.Writer, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// untilReady reads backend messages until ReadyForQuery and returns the
// BackendKeyData.
func untilReady(t *testing.T, c net.Conn) *pgproto3.BackendKeyData {
	t.Helper()
	fe := pgproto3.NewFrontend(c, c)
	var key *pgproto3.BackendKeyData
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		switch m := m.(type) {
		case *pgproto3.BackendKeyData:
			key = &pgproto3.BackendKeyData{ProcessID: m.ProcessID, SecretKey: append([]byte{}, m.SecretKey...)}
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			return key
		}
	}
}

func TestServerDirectTLS(t *testing.T) {
	startup := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "frank", "application_name": "direct"}}
	t.Run("ALPN postgresql", func(t *testing.T) {
		ts := startServer(t, Config{SSL: true, DirectSSL: true, Auth: AuthTrust, Then: ThenOK})
		tc := tls.Client(rawClient(t, ts), &tls.Config{ServerName: "localhost", NextProtos: []string{"postgresql"}, InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "postgresql" {
			t.Errorf("ALPN %q", p)
		}
		mustSend(t, tc, startup)
		untilReady(t, tc)
		mustSend(t, tc, &pgproto3.Terminate{})
		s := ts.next(t)
		if !s.DirectTLS || s.SSLRequest || s.TLS.ALPN != "postgresql" || s.TLS.SNI != "localhost" ||
			len(s.TLS.ALPNOffered) != 1 || s.Outcome != statelog.OutcomeReady || s.Startup.Parameters["application_name"] != "direct" {
			t.Errorf("session %+v tls %+v", s, s.TLS)
		}
	})
	t.Run("the probe with sslnegotiation=direct", func(t *testing.T) {
		ts := startServer(t, Config{SSL: true, DirectSSL: true, Auth: AuthTrust, Then: ThenOK})
		l := probeIt(t, ts.conninfo("host=localhost", "user=frank", "sslmode=require", "sslnegotiation=direct"), nil)
		if !l.OK || l.Attempts[0].SSLResponse != nil || l.Attempts[0].TLS.ALPN != "postgresql" {
			t.Fatalf("probe: %+v %+v", l.Error, l.Attempts[0])
		}
		s := ts.next(t)
		if !s.DirectTLS || s.SSLRequest || s.TLS.ALPN != "postgresql" || s.Outcome != statelog.OutcomeReady {
			t.Errorf("session %+v", s)
		}

		// A server before 17 (no --direct-ssl) takes the ClientHello for
		// a startup packet of absurd length and hangs up.
		old := startServer(t, Config{SSL: true, Auth: AuthTrust, Then: ThenOK})
		l = probeIt(t, old.conninfo("host=localhost", "user=frank", "sslmode=require", "sslnegotiation=direct"), nil)
		if l.OK {
			t.Fatal("direct TLS to a server without it succeeded")
		}
		if s := old.next(t); s.Error == nil || s.Error.Message != "invalid length of startup packet" {
			t.Errorf("session error %+v", s.Error)
		}
	})
	t.Run("no ALPN", func(t *testing.T) {
		ts := startServer(t, Config{SSL: true, DirectSSL: true, Auth: AuthTrust, Then: ThenOK})
		tc := tls.Client(rawClient(t, ts), &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		mustSend(t, tc, startup)
		if _, err := tc.Read(make([]byte, 1)); err == nil {
			t.Error("the server answered a direct TLS connection without ALPN")
		}
		s := ts.next(t)
		if s.Error == nil || s.Error.Message != "received direct SSL connection request without ALPN protocol negotiation extension" ||
			s.Outcome != statelog.OutcomeDropped || !s.DirectTLS {
			t.Errorf("outcome %s, error %+v", s.Outcome, s.Error)
		}
	})
	t.Run("without --direct-ssl", func(t *testing.T) {
		ts := startServer(t, Config{SSL: true, Auth: AuthTrust, Then: ThenOK})
		tc := tls.Client(rawClient(t, ts), &tls.Config{ServerName: "localhost", NextProtos: []string{"postgresql"}, InsecureSkipVerify: true})
		if err := tc.Handshake(); err == nil {
			t.Error("handshake succeeded")
		}
		s := ts.next(t)
		if s.Error == nil || s.Error.Message != "invalid length of startup packet" || !strings.Contains(s.Events[len(s.Events)-2].Detail, "--direct-ssl") {
			t.Errorf("error %+v events %+v", s.Error, s.Events)
		}
	})
}

func TestServerGSSAndCancel(t *testing.T) {
	ts := startServer(t, Config{Auth: AuthTrust, Then: ThenOK})
	c := rawClient(t, ts)
	mustSend(t, c, &pgproto3.GSSEncRequest{})
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("GSSENCRequest answer %q %v", b[0], err)
	}
	mustSend(t, c, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "gina"}})
	key := untilReady(t, c)
	if key == nil {
		t.Fatal("no BackendKeyData")
	}
	// Cancel that backend from another connection, then with a wrong key.
	for _, good := range []bool{true, false} {
		cc := rawClient(t, ts)
		secret := key.SecretKey
		if !good {
			secret = []byte{0, 0, 0, 0}
			if bytes.Equal(secret, key.SecretKey) {
				secret = []byte{1, 1, 1, 1}
			}
		}
		mustSend(t, cc, &pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: secret})
		s := ts.next(t)
		if s.Cancel == nil || s.Cancel.BackendPID != key.ProcessID || s.Cancel.Matched != good || s.Outcome != statelog.OutcomeCancel {
			t.Errorf("good=%v: cancel %+v outcome %s", good, s.Cancel, s.Outcome)
		}
	}
	// A query gets an error, and the session goes on.
	mustSend(t, c, &pgproto3.Query{String: "SELECT 'not recorded'"})
	fe := pgproto3.NewFrontend(c, c)
	m, err := fe.Receive()
	if er, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || er.Code != "0A000" {
		t.Fatalf("query answer %#v %v", m, err)
	}
	if m, err = fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*pgproto3.ReadyForQuery); !ok {
		t.Fatalf("after the error: %#v", m)
	}
	mustSend(t, c, &pgproto3.Terminate{})
	s := ts.next(t)
	if !s.GSSRequest || s.GSSResponse == nil || *s.GSSResponse != "N" || s.Queries != 1 || s.BackendPID != key.ProcessID {
		t.Errorf("session %+v", s)
	}
	if strings.Contains(renderSession(t, s), "not recorded'") {
		t.Error("the query text was recorded")
	}
}

func TestServerUnencryptedDataAfterSSLRequest(t *testing.T) {
	// CVE-2021-23214, the server's side: a startup packet sent in the clear
	// together with SSLRequest must not be taken as sent over TLS.
	ts := startServer(t, Config{SSL: true, Auth: AuthTrust, Then: ThenOK})
	c := rawClient(t, ts)
	mustSend(t, c, &pgproto3.SSLRequest{}, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "mallory"}})
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'S' {
		t.Fatalf("answer %q %v", b[0], err)
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	fe := pgproto3.NewFrontend(tc, tc)
	m, err := fe.Receive()
	er, ok := m.(*pgproto3.ErrorResponse)
	if err != nil || !ok || er.Code != "08P01" || er.Message != "received unencrypted data after SSL request" {
		t.Fatalf("got %#v %v", m, err)
	}
	s := ts.next(t)
	if s.UnencryptedAfterSSLRequest == 0 || s.Error == nil || s.Startup != nil {
		t.Errorf("session %+v", s)
	}
}

func TestServerHostileClientIsEscaped(t *testing.T) {
	ts := startServer(t, Config{Auth: AuthTrust})
	c := rawClient(t, ts)
	mustSend(t, c, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "x\x1b[2J", "application_name": "\x1b]0;owned\x07app"}})
	_, _ = io.ReadAll(c)
	s := ts.next(t)
	var b bytes.Buffer
	if err := report.SessionTimeline(&b, s, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(b.String(), 0x1b) || strings.ContainsRune(b.String(), 0x07) {
		t.Errorf("control characters reached the terminal:\n%q", b.String())
	}
}

func TestServerUnixSocketPsql(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgprobe-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sessions := make(chan *statelog.Session, 4)
	srv, err := New(Config{SSL: true, Then: ThenOK, Auth: AuthTrust, Timeout: 10 * time.Second,
		OnSession: func(s *statelog.Session) { sessions <- s }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	out, code := pgtest.RunPsql(t, "host="+dir+" port=5432 user=henry sslmode=prefer", "")
	if code != 0 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	select {
	case s := <-sessions:
		if s.Network != "unix" || s.Client != "[local]" || s.SSLRequest || s.TLS != nil || s.Startup.Parameters["user"] != "henry" {
			t.Errorf("session %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no session")
	}
}

func TestServerCloseInterruptsSilentClients(t *testing.T) {
	ts := startServer(t, Config{SSL: true})
	c := rawClient(t, ts)
	if _, err := c.Write([]byte{0, 0}); err != nil { // half a length word, then silence
		t.Fatal(err)
	}
	// Close must find the connection held by a session, not still in the
	// listener's queue.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		ts.srv.mu.Lock()
		n := len(ts.srv.conns)
		ts.srv.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never accepted the connection")
		}
	}
	start := time.Now()
	ts.srv.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	s := ts.next(t)
	if s.Error == nil || !strings.Contains(s.Error.Message, "pgprobe is stopping") {
		t.Errorf("error %+v", s.Error)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Serve after Close left the listener open")
	}
}

func TestServerStartupPacketChecks(t *testing.T) {
	ts := startServer(t, Config{Auth: AuthTrust})
	for name, tc := range map[string]struct {
		packet []byte
		msg    string
	}{
		"http":    {[]byte("GET / HTTP/1.1\r\n\r\n"), "invalid length of startup packet"},
		"no user": {startupBytes(map[string]string{"database": "d"}), "no PostgreSQL user name specified in startup packet"},
		"protocol 2": {func() []byte {
			b := startupBytes(map[string]string{"user": "u"})
			binary.BigEndian.PutUint32(b[4:], 2<<16)
			return b
		}(), "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"},
		"no terminator": {func() []byte { b := startupBytes(map[string]string{"user": "u"}); b[len(b)-1] = 'x'; return b }(), "invalid startup packet layout: expected terminator as last byte"},
	} {
		t.Run(name, func(t *testing.T) {
			c := rawClient(t, ts)
			if _, err := c.Write(tc.packet); err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(c)
			s := ts.next(t)
			if s.Error == nil || s.Error.Message != tc.msg {
				t.Errorf("error %+v, want %q", s.Error, tc.msg)
			}
		})
	}
}

func startupBytes(params map[string]string) []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params}).Encode(nil)
	return b
}

func TestSelfSignedCertificate(t *testing.T) {
	c, err := SelfSignedCertificate(CertificateHosts("127.0.0.1:5432", "box"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.VerifyPeerName(c.Leaf, "localhost"); err != nil {
		t.Errorf("localhost: %v", err)
	}
	if err := probe.VerifyPeerName(c.Leaf, "127.0.0.1"); err != nil {
		t.Errorf("127.0.0.1: %v", err)
	}
	if got := CertificateHosts("0.0.0.0:5432", "box"); !strings.Contains(strings.Join(got, ","), "box") {
		t.Errorf("unspecified address: %v", got)
	}
	if got := CertificateHosts("db.example.com:5432", "box"); len(got) != 1 || got[0] != "db.example.com" {
		t.Errorf("named host: %v", got)
	}
}

func TestServerSCRAMProofNeverRecorded(t *testing.T) {
	for name, final := range map[string]string{
		"nonce mismatch": "c=biws,r=not-the-nonce,p=c2VjcmV0LXByb29mLXZhbHVl",
		"malformed":      "c=biws,r=x,p=!!secret-proof-value!!",
	} {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, Config{Password: "pw"})
			c := rawClient(t, ts)
			mustSend(t, c, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "ivan"}})
			fe := pgproto3.NewFrontend(c, c)
			if m, err := fe.Receive(); err != nil {
				t.Fatal(err)
			} else if _, ok := m.(*pgproto3.AuthenticationSASL); !ok {
				t.Fatalf("%#v", m)
			}
			mustSend(t, c, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce")})
			if m, err := fe.Receive(); err != nil {
				t.Fatal(err)
			} else if _, ok := m.(*pgproto3.AuthenticationSASLContinue); !ok {
				t.Fatalf("%#v", m)
			}
			mustSend(t, c, &pgproto3.SASLResponse{Data: []byte(final)})
			m, err := fe.Receive()
			if er, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || er.Severity != "FATAL" {
				t.Fatalf("%#v %v", m, err)
			}
			s := ts.next(t)
			out := renderSession(t, s)
			for _, secret := range []string{"c2VjcmV0LXByb29mLXZhbHVl", "secret-proof-value"} {
				if strings.Contains(out, secret) {
					t.Errorf("the proof is in the record:\n%s", out)
				}
			}
			if !s.Auth.PasswordReceived || s.Error == nil {
				t.Errorf("auth %+v error %+v", s.Auth, s.Error)
			}
		})
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want ConfigError
		msg  string
	}{
		{Config{Auth: "ldap"}, ConfigError{Field: "Auth", Value: "ldap", Valid: "trust, password, md5 or scram-sha-256"},
			`invalid Auth "ldap": use trust, password, md5 or scram-sha-256`},
		{Config{Then: "later"}, ConfigError{Field: "Then", Value: "later", Valid: "error or ok"}, `invalid Then "later": use error or ok`},
		{Config{DirectSSL: true}, ConfigError{Field: "DirectSSL", Needs: "SSL"}, "DirectSSL needs SSL on"},
		{Config{Auth: AuthGSS}, ConfigError{Field: "Auth", Value: "gss", Valid: "trust, password, md5 or scram-sha-256"},
			`invalid Auth "gss": use trust, password, md5 or scram-sha-256`},
		{Config{Auth: "ldap", GSS: &GSSConfig{Keytab: "x"}}, ConfigError{Field: "Auth", Value: "ldap", Valid: "trust, password, md5, scram-sha-256 or gss"},
			`invalid Auth "ldap": use trust, password, md5, scram-sha-256 or gss`},
		{Config{GSS: &GSSConfig{}}, ConfigError{Field: "GSS.Keytab", Valid: "the path of a keytab file"}, `invalid GSS.Keytab "": use the path of a keytab file`},
	} {
		_, err := New(tc.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || *ce != tc.want || err.Error() != tc.msg {
			t.Errorf("New(%+v): %#v (%v), want %+v", tc.cfg, err, err, tc.want)
		}
	}
	// New fills in what is empty; Validate checks the values as they are.
	if err := (Config{}).Validate(); err == nil {
		t.Error("Validate took an empty Auth")
	}
	if err := (Config{Auth: AuthTrust, Then: ThenOK}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New with the defaults: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "no.keytab")
	if _, err := New(Config{GSS: &GSSConfig{Keytab: missing}}); err == nil || !strings.Contains(err.Error(), "reading the keytab "+missing) {
		t.Errorf("New with a missing keytab: %v", err)
	}
}
