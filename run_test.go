//go:build unix

package main

// End-to-end tests of how often and how many targets are probed: -q,
// --wait, fleets (--targets-file, --concurrency, -o table/json/ndjson) and
// -n/--count, against real PostgreSQL 15 clusters.

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
	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// pgprobeRaw runs the command like pgprobe() but never fails the test, so
// it may run in a goroutine; tty makes --wait show its progress.
func pgprobeRaw(home string, tty bool, args ...string) result {
	var out, errb bytes.Buffer
	vars := map[string]string{"HOME": home, "NO_COLOR": "1"}
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, NoTTY: true, ProgressTTY: tty,
		Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	code := runEnv(e, append([]string{"pgprobe"}, args...))
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	_ = json.Unmarshal(out.Bytes(), &r.doc)
	return r
}

func TestQuiet(t *testing.T) {
	c := plainServer(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // "": nothing; else what stderr must be
	}{
		{[]string{"-q", conn(c, "user=trustuser", "dbname=postgres")}, 0, ""},
		{[]string{conn(c, "user=nohba", "dbname=postgres"), "--quiet", "-o", "json"}, 1, ""},
		{[]string{"-q", "--ping", fmt.Sprintf("host=127.0.0.1 port=%d", pgtest.FreePort(t))}, 2, ""},
		// A mistake in a connection string is a usage error: -q does not
		// hide it, or a CI step with a typo in its URL fails in silence.
		{[]string{"-q", "-o", "ndjson", "sslmode=bogus"}, 3, "pgprobe: invalid sslmode value: \"bogus\"\n"},
		{[]string{"-q", "--wait", "5s", "postgresql://h:99999/d"}, 3, "pgprobe: invalid port number: \"99999\"\n"},
		{[]string{"-q", "-o", "table", conn(c, "user=trustuser", "dbname=postgres"), "sslmode=bogus"}, 3, "pgprobe: sslmode=bogus: invalid sslmode value: \"bogus\"\n"},
	} {
		r := pgprobe(t, nil, tc.args...)
		if r.code != tc.code || r.stdout != "" || r.stderr != tc.stderr {
			t.Errorf("%q: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.args, r.code, tc.code, r.stdout, r.stderr, tc.stderr)
		}
	}
	// A fleet's usage errors come out in the order of the targets file
	// (not as the probes finish), cleaned of control characters as the
	// table is, one "pgprobe: TARGET: MESSAGE" line each.
	good := conn(c, "user=trustuser", "dbname=postgres")
	lines := []string{good}
	var want strings.Builder
	for i := range 24 {
		lines = append(lines, fmt.Sprintf("sslmode=bogus%d", i))
		fmt.Fprintf(&want, "pgprobe: sslmode=bogus%d: invalid sslmode value: \"bogus%d\"\n", i, i)
		if i == 5 {
			lines = append(lines, good, "sslmode=a\x1b[2Jb", "\x1b]0;title\x07bad=1", "\u009bbad2=1")
			want.WriteString(`pgprobe: sslmode=a\x1b[2Jb: invalid sslmode value: "a\x1b[2Jb"` + "\n")
			want.WriteString(`pgprobe: \x1b]0;title\x07bad=1: invalid connection option "\x1b]0;title\x07bad"` + "\n")
			want.WriteString(`pgprobe: \u009bbad2=1: invalid connection option "\u009bbad2"` + "\n")
		}
	}
	for _, args := range [][]string{
		{"-q", "--targets-file", "-"},
		{"-q", "--concurrency", "3", "--targets-file", "-"},
		{"-q", "-o", "json", "--targets-file", "-"},
	} {
		for range 3 {
			r := pgprobe(t, map[string]string{"STDIN": strings.Join(lines, "\n") + "\n"}, args...)
			if r.code != 3 || r.stdout != "" || r.stderr != want.String() {
				t.Errorf("%q: exit %d (want 3), stdout %q, stderr:\n%s\nwant:\n%s", args, r.code, r.stdout, r.stderr, want.String())
				break
			}
		}
	}
	// Usage errors still say what is wrong, on stderr, with exit 3.
	r := pgprobe(t, nil, "-q", "-o", "xml", conn(c))
	if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "invalid --output") {
		t.Errorf("usage error under -q: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestWaitUntilUp stops a cluster, starts pgprobe --wait 30s, and brings
// the cluster back after about a second: pgprobe must exit 0 soon after.
func TestWaitUntilUp(t *testing.T) {
	c := plainServer(t)
	target := conn(c, "user=trustuser", "dbname=postgres")
	c.Stop(t)
	home := t.TempDir()
	began := time.Now()
	done := make(chan result, 1)
	go func() { done <- pgprobeRaw(home, true, "--wait", "30s", "-o", "json", target) }()
	time.Sleep(time.Second)
	c.Restart(t)
	up := time.Now()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("pgprobe --wait did not return 20s after the server came up")
	}
	took, after := time.Since(began), time.Since(up)
	mustCode(t, r, 0)
	mustEqual(t, r, "ok", true)
	if tries, _ := get(r.doc, "tries").(float64); tries < 2 {
		t.Errorf(".tries = %v, want 2 or more (the server was down at first)", tries)
	}
	// The outage lasted ≥1s; the pause between tries is at most 2s.
	if took < time.Second || after > 4*time.Second {
		t.Errorf("took %v in all, %v after the server was up", took, after)
	}
	// Progress went to stderr, rewritten in place, and was cleared.
	if !strings.Contains(r.stderr, "\rpgprobe: waiting") && !strings.Contains(r.stderr, "\r\x1b[Kpgprobe: waiting") ||
		!strings.Contains(r.stderr, "try 1: connect: Connection refused") || !strings.HasSuffix(r.stderr, "\r\x1b[K") || strings.Contains(r.stderr, "\n") {
		t.Errorf("progress on stderr: %q", r.stderr)
	}
	// Once up, --ping --wait returns at once.
	r = pgprobe(t, nil, "--ping", "--wait", "10s", "-o", "json", target)
	mustCode(t, r, 0)
	mustEqual(t, r, "tries", 1)
}

func TestWaitNeverUp(t *testing.T) {
	target := fmt.Sprintf("host=127.0.0.1 port=%d", pgtest.FreePort(t))
	for _, args := range [][]string{
		{"--wait", "2s", "-o", "json", target},
		{"--ping", "--wait", "2", "-o", "json", target},
	} {
		began := time.Now()
		r := pgprobe(t, nil, args...)
		took := time.Since(began)
		mustCode(t, r, 2)
		mustEqual(t, r, "error.class", "connect")
		if took < 1800*time.Millisecond || took > 5*time.Second {
			t.Errorf("%q took %v, want about 2s", args, took)
		}
		if tries, _ := get(r.doc, "tries").(float64); tries < 3 {
			t.Errorf("%q: .tries = %v", args, tries)
		}
		if r.stderr != "" {
			t.Errorf("no progress without a terminal, got %q", r.stderr)
		}
	}
	// Unusable settings are not retried; bad --wait values are usage errors.
	began := time.Now()
	r := pgprobe(t, nil, "--wait", "10s", "-o", "json", "sslmode=bogus")
	mustCode(t, r, 3)
	mustEqual(t, r, "tries", 1)
	if time.Since(began) > 2*time.Second {
		t.Error("a usage error was retried")
	}
	for _, bad := range [][]string{{"--wait", "soon"}, {"--wait", "0"}, {"--wait", "1s", "-n", "2"}, {"-n", "0"}, {"--concurrency", "0"}} {
		if r := pgprobe(t, nil, append(bad, target)...); r.code != 3 || r.stdout != "" || r.stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
}

// TestFleet probes 100 targets — a real cluster with several users, refused
// ports and a bad option value — given partly as arguments and partly in a
// --targets-file.
func TestFleet(t *testing.T) {
	c := sslServer(t)
	refused := fmt.Sprintf("host=127.0.0.1 port=%d user=trustuser", pgtest.FreePort(t))
	kinds := []struct {
		target string
		code   int
		class  string
		auth   string
	}{
		{conn(c, "user=scramuser", "dbname=postgres", "password="+scramPW), 0, "-", "scram-sha-256-plus"},
		{conn(c, "user=md5user", "dbname=postgres", "password="+md5PW), 0, "-", "md5"},
		{conn(c, "user=trustuser", "dbname=postgres"), 0, "-", "trust"},
		{conn(c, "user=nohba", "dbname=postgres"), 1, "auth", ""},
		{conn(c, "user=scramuser", "dbname=postgres", "password=wrong"), 1, "auth", ""},
		{refused, 2, "connect", ""},
		{conn(c, "user=trustuser", "sslmode=bogus"), 3, "usage", ""},
	}
	var targets []string
	var want []int
	for i := 0; i < 100; i++ {
		targets = append(targets, kinds[i%len(kinds)].target)
		want = append(want, i%len(kinds))
	}
	file := filepath.Join(t.TempDir(), "targets")
	body := "# the fleet\n\n" + strings.Join(targets[10:], "\n  # a comment\n") + "\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, targets[:10]...), "--targets-file", file)

	began := time.Now()
	r := pgprobe(t, nil, append([]string{"-o", "json"}, args...)...)
	t.Logf("100 targets in %v", time.Since(began))
	mustCode(t, r, 3)
	mustEqual(t, r, "exit_code", 3)
	mustEqual(t, r, "ok", false)
	results, _ := get(r.doc, "results").([]any)
	if len(results) != 100 {
		t.Fatalf("%d results, want 100", len(results))
	}
	for i, res := range results {
		k := kinds[want[i]]
		if got := get(res, "target"); got != conninfo.Redact(targets[i]) {
			t.Fatalf("results[%d].target = %v, want %v", i, got, conninfo.Redact(targets[i]))
		}
		if got, _ := get(res, "exit_code").(float64); int(got) != k.code {
			t.Errorf("results[%d] (%s): exit %v, want %d", i, targets[i], got, k.code)
		}
		if k.auth != "" && get(res, "attempts.0.auth.method") != k.auth {
			t.Errorf("results[%d]: auth %v, want %s", i, get(res, "attempts.0.auth.method"), k.auth)
		}
	}
	if strings.Contains(r.stdout, scramPW) || strings.Contains(r.stdout, md5PW) {
		t.Error("a password is in the output")
	}

	// The table: one row per target, failures first (highest exit code first).
	r = pgprobe(t, nil, append([]string{"-o", "table", "--concurrency", "8"}, args...)...)
	mustCode(t, r, 3)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 101 {
		t.Fatalf("%d table lines, want 101:\n%s", len(lines), r.stdout)
	}
	header := strings.Fields(lines[0])
	if strings.Join(header, " ") != "TARGET VERDICT ADDRESS TLS AUTH SERVER ROLE TOTAL MS ERROR" {
		t.Errorf("header %q", lines[0])
	}
	classCode := map[string]int{"usage": 3, "connect": 2, "auth": 1, "-": 0}
	prev, counts := 9, map[string]int{}
	errorCol := strings.Index(lines[0], "ERROR")
	for _, line := range lines[1:] {
		// The ERROR column starts with the class: "connect: Connection refused".
		class, _, _ := strings.Cut(strings.Fields(line[errorCol:])[0], ":")
		code, ok := classCode[class]
		if !ok {
			t.Fatalf("row with error class %q: %s", class, line)
		}
		if code > prev {
			t.Errorf("row out of order (exit %d after %d): %s", code, prev, line)
		}
		prev = code
		counts[class]++
		if code == 0 {
			addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
			if !strings.Contains(line, "connected") || !strings.Contains(line, addr) || !strings.Contains(line, "TLSv1.3") || !strings.Contains(line, " 15.") {
				t.Errorf("connected row lacks verdict, address, TLS or server version: %s", line)
			}
		}
	}
	if counts["usage"] != 14 || counts["connect"] != 14 || counts["auth"] != 28 || counts["-"] != 44 {
		t.Errorf("rows by error class %v", counts)
	}

	// NDJSON: every event names its target; one verdict per target, in
	// order; then the fleet's verdict.
	r = pgprobe(t, nil, append([]string{"-o", "ndjson"}, args...)...)
	mustCode(t, r, 3)
	given := map[string]bool{}
	for _, tg := range targets {
		given[conninfo.Redact(tg)] = true
	}
	var verdicts []string
	ndjson := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var fleet map[string]any
	if err := json.Unmarshal([]byte(ndjson[len(ndjson)-1]), &fleet); err != nil ||
		fleet["type"] != "fleet_verdict" || fleet["exit_code"] != 3.0 || fleet["ok"] != false || fleet["targets"] != 100.0 || fleet["failed"] != 56.0 {
		t.Errorf("last NDJSON line should be the fleet's verdict (exit 3, 56 of 100 failed): %s", ndjson[len(ndjson)-1])
	}
	for _, line := range ndjson[:len(ndjson)-1] {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if tg, _ := ev["target"].(string); !given[tg] {
			t.Fatalf("line with target %q: %s", tg, line)
		}
		if ev["type"] == "verdict" {
			verdicts = append(verdicts, ev["target"].(string))
		}
	}
	if len(verdicts) != 100 || verdicts[99] != conninfo.Redact(targets[99]) {
		t.Errorf("%d verdict lines", len(verdicts))
	}

	// A targets file of one line is still a fleet: a script reading
	// .results must not get another shape when the file shrinks.
	one := filepath.Join(t.TempDir(), "one")
	if err := os.WriteFile(one, []byte(refused+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = pgprobe(t, nil, "-o", "json", "--targets-file", one)
	mustCode(t, r, 2)
	if results, _ := get(r.doc, "results").([]any); len(results) != 1 || get(results[0], "target") != refused {
		t.Errorf("one-line targets file: want {results: [one document]}, got %s", r.stdout)
	}
}

// TestFleetConcurrency: targets that each take ~300ms (a silent peer and
// --timeout 300ms) take about as long as one of them, not their sum.
func TestFleetConcurrency(t *testing.T) {
	silent := fmt.Sprintf("host=127.0.0.1 port=%d user=x", pgtest.SilentPeer(t))
	fleet := func(n int, extra ...string) (time.Duration, result) {
		args := append([]string{"-o", "json", "--timeout", "300ms"}, extra...)
		for i := 0; i < n; i++ {
			args = append(args, silent)
		}
		began := time.Now()
		r := pgprobe(t, nil, args...)
		return time.Since(began), r
	}
	took, r := fleet(40, "--concurrency", "40")
	mustCode(t, r, 2)
	if n := len(get(r.doc, "results").([]any)); n != 40 {
		t.Fatalf("%d results", n)
	}
	mustEqual(t, r, "results.39.error.class", "timeout")
	sequential := 40 * 300 * time.Millisecond
	if took < 300*time.Millisecond || took > sequential/4 {
		t.Errorf("40 targets of 300ms took %v (sequentially: %v)", took, sequential)
	}
	// The default --concurrency takes a fleet of 100 at once.
	took, r = fleet(100)
	mustCode(t, r, 2)
	if n := len(get(r.doc, "results").([]any)); n != 100 {
		t.Fatalf("%d results", n)
	}
	if sequential := 100 * 300 * time.Millisecond; took < 300*time.Millisecond || took > sequential/10 {
		t.Errorf("100 targets of 300ms at the default concurrency took %v (sequentially: %v)", took, sequential)
	}
	// --concurrency bounds it: 6 targets, 2 at a time, are 3 rounds.
	took, r = fleet(6, "--concurrency", "2")
	mustCode(t, r, 2)
	if took < 850*time.Millisecond || took > 5*time.Second {
		t.Errorf("6 targets 2 at a time took %v, want about 900ms", took)
	}
}

func TestCount(t *testing.T) {
	c := sslServer(t)
	target := conn(c, "user=scramuser", "dbname=postgres", "password="+scramPW)
	r := pgprobe(t, nil, "--count", "20", "-o", "json", target)
	mustCode(t, r, 0)
	mustEqual(t, r, "runs", 20)
	mustEqual(t, r, "ok", true)
	if codes, _ := get(r.doc, "run_exit_codes").([]any); len(codes) != 20 {
		t.Errorf("run_exit_codes %v", codes)
	}
	for _, step := range []string{"connect", "ssl_response", "tls_handshake", "auth_ok", "total"} {
		s, ok := get(r.doc, "stats."+step).(map[string]any)
		if !ok {
			t.Fatalf(".stats.%s missing: %v", step, get(r.doc, "stats"))
		}
		mn, p50, p95, mx := s["min_ms"].(float64), s["p50_ms"].(float64), s["p95_ms"].(float64), s["max_ms"].(float64)
		if !(0 <= mn && mn <= p50 && p50 <= p95 && p95 <= mx) || s["n"].(float64) != 20 {
			t.Errorf(".stats.%s = %v", step, s)
		}
	}
	// The document is the last run's.
	mustEqual(t, r, "attempts.0.auth.method", "scram-sha-256-plus")

	r = pgprobe(t, nil, "-n", "5", target)
	mustCode(t, r, 0)
	if !strings.Contains(r.stdout, "STEP (5 runs)") || !strings.Contains(r.stdout, "P95 MS") {
		t.Fatalf("no percentile table in the timeline:\n%s", r.stdout)
	}
	var rows []string
	for _, line := range strings.Split(r.stdout[strings.Index(r.stdout, "STEP (5 runs)"):], "\n")[1:] {
		if line == "" {
			break // the exit line follows the table
		}
		if f := strings.Fields(line); len(f) == 8 { // step, runs, min, p50, p95, max, mean, stddev
			rows = append(rows, f[0])
			if f[1] != "5" {
				t.Errorf("step %s in %s runs", f[0], f[1])
			}
		}
	}
	if len(rows) < 5 || rows[0] != "resolve" || rows[len(rows)-1] != "total" || !strings.Contains(strings.Join(rows, " "), "tls_handshake") {
		t.Errorf("percentile rows %v\n%s", rows, r.stdout)
	}

	// NDJSON: only the last run's events reach stdout, then one verdict.
	r = pgprobe(t, nil, "-n", "3", "-o", "ndjson", target)
	mustCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	seqs := map[float64]bool{}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if i == len(lines)-1 {
			if ev["type"] != "verdict" || ev["runs"] != 3.0 || ev["stats"] == nil {
				t.Errorf("last line: %s", line)
			}
		} else if seq := ev["seq"].(float64); seqs[seq] {
			t.Fatalf("events of more than one run: seq %v again", seq)
		} else {
			seqs[seq] = true
		}
	}

	// The exit code is the highest of the runs'.
	r = pgprobe(t, nil, "-n", "3", "-o", "json", conn(c, "user=scramuser", "dbname=postgres", "password=wrong"))
	mustCode(t, r, 1)
	mustEqual(t, r, "run_exit_codes", []any{1.0, 1.0, 1.0})
}

// Flag errors name the flag as it was typed: Go's flag package shows one
// dash whatever the user wrote.
func TestFlagErrorsAsTyped(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus-flag", "x"}, "pgprobe: flag provided but not defined: --bogus-flag\n"},
		{[]string{"--bogus=1"}, "pgprobe: flag provided but not defined: --bogus\n"},
		{[]string{"-bogus"}, "pgprobe: flag provided but not defined: -bogus\n"},
		{[]string{"--timeout"}, "pgprobe: flag needs an argument: --timeout\n"},
		{[]string{"-o"}, "pgprobe: flag needs an argument: -o\n"},
		{[]string{"--count", "abc"}, "pgprobe: invalid value \"abc\" for flag --count: give a whole number\n"},
	} {
		r := pgprobe(t, nil, tc.args...)
		if r.code != 3 || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.want) || !strings.Contains(r.stderr, "pgprobe --help") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 3 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// A fleet's --wait on a terminal shows one line for all its targets: how
// many are up, how many gave up and the latest failed try; it is cleared at
// the end and nothing else reaches stderr.
func TestWaitFleetProgress(t *testing.T) {
	c := plainServer(t)
	up := conn(c, "user=trustuser", "dbname=postgres")
	down := fmt.Sprintf("host=127.0.0.1 port=%d", pgtest.FreePort(t))
	r := pgprobeRaw(t.TempDir(), true, "--wait", "1s", "-o", "json", up, down)
	mustCode(t, r, 2)
	if n, _ := get(r.doc, "results").([]any); len(n) != 2 {
		t.Fatalf("want 2 results: %s", r.stdout)
	}
	for _, want := range []string{"\r\x1b[Kpgprobe: waiting ", "1 of 2 up", down + ", try 1: connect: Conn"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress should contain %q: %q", want, r.stderr)
		}
	}
	if !strings.HasSuffix(r.stderr, "\r\x1b[K") || strings.Contains(r.stderr, "\n") {
		t.Errorf("progress must end cleared, on one line: %q", r.stderr)
	}
}
