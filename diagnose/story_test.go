package diagnose

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

const (
	refused54339 = "connection to server at \"127.0.0.1\", port 54339 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"
	refused54338 = "connection to server at \"127.0.0.1\", port 54338 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"
	timeout54337 = "connection to server at \"127.0.0.1\", port 54337 failed: timeout expired"
)

// everyHostFailed is a record as probe leaves it when every host failed:
// each attempt holds its own error, and the final error is a copy with
// libpq's accumulated message.
func everyHostFailed(msgs ...string) *statelog.Log {
	l := statelog.New("t", nil)
	var parts []string
	for _, m := range msgs {
		class := statelog.ClassConnect
		if strings.HasSuffix(m, "timeout expired") {
			class = statelog.ClassTimeout
		}
		e := &statelog.Error{Class: class, Message: m, Step: statelog.StepConnect, Errno: "ECONNREFUSED"}
		if class == statelog.ClassTimeout {
			e.Errno = "ETIMEDOUT"
		}
		var port int
		_, _ = fmt.Sscanf(m[strings.Index(m, "port ")+5:], "%d", &port)
		a := l.AddAttempt(&statelog.Attempt{Host: "127.0.0.1", HostAddr: "127.0.0.1", Port: port, Network: "tcp", Error: e})
		a.Events = append(a.Events, statelog.Event{Step: statelog.StepConnect, Error: e})
		parts = append(parts, m)
	}
	last := *l.LastAttempt().Error
	last.Message = strings.Join(parts, "\n")
	l.Finish(&last)
	return l
}

func TestEveryHostInTheAdvice(t *testing.T) {
	cases := []struct {
		name        string
		msgs        []string
		want, avoid []string
	}{
		{"the same failure twice", []string{refused54339, refused54338},
			[]string{"nothing listens on 127.0.0.1 port 54338", "The same failure happened at 127.0.0.1 port 54339 first."}, []string{"Attempt 1"}},
		{"a timeout, then a refusal", []string{timeout54337, refused54338},
			[]string{"nothing listens on 127.0.0.1 port 54338", "Attempt 1, 127.0.0.1 port 54337, failed with timeout: timeout expired."}, []string{"The same failure"}},
		{"one host", []string{refused54338}, []string{"nothing listens on 127.0.0.1 port 54338"}, []string{"The same failure", "Attempt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := everyHostFailed(tc.msgs...)
			Record(l)
			for _, w := range tc.want {
				if !strings.Contains(l.Error.Advice, w) {
					t.Errorf("advice lacks %q: %s", w, l.Error.Advice)
				}
			}
			for _, w := range tc.avoid {
				if strings.Contains(l.Error.Advice, w) {
					t.Errorf("advice has %q: %s", w, l.Error.Advice)
				}
			}
			if a := AttemptOf(l, l.Error); a != l.LastAttempt() {
				t.Errorf("the final error belongs to attempt %d, want the last", a.Index)
			}
			if got := Short(l.Error); got != "Connection refused" {
				t.Errorf("Short = %q: want the last host's words", got)
			}
		})
	}
}

func TestChecksAdvice(t *testing.T) {
	l := statelog.New("t", nil)
	l.Checks = []statelog.Check{
		{Name: statelog.CheckMinTLSVersion, Want: "TLSv1.3 or newer", Got: "TLSv1.2", Message: "the connection uses TLSv1.2, but TLS 1.3 or newer is required"},
		{Name: statelog.CheckMinCertDays, Want: "30 days or more", Got: "5 days (until 2030-01-01)", Message: "the server certificate expires in 5 days"},
		{Name: statelog.CheckMinCertDays, Want: "1 days or more", Got: "400 days", OK: true},
	}
	l.Finish(&statelog.Error{Class: statelog.ClassCheck, Message: "two failed", Step: "check"})
	Record(l)
	for i, w := range []string{"ssl_min_protocol_version", "Renew it"} {
		if !strings.Contains(l.Checks[i].Advice, w) || !strings.Contains(l.Error.Advice, "--"+l.Checks[i].Name+": "+l.Checks[i].Advice) {
			t.Errorf("check %d: advice %q, final %q", i, l.Checks[i].Advice, l.Error.Advice)
		}
	}
	if l.Checks[2].Advice != "" {
		t.Errorf("a passed check has advice: %q", l.Checks[2].Advice)
	}
	unencrypted := statelog.Check{Name: statelog.CheckMinTLSVersion, Want: "TLSv1.2 or newer", Got: "no TLS"}
	if a := adviseCheck(&unencrypted); !strings.Contains(a, "sslmode=require") {
		t.Errorf("no TLS: %q", a)
	}
}
