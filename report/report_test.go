package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTimelineGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			l := fx.log()
			plain := render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: 200}) })
			golden(t, "timeline/"+fx.name, plain)
			golden(t, "timeline/"+fx.name+".80", render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: 80}) }))
			if bytes.IndexByte(plain, 0x1b) >= 0 {
				t.Errorf("colour off, but the output has an ESC byte")
			}
			colored := render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: 200, Color: true}) })
			golden(t, "timeline/"+fx.name+".color", colored)
			if l.OK || l.Error != nil {
				if !bytes.Contains(colored, []byte("\x1b[")) {
					t.Errorf("colour on, but no escape sequence")
				}
			}
		})
	}
}

func TestTimelineVerbose(t *testing.T) {
	out := render(t, func(b *bytes.Buffer) error { return Timeline(b, okTLSScram(), Options{Width: 200, Verbose: true}) })
	golden(t, "timeline/ok_tls_scram.verbose", out)
	if n := bytes.Count(out, []byte("parameter_status")); n != 13 {
		t.Errorf("verbose shows %d parameter_status rows, want 13", n)
	}
	quiet := render(t, func(b *bytes.Buffer) error { return Timeline(b, okTLSScram(), Options{}) })
	if !bytes.Contains(quiet, []byte("13 parameters")) || bytes.Count(quiet, []byte("parameter_status")) != 1 {
		t.Errorf("parameter_status rows are not collapsed:\n%s", quiet)
	}
}

func TestTimelineContent(t *testing.T) {
	cases := []struct {
		name string
		log  *statelog.Log
		want []string
	}{
		{"ok", okTLSScram(), []string{
			"CONNECTION_SSL_STARTUP", "CONNECTION_AWAITING_RESPONSE", "tls_handshake", "TLSv1.3",
			"CN=db.example.com", "(21 days left)", "scram-sha-256-plus", "channel binding  yes",
			"server_version", "15.18", "backend pid", "48213", "✓ connected", "exit 0: connected"}},
		{"fallback", preferFallback(), []string{"attempt 1/2", "attempt 2/2", "why: sslmode=prefer: the ssl attempt failed",
			"FATAL:  no pg_hba.conf entry", "SQLSTATE 28000", "(3 days left)", "md5 (MD5 passwords are deprecated", "✓ connected"}},
		{"refused", refused(), []string{"Connection refused", "  Is the server running on that host", "errno ECONNREFUSED",
			"why: next address", "✗ failed: connect:", "listen_addresses", "`pg_isready -h localhost -p 5433`", "exit 2: no usable answer"}},
		{"28000", hba28000(), []string{"✗ failed: auth:", "(expired 2 days ago)", "`hostssl shop app 10.0.0.9/32 scram-sha-256`", "pg_reload_conf()", "exit 1"}},
		{"timeout", timeoutSSL(), []string{"✗ failed: timeout:", "no answer to SSLRequest", "exit 2"}},
		{"usage", usage(), []string{"no attempt was made", "✗ failed: usage:", "exit 3"}},
		{"ping", pingAccepting(), []string{"✓ accepting connections", "(as pg_isready would say)", "the connection itself did not complete: auth:", "exit 0"}},
		{"check", checkFailed(), []string{"✗ connected, check failed", "connected, but check failed: check: certificate", "exit 4: connected, but a check failed"}},
	}
	for _, c := range cases {
		out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, c.log, Options{Width: 200}) }))
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: timeline lacks %q:\n%s", c.name, w, out)
			}
		}
	}
}

func pingAccepting() *statelog.Log {
	l := wrongPassword()
	l.Ping, l.OK, l.ExitCode = "accepting connections", true, statelog.ExitOK
	return l
}

func checkFailed() *statelog.Log {
	l := okTLSScram()
	l.Error = &statelog.Error{Class: statelog.ClassCheck, Message: "certificate expires in 21 days, fewer than --min-cert-days 30"}
	l.OK, l.ExitCode = false, statelog.ExitCheck
	return l
}

func TestTimelineMarksDecidingStep(t *testing.T) {
	out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, hba28000(), Options{Width: 200}) }))
	var marked []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, markFail+" ") && strings.Contains(l, "CONNECTION_") {
			marked = append(marked, l)
		}
	}
	if len(marked) != 1 || !strings.Contains(marked[0], "error_response") {
		t.Errorf("want exactly the error_response row marked, got %q", marked)
	}
	// The deciding row is red, a recovered failure (prefer fallback) yellow.
	col := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, preferFallback(), Options{Width: 200, Color: true}) }))
	if !strings.Contains(col, "\x1b[33m"+markFail) {
		t.Errorf("the recovered failure is not marked yellow")
	}
	if strings.Contains(col, "\x1b[31;1m"+markFail+"\x1b[0m CONNECTION") {
		t.Errorf("a successful probe has a red-marked row")
	}
}

func TestBarsScaleToLongestStep(t *testing.T) {
	out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, timeoutSSL(), Options{Width: 200}) }))
	full := strings.Repeat("█", 10)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ssl_response") && !strings.Contains(l, full) {
			t.Errorf("the longest step has no full bar: %q", l)
		}
		if strings.Contains(l, " connect ") && strings.Contains(l, "██") {
			t.Errorf("a 0.6 ms step next to a 3 s one has a long bar: %q", l)
		}
	}
}

func TestUntrustedIsQuotedAndLabelled(t *testing.T) {
	for _, color := range []bool{false, true} {
		out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, sslE(), Options{Width: 200, Color: color}) }))
		if strings.Contains(out, "\x1b[31msorry") {
			t.Fatalf("the peer's escape sequence reached the terminal:\n%q", out)
		}
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "too many clients") {
				n++
				if !strings.Contains(l, "untrusted") || !strings.Contains(l, `"\x00\x00\x00PSFATAL\x00M\x1b[31msorry`) {
					t.Errorf("untrusted text shown without label or quotes: %q", l)
				}
			}
		}
		if n == 0 {
			t.Errorf("the untrusted text is not shown at all")
		}
	}
	if out := render(t, func(b *bytes.Buffer) error { return Timeline(b, sslE(), Options{}) }); bytes.IndexByte(out, 0x1b) >= 0 {
		t.Errorf("colour off, yet an ESC byte is in the output")
	}
}

func TestHostileServerTextIsEscaped(t *testing.T) {
	l := okTLSScram()
	a := l.Attempts[0]
	a.Server.Parameters["server_version"] = "15\x1b]0;pwned\x07"
	a.Events[1].Detail = "evil\x1b[2J"
	a.TLS.PeerCertificates[0].Subject = "CN=\x1b[5mblink"
	out := render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Verbose: true}) })
	if bytes.IndexByte(out, 0x1b) >= 0 || bytes.IndexByte(out, 0x07) >= 0 {
		t.Errorf("control bytes from the server reached the output")
	}
	if !bytes.Contains(out, []byte(`evil\x1b[2J`)) {
		t.Errorf("escaped detail missing")
	}
}

func TestJSONGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			out := render(t, func(b *bytes.Buffer) error { return JSON(b, fx.log()) })
			golden(t, "json/"+fx.name, out)
			if bytes.IndexByte(out, 0x1b) >= 0 {
				t.Errorf("JSON holds an ESC byte")
			}
		})
	}
}

func TestJSONMultiGolden(t *testing.T) {
	logs := []*statelog.Log{okTLSScram(), refused(), wrongPassword()}
	out := render(t, func(b *bytes.Buffer) error { return JSONMulti(b, logs) })
	golden(t, "json/multi", out)
	var m struct {
		Schema   string            `json:"schema"`
		OK       *bool             `json:"ok"`
		ExitCode *int              `json:"exit_code"`
		Results  []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.Schema != "pgprobe/v1" || m.OK == nil || *m.OK || m.ExitCode == nil || *m.ExitCode != 2 || len(m.Results) != 3 {
		t.Errorf("multi verdict wrong: %+v", m)
	}
	all := render(t, func(b *bytes.Buffer) error { return JSONMulti(b, []*statelog.Log{okTLSScram(), preferFallback()}) })
	if err := json.Unmarshal(all, &m); err != nil || !*m.OK || *m.ExitCode != 0 {
		t.Errorf("all connected: want ok true, exit 0: %s", all)
	}
}

// TestJSONContract reads the document back by the contract's field names,
// as jq users do.
func TestJSONContract(t *testing.T) {
	var doc map[string]any
	out := render(t, func(b *bytes.Buffer) error { return JSON(b, preferFallback()) })
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(path ...any) any {
		var v any = doc
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("%v: not an object at %q", path, k)
				}
				if _, ok := m[k]; !ok {
					t.Fatalf("%v: no field %q", path, k)
				}
				v = m[k]
			case int:
				a, ok := v.([]any)
				if !ok || k >= len(a) {
					t.Fatalf("%v: no element %d", path, k)
				}
				v = a[k]
			}
		}
		return v
	}
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"schema"}, "pgprobe/v1"},
		{[]any{"ok"}, true},
		{[]any{"exit_code"}, 0.0},
		{[]any{"target"}, "postgresql://app:****@db.example.com/shop"},
		{[]any{"error"}, nil},
		{[]any{"attempts", 0, "ssl_response"}, "S"},
		{[]any{"attempts", 0, "gss_response"}, nil},
		{[]any{"attempts", 0, "tls", "version"}, "TLSv1.3"},
		{[]any{"attempts", 0, "tls", "cipher"}, "TLS_AES_256_GCM_SHA384"},
		{[]any{"attempts", 0, "tls", "verified"}, false},
		{[]any{"attempts", 0, "tls", "peer_certificates", 0, "days_left"}, 3.0},
		{[]any{"attempts", 0, "error", "class"}, "auth"},
		{[]any{"attempts", 0, "error", "sqlstate"}, "28000"},
		{[]any{"attempts", 0, "events", 0, "state"}, "CONNECTION_NEEDED"},
		{[]any{"attempts", 0, "events", 0, "step"}, "resolve"},
		{[]any{"attempts", 1, "ssl_response"}, nil},
		{[]any{"attempts", 1, "tls"}, nil},
		{[]any{"attempts", 1, "auth", "method"}, "md5"},
		{[]any{"attempts", 1, "server", "backend_pid"}, 48213.0},
		{[]any{"attempts", 1, "server", "parameters", "server_version"}, "15.18 (Debian 15.18-1.pgdg120+1)"},
		{[]any{"attempts", 1, "host"}, "db.example.com"},
		{[]any{"attempts", 1, "hostaddr"}, "10.0.0.5"},
		{[]any{"attempts", 1, "port"}, 5432.0},
		{[]any{"attempts", 1, "network"}, "tcp"},
		{[]any{"attempts", 1, "sslmode"}, "prefer"},
		{[]any{"attempts", 1, "ok"}, true},
	}
	for _, c := range checks {
		if got := get(c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	for _, k := range []string{"duration_ms", "attempts"} {
		get(k)
	}
	ev := get("attempts", 1, "events", 0).(map[string]any)
	for _, k := range []string{"seq", "state", "step", "at", "elapsed_ms", "duration_ms", "detail", "error"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("event lacks %q", k)
		}
	}
	if adv, _ := get("attempts", 0, "error", "advice").(string); !strings.Contains(adv, "hostssl shop app 10.0.0.9/32") {
		t.Errorf("advice not annotated into the attempt error: %q", adv)
	}

	// A failed probe: .error carries the contract's fields.
	doc = nil
	out = render(t, func(b *bytes.Buffer) error { return JSON(b, timeoutSSL()) })
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	e := get("error").(map[string]any)
	for _, k := range []string{"class", "message", "sqlstate", "severity", "detail", "hint", "advice"} {
		if _, ok := e[k]; !ok {
			t.Errorf(".error lacks %q", k)
		}
	}
	if e["class"] != "timeout" || get("exit_code") != 2.0 || get("ok") != false {
		t.Errorf("verdict: %v", doc)
	}
	if get("attempts", 0, "events", 2, "error") != nil {
		t.Errorf("a successful event has an error")
	}
}

func TestTableGolden(t *testing.T) {
	logs := []*statelog.Log{okTLSScram(), preferFallback(), refused(), hba28000(), timeoutSSL(), usage()}
	plain := render(t, func(b *bytes.Buffer) error { return Table(b, logs, Options{Width: 200}) })
	golden(t, "table", plain)
	golden(t, "table.80", render(t, func(b *bytes.Buffer) error { return Table(b, logs, Options{Width: 80}) }))
	if bytes.IndexByte(plain, 0x1b) >= 0 {
		t.Errorf("colour off, but the table has an ESC byte")
	}
	golden(t, "table.color", render(t, func(b *bytes.Buffer) error { return Table(b, logs, Options{Width: 200, Color: true}) }))

	lines := strings.Split(strings.TrimSpace(string(plain)), "\n")
	if len(lines) != 7 {
		t.Fatalf("want a header and 6 rows, got:\n%s", plain)
	}
	// Failures first, by exit code, then the given order.
	order := []string{"sslmode=bogus", "port=5433", "connect_timeout=3", "sslmode=require", "sslmode=verify-full", "postgresql://"}
	for i, w := range order {
		if !strings.Contains(lines[i+1], w) {
			t.Errorf("row %d = %q, want the target with %q", i+1, lines[i+1], w)
		}
	}
	for _, w := range []string{"10.0.0.5:5432", "TLSv1.3", "scram-sha-256-plus", "15.18", "127.0.0.1:5433"} {
		if !strings.Contains(string(plain), w) {
			t.Errorf("table lacks %q", w)
		}
	}
}

func TestNoESCWhenColorOff(t *testing.T) {
	var logs []*statelog.Log
	for _, fx := range fixtures {
		logs = append(logs, fx.log())
	}
	for _, o := range []Options{{}, {Verbose: true}, {Width: 200}} {
		for _, l := range logs {
			if out := render(t, func(b *bytes.Buffer) error { return Timeline(b, l, o) }); bytes.IndexByte(out, 0x1b) >= 0 {
				t.Errorf("%s: ESC byte with colour off", l.Target)
			}
		}
		if out := render(t, func(b *bytes.Buffer) error { return Table(b, logs, o) }); bytes.IndexByte(out, 0x1b) >= 0 {
			t.Errorf("table: ESC byte with colour off")
		}
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cases := []struct {
		mode   string
		w      io.Writer
		getenv func(string) string
		want   bool
	}{
		{"always", &bytes.Buffer{}, env("NO_COLOR", "1", "TERM", "dumb"), true},
		{"never", &bytes.Buffer{}, env(), false},
		{"auto", &bytes.Buffer{}, env(), false},        // not a file
		{"auto", devnull, env("TERM", "xterm"), false}, // a file, not a terminal
		{"auto", devnull, env("NO_COLOR", "1"), false}, // NO_COLOR
		{"", &bytes.Buffer{}, env("NO_COLOR", "", "TERM", "xterm"), false},
	}
	for _, c := range cases {
		got, err := ColorEnabled(c.mode, c.w, c.getenv)
		if err != nil || got != c.want {
			t.Errorf("ColorEnabled(%q, %T) = %v, %v; want %v", c.mode, c.w, got, err, c.want)
		}
	}
	if _, err := ColorEnabled("sometimes", &bytes.Buffer{}, env()); err == nil ||
		!strings.Contains(err.Error(), "always") || !strings.Contains(err.Error(), "never") || !strings.Contains(err.Error(), "auto") {
		t.Errorf("a bad mode must fail naming the valid ones, got %v", err)
	}
}

func TestWrapKeepsBackticks(t *testing.T) {
	got := wrap("Add `hostssl shop app 10.0.0.9/32 scram-sha-256` to pg_hba.conf and reload it now please", 46)
	found := false
	for _, l := range got {
		if strings.Contains(l, "`hostssl shop app 10.0.0.9/32 scram-sha-256`") {
			found = true
		}
	}
	if !found {
		t.Errorf("a backtick span was broken: %q", got)
	}
}

// TestJSONStream: the streamed fleet document is JSONMulti's, byte for
// byte; with no result it is still a document; a write error comes back.
func TestJSONStream(t *testing.T) {
	logs := []*statelog.Log{okTLSScram(), refused(), wrongPassword()}
	var b bytes.Buffer
	s := NewJSONStream(&b)
	var enc ResultEncoder
	for _, l := range logs {
		doc, err := enc.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(doc, l.OK, l.ExitCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	golden(t, "json/multi", b.Bytes())
	// Each result is exactly one target's document, indented one level.
	var m struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || len(m.Results) != 3 {
		t.Fatalf("%v, %d results", err, len(m.Results))
	}
	one := render(t, func(b *bytes.Buffer) error { return JSON(b, refused()) })
	var c1, c2 bytes.Buffer
	if err := json.Compact(&c1, one); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&c2, m.Results[1]); err != nil {
		t.Fatal(err)
	}
	if c1.String() != c2.String() {
		t.Errorf("results[1] differs from the one-target document:\n%s\n%s", c1.String(), c2.String())
	}

	b.Reset()
	if err := NewJSONStream(&b).Close(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\n  \"schema\": \"pgprobe/v1\",\n  \"results\": [],\n  \"ok\": true,\n  \"exit_code\": 0\n}\n" {
		t.Errorf("empty fleet: %q", b.String())
	}
	s = NewJSONStream(failWriter{})
	s.Add([]byte("{}"), false, 2)
	if s.Err() == nil || s.Close() == nil {
		t.Error("a write error was lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
