//go:build unix

package main

// The whole story of a probe: every host's failure in libpq's words, the
// hosts that failed before a success, channel binding as the client chose
// it, the table's error text, -n's statistics and the checks. psql 15 is the
// oracle for libpq's words.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestEveryHostsFailure: when every host fails, libpq's message holds each
// attempt's failure in turn (conn->errorMessage accumulates); pgprobe's
// final message is psql's, byte for byte after "psql: error: ", in JSON, in
// the timeline's verdict and in the table.
func TestEveryHostsFailure(t *testing.T) {
	c := sslServer(t)
	dead1, dead2 := pgtest.FreePort(t), pgtest.FreePort(t)
	cases := []struct {
		name, target string
		code         int
		inTable      []string
	}{
		{"two refused ports (the issue's URI)", fmt.Sprintf("postgresql://testuser@127.0.0.1:%d,127.0.0.1:%d/postgres", dead1, dead2), 2,
			[]string{fmt.Sprintf("connect: Connection refused; earlier: 127.0.0.1:%d connect: Connection refused", dead1)}},
		{"refused, then the server refuses the database", fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=trustuser dbname=nosuchdb", dead1, c.Port), 1,
			[]string{fmt.Sprintf(`server: database "nosuchdb" does not exist; earlier: 127.0.0.1:%d connect: Connection refused`, dead1)}},
		{"target_session_attrs=standby: two primaries", conn(c, "host=127.0.0.1,127.0.0.1", fmt.Sprintf("port=%d,%d", c.Port, c.Port), "user=trustuser", "dbname=postgres", "target_session_attrs=standby"), 1,
			[]string{"target: server is not in hot standby mode; earlier: 127.0.0.1:" + fmt.Sprint(c.Port) + " ssl target: server is not in hot standby mode"}},
		{"sslmode=prefer: SSL, then plaintext, both without a pg_hba.conf line", conn(c, "user=nohba", "dbname=postgres", "sslmode=prefer"), 1,
			[]string{`auth: no pg_hba.conf entry for host "127.0.0.1", user "nohba", database "postgres", no encryption; earlier: 127.0.0.1:` + fmt.Sprint(c.Port) + ` ssl auth: no pg_hba.conf entry`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := pgtest.RunPsql(t, tc.target, "select 1")
			want, ok := strings.CutPrefix(out, "psql: error: ")
			if code == 0 || !ok {
				t.Fatalf("psql: exit %d: %s", code, out)
			}
			r := pgprobe(t, nil, "-o", "json", tc.target)
			mustCode(t, r, tc.code)
			msg, _ := get(r.doc, "error.message").(string)
			if msg+"\n" != want {
				t.Errorf("error.message differs from psql's:\npgprobe %q\npsql    %q", msg+"\n", want)
			}
			if n := len(attempts(r)); len(get(r.doc, "earlier_failures").([]any)) != n-1 {
				t.Errorf("%d attempts, earlier_failures: %v", n, get(r.doc, "earlier_failures"))
			}
			// The timeline's verdict gives every line of it.
			tl := pgprobe(t, nil, tc.target)
			verdict := tl.stdout[strings.Index(tl.stdout, "\n✗ failed: "):]
			for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
				if !strings.Contains(verdict, strings.TrimSpace(strings.ReplaceAll(line, "\t", "  "))) {
					t.Errorf("the verdict lacks %q:\n%s", line, verdict)
				}
			}
			// Wide enough that the table cuts neither cell.
			tab := pgprobe(t, map[string]string{"COLUMNS": "1000"}, "-o", "table", tc.target)
			for _, w := range tc.inTable {
				if !strings.Contains(tab.stdout, w) {
					t.Errorf("the table lacks %q:\n%s", w, tab.stdout)
				}
			}
		})
	}
	// The advice names every host, not only the last.
	r := pgprobe(t, nil, "-o", "json", cases[0].target)
	advice, _ := get(r.doc, "error.advice").(string)
	for _, port := range []int{dead1, dead2} {
		if !strings.Contains(advice, fmt.Sprintf("127.0.0.1 port %d", port)) {
			t.Errorf("the advice does not name port %d: %s", port, advice)
		}
	}
}

// TestEarlierHostsBeforeSuccess: a host that timed out before the one that
// connected is told in the verdict, the table and the JSON document.
func TestEarlierHostsBeforeSuccess(t *testing.T) {
	c := sslServer(t)
	silent := pgtest.SilentPeer(t)
	target := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d connect_timeout=1 user=trustuser dbname=postgres", silent, c.Port)
	if out, code := pgtest.RunPsql(t, target, "select 1"); code != 0 {
		t.Fatalf("psql: exit %d: %s", code, out)
	}
	r := pgprobe(t, nil, "-o", "json", target)
	mustCode(t, r, 0)
	mustEqual(t, r, "error", nil)
	mustEqual(t, r, "earlier_failures.0.port", silent)
	mustEqual(t, r, "earlier_failures.0.class", "timeout")
	mustEqual(t, r, "earlier_failures.0.attempt", 0)
	if ms, _ := get(r.doc, "earlier_failures.0.duration_ms").(float64); ms <= 0 {
		t.Errorf("earlier_failures.0.duration_ms = %v", get(r.doc, "earlier_failures.0.duration_ms"))
	}
	tl := pgprobe(t, nil, target)
	mustCode(t, tl, 0)
	verdict := tl.stdout[strings.Index(tl.stdout, "\n✓ connected in "):]
	for _, w := range []string{"after 1 failed attempt", fmt.Sprintf("attempt 1  127.0.0.1:%d ssl  timeout", silent), "timeout expired"} {
		if !strings.Contains(verdict, w) {
			t.Errorf("the verdict lacks %q:\n%s", w, verdict)
		}
	}
	tab := pgprobe(t, nil, "-o", "table", target)
	if w := fmt.Sprintf("earlier: 127.0.0.1:%d ssl timeout (", silent); !strings.Contains(tab.stdout, w) {
		t.Errorf("the table lacks %q:\n%s", w, tab.stdout)
	}
	nd := pgprobe(t, nil, "-o", "ndjson", target)
	if !strings.Contains(nd.stdout, `"earlier_failures":[{"attempt":0`) {
		t.Errorf("the NDJSON verdict lacks earlier_failures:\n%s", nd.stdout)
	}
}

// TestChannelBindingOfAFailedLogin: the client chose SCRAM-SHA-256-PLUS and
// bound the channel; the wrong password does not undo that.
func TestChannelBindingOfAFailedLogin(t *testing.T) {
	c := sslServer(t)
	cases := []struct {
		name, password string
		code           int
		verified       any
		timeline       string
	}{
		{"wrong password", "wrong", 1, nil, "channel binding  yes (tls-server-end-point), not confirmed"},
		{"right password", scramPW, 0, true, "channel binding  yes (tls-server-end-point)\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := conn(c, "user=scramuser", "dbname=postgres", "sslmode=require")
			_, code := pgtest.RunPsql(t, target, "select 1", "PGPASSWORD="+tc.password)
			if (code == 0) != (tc.code == 0) {
				t.Fatalf("psql exit %d, want success %v", code, tc.code == 0)
			}
			env := map[string]string{"PGPASSWORD": tc.password}
			r := pgprobe(t, env, "-o", "json", target)
			mustCode(t, r, tc.code)
			mustEqual(t, r, "attempts.0.auth.method", "scram-sha-256-plus")
			mustEqual(t, r, "attempts.0.auth.channel_binding", true)
			mustEqual(t, r, "attempts.0.auth.channel_binding_verified", tc.verified)
			if tl := pgprobe(t, env, target); !strings.Contains(tl.stdout, tc.timeline) {
				t.Errorf("the timeline lacks %q:\n%s", tc.timeline, tl.stdout)
			}
		})
	}
}

// TestTableShowsTheMessage: the ERROR column has libpq's words, not only
// the class.
func TestTableShowsTheMessage(t *testing.T) {
	c := sslServer(t)
	target := conn(c, "user=trustuser", "dbname=nosuchdb")
	out, _ := pgtest.RunPsql(t, target, "select 1")
	const words = `database "nosuchdb" does not exist`
	if !strings.Contains(out, words) {
		t.Fatalf("psql: %s", out)
	}
	r := pgprobe(t, nil, "-o", "table", target)
	mustCode(t, r, 1)
	if !strings.Contains(r.stdout, "server: "+words) {
		t.Errorf("the table lacks %q:\n%s", "server: "+words, r.stdout)
	}
}

// TestCountStatistics: -n's statistics come before the exit line, say how
// many runs failed, and give the mean and standard deviation; --interval
// pauses between runs.
func TestCountStatistics(t *testing.T) {
	c := sslServer(t)
	good := conn(c, "user=trustuser", "dbname=postgres")
	bad := conn(c, "user=trustuser", "dbname=nosuchdb")
	r := pgprobe(t, nil, "-o", "json", "-n", "3", "--interval", "10ms", good)
	mustCode(t, r, 0)
	mustEqual(t, r, "runs", 3)
	mustEqual(t, r, "runs_failed", 0)
	for _, f := range []string{"mean_ms", "stddev_ms", "p50_ms"} {
		if _, ok := get(r.doc, "stats.total."+f).(float64); !ok {
			t.Errorf(".stats.total.%s missing:\n%s", f, r.stdout)
		}
	}
	r = pgprobe(t, nil, "-o", "json", "-n", "2", bad)
	mustCode(t, r, 1)
	mustEqual(t, r, "runs_failed", 2)

	tl := pgprobe(t, nil, "-n", "2", "--interval", "0.01", bad)
	mustCode(t, tl, 1)
	stats, exit := strings.Index(tl.stdout, "2 runs, 2 failed (exit codes 1 1)"), strings.Index(tl.stdout, "\nexit 1")
	if stats < 0 || exit < stats || !strings.Contains(tl.stdout, "MEAN MS") || !strings.Contains(tl.stdout, "STDDEV MS") {
		t.Errorf("the statistics are not before the exit line, or lack the count of failures:\n%s", tl.stdout)
	}
	for _, bad := range []string{"-1s", "-2", "soon"} {
		r := pgprobe(t, nil, "-n", "2", "--interval", bad, good)
		mustCode(t, r, 3)
		if !strings.Contains(r.stderr, "invalid --interval") {
			t.Errorf("--interval %s: %s", bad, r.stderr)
		}
	}
}

// TestChecksRecorded: each check asked for is in .checks[] with what was
// wanted and found, in the timeline, and each failed one has its advice.
func TestChecksRecorded(t *testing.T) {
	c := sslServer(t)
	cert, key := c.CA.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}, NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)})
	c.SetServerCert(t, cert, key)
	tls12 := conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "ssl_max_protocol_version=TLSv1.2")
	if out, code := pgtest.RunPsql(t, tls12, "select 1"); code != 0 {
		t.Fatalf("psql: exit %d: %s", code, out)
	}
	r := pgprobe(t, nil, "-o", "json", "--min-cert-days", "30", "--min-tls-version", "1.3", tls12)
	mustCode(t, r, 4)
	mustEqual(t, r, "checks.0.name", "min-tls-version")
	mustEqual(t, r, "checks.0.ok", false)
	mustEqual(t, r, "checks.0.got", "TLSv1.2")
	mustEqual(t, r, "checks.1.name", "min-cert-days")
	mustEqual(t, r, "checks.1.ok", false)
	mustEqual(t, r, "checks.1.want", "30 days or more")
	msg, _ := get(r.doc, "error.message").(string)
	advice, _ := get(r.doc, "error.advice").(string)
	for i, w := range []string{"ssl_min_protocol_version", "Renew"} {
		if a, _ := get(r.doc, fmt.Sprintf("checks.%d.advice", i)).(string); !strings.Contains(a, w) || !strings.Contains(advice, a) {
			t.Errorf("check %d's advice %q lacks %q or is not in the verdict's %q", i, a, w, advice)
		}
	}
	if !strings.Contains(msg, "TLSv1.2") || !strings.Contains(msg, "5 days") {
		t.Errorf("error.message names one check only: %q", msg)
	}

	r = pgprobe(t, nil, "-o", "json", "--min-cert-days", "3", "--min-tls-version", "1.2", tls12)
	mustCode(t, r, 0)
	mustEqual(t, r, "checks.0.ok", true)
	mustEqual(t, r, "checks.1.ok", true)
	mustEqual(t, r, "checks.1.got", "5 days (until "+time.Now().Add(5*24*time.Hour+time.Hour).UTC().Format("2006-01-02")+")")

	tl := pgprobe(t, nil, "--min-cert-days", "30", "--min-tls-version", "1.2", tls12)
	mustCode(t, tl, 4)
	for _, w := range []string{"✓ min-tls-version  TLSv1.2 (want TLSv1.2 or newer)", "✗ min-cert-days    5 days", "(want 30 days or more)"} {
		if !strings.Contains(tl.stdout, w) {
			t.Errorf("the timeline lacks %q:\n%s", w, tl.stdout)
		}
	}
	// No check asked for: no checks recorded.
	if r := pgprobe(t, nil, "-o", "json", tls12); get(r.doc, "checks") != nil {
		t.Errorf(".checks without any check: %v", get(r.doc, "checks"))
	}
}
