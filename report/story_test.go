package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

var timedOut = statelog.Failure{Attempt: 0, Host: "db1.example.com", HostAddr: "10.0.0.4", Port: 5432, Encryption: "ssl",
	Class: statelog.ClassTimeout, Step: statelog.StepSSLResponse, DurationMS: 2001.5,
	Message: `connection to server at "db1.example.com" (10.0.0.4), port 5432 failed: timeout expired`}

func TestEarlierFailuresInTheTimeline(t *testing.T) {
	l := okTLSScram()
	l.EarlierFailures = []statelog.Failure{timedOut}
	out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{}) }))
	verdict := out[strings.Index(out, "✓ connected in"):]
	for _, w := range []string{"after 1 failed attempt, which took 2002 ms:", "attempt 1  db1.example.com (10.0.0.4):5432 ssl  timeout  2002 ms  timeout expired"} {
		if !strings.Contains(verdict, w) {
			t.Errorf("the verdict lacks %q:\n%s", w, verdict)
		}
	}
	// A failed probe's verdict already holds every message: no list.
	f := refused()
	f.EarlierFailures = []statelog.Failure{timedOut}
	if out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, f, Options{}) })); strings.Contains(out, "failed attempt") {
		t.Errorf("a failure lists its earlier failures again:\n%s", out)
	}
}

func TestErrorCell(t *testing.T) {
	withEarlier := func(l *statelog.Log) *statelog.Log { l.EarlierFailures = []statelog.Failure{timedOut}; return l }
	long := wrongPassword()
	long.Error.Message = strings.Repeat("x", 300)
	cases := []struct {
		name string
		log  *statelog.Log
		want string
	}{
		{"connected", okTLSScram(), "-"},
		{"connected after a timeout", withEarlier(okTLSScram()), "earlier: db1.example.com (10.0.0.4):5432 ssl timeout (2002 ms)"},
		{"one failure", wrongPassword(), `auth: password authentication failed for user "app"`},
		{"after an earlier failure", withEarlier(wrongPassword()),
			`auth: password authentication failed for user "app"; earlier: db1.example.com (10.0.0.4):5432 ssl timeout: timeout expired`},
		{"usage", usage(), `usage: invalid sslmode value: "bogus"`},
		{"check", checkFailed(), "check: certificate expires in 21 days, fewer than --min-cert-days 30"},
		{"too long", long, "auth: " + strings.Repeat("x", maxErrorCell-len("auth: ")-1) + "…"},
	}
	for _, tc := range cases {
		if got := errorCell(tc.log); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestChecksInTheTimeline(t *testing.T) {
	l := okTLSScram()
	l.Checks = []statelog.Check{
		{Name: statelog.CheckMinTLSVersion, Want: "TLSv1.2 or newer", Got: "TLSv1.3", OK: true},
		{Name: statelog.CheckMinCertDays, Want: "30 days or more", Got: "21 days (until 2025-01-22)", Message: "too soon"},
	}
	out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{}) }))
	for _, w := range []string{"  checks\n", "    ✓ min-tls-version  TLSv1.3 (want TLSv1.2 or newer)", "    ✗ min-cert-days    21 days (until 2025-01-22) (want 30 days or more)"} {
		if !strings.Contains(out, w) {
			t.Errorf("the timeline lacks %q:\n%s", w, out)
		}
	}
}

func TestChannelBindingNotConfirmed(t *testing.T) {
	l := okTLSScram()
	out := string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: 200}) }))
	if !strings.Contains(out, "channel binding  yes (tls-server-end-point)\n") {
		t.Errorf("a verified binding:\n%s", out)
	}
	l.Attempts[len(l.Attempts)-1].Auth.ChannelBindingVerified = false
	out = string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: 200}) }))
	if !strings.Contains(out, "channel binding  yes (tls-server-end-point), not confirmed: the exchange ended before the server's signature") {
		t.Errorf("an unconfirmed binding:\n%s", out)
	}
}
