package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// tooWide lists the lines of out wider than w cells, escapes not counted.
func tooWide(out string, w int) []string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		if width(l) > w {
			bad = append(bad, fmt.Sprintf("%d: %q", width(l), l))
		}
	}
	return bad
}

// colourLeft lists the lines that end with a colour still on, which would
// colour the next line's indent.
func colourLeft(out string) []string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		on := false
		for i := 0; i < len(l); {
			if l[i] != 0x1b {
				i++
				continue
			}
			k := escEnd(l, i)
			on = !isReset(l[i:k])
			i = k
		}
		if on {
			bad = append(bad, l)
		}
	}
	return bad
}

// longFields is a record whose every human-readable field is longer than
// a line: target, warning, attempt facts, details, the error, untrusted
// text, certificate names.
func longFields() *statelog.Log {
	l := hba28000()
	long := strings.Repeat("verylongword", 12)
	l.Target += " application_name=" + long
	l.Warnings = append(l.Warnings, "WARNING: password file \"/home/someone/with/a/very/deep/home/directory/and/more/.pgpass\" has group or world access; permissions should be u=rw (0600) or less")
	a := l.Attempts[len(l.Attempts)-1]
	a.Reason = "because " + long
	a.Events[0].Detail = "detail " + long + " and more words after it to wrap"
	l.Error.Untrusted = long + long
	l.Error.Hint = "a hint that goes on and on: " + long
	return l
}

// TestLinesFitTheWidth renders every fixture, and a record of long fields,
// in every human format at 80 and 200 columns (and the 40-column floor),
// coloured and not, and finds no line wider than the terminal.
func TestLinesFitTheWidth(t *testing.T) {
	logs := []*statelog.Log{longFields()}
	for _, fx := range fixtures {
		logs = append(logs, fx.log())
	}
	stats := refused()
	stats.Runs = 3
	stats.Stats = map[string]statelog.Stats{statelog.StepConnect: {N: 3, MinMS: 1, P50MS: 2, P95MS: 3, MaxMS: 3}, statelog.StatsTotal: {N: 3, MinMS: 1, P50MS: 2, P95MS: 3, MaxMS: 3}}
	settings, err := conninfo.Resolve(conninfo.Input{
		Target:  "host=db.example.com port=5432 user=app dbname=shop sslmode=verify-full sslrootcert=/etc/ssl/some/very/long/path/to/a/certificate/authority/bundle/root.crt options='-c search_path=a,b,c -c statement_timeout=30s -c lock_timeout=10s'",
		Getenv:  func(string) (string, bool) { return "", false },
		HomeDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{MinWidth, 80, 200} {
		for _, color := range []bool{false, true} {
			for _, verbose := range []bool{false, true} {
				o := Options{Width: w, Color: color, Verbose: verbose}
				check := func(what string, f func(*bytes.Buffer) error) {
					t.Helper()
					out := string(render(t, f))
					if bad := tooWide(out, w); len(bad) > 0 {
						t.Errorf("%s at %d columns (colour %v, verbose %v): %d lines too wide:\n%s", what, w, color, verbose, len(bad), strings.Join(bad, "\n"))
					}
					if bad := colourLeft(out); len(bad) > 0 {
						t.Errorf("%s at %d columns: a colour goes on past the end of %q", what, w, bad)
					}
				}
				for _, l := range logs {
					check("timeline of "+l.Target, func(b *bytes.Buffer) error { return Timeline(b, l, o) })
				}
				check("table", func(b *bytes.Buffer) error { return Table(b, logs, o) })
				check("table of one", func(b *bytes.Buffer) error { return Table(b, logs[:1], o) })
				for _, format := range []string{"timeline", "table"} {
					fo := o
					fo.Fleet = true
					check(format+" with statistics", func(b *bytes.Buffer) error { b.WriteString(writeAll(t, format, fo, stats, longFields())); return nil })
				}
				check("session", func(b *bytes.Buffer) error { return SessionTimeline(b, sampleSession(), o) })
				check("settings", func(b *bytes.Buffer) error {
					return SettingsTable(b, o, settings, []string{"libpq will try db.example.com first, then give up: " + strings.Repeat("word ", 40)})
				})
			}
		}
	}
}

// TestLayoutByWidth: at 200 columns a row keeps libpq's state names, its
// bar and its detail on one line; at 80 the detail goes under its row,
// indented to the state column, and what does not fit is wrapped, nothing
// lost; at 40 the state goes too.
func TestLayoutByWidth(t *testing.T) {
	l := okTLSScram()
	at := func(w int) string {
		return string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, Options{Width: w}) }))
	}
	const detail = "TLSv1.3 TLS_AES_128_GCM_SHA256, chain and host name verified"
	next := func(out, row string) (string, string) {
		ls := strings.Split(out, "\n")
		for i, s := range ls[:len(ls)-1] {
			if strings.Contains(s, row) {
				return s, ls[i+1]
			}
		}
		return "", ""
	}
	wide, _ := next(at(200), "tls_handshake")
	if !strings.Contains(wide, "CONNECTION_SSL_STARTUP        tls_handshake") || !strings.Contains(wide, "█") || !strings.HasSuffix(wide, detail) {
		t.Errorf("at 200 columns: %q", wide)
	}
	narrow := at(80)
	row, under := next(narrow, "tls_handshake")
	if strings.Contains(row, "TLSv1.3") || under != strings.Repeat(" ", 11)+detail {
		t.Errorf("at 80 columns, the detail is not under its row:\n%s\n%s", row, under)
	}
	flat := strings.Join(strings.Fields(narrow), "")
	if sha := l.Attempts[0].TLS.PeerCertificates[0].SHA256; !strings.Contains(flat, "sha256"+sha) {
		t.Errorf("at 80 columns, the certificate's sha256 is lost:\n%s", narrow)
	}
	if row, _ := next(at(MinWidth), "tls_handshake"); strings.Contains(row, "SSL_STARTUP") {
		t.Errorf("at %d columns the state should go: %q", MinWidth, row)
	}
}

func TestWrapWidths(t *testing.T) {
	red := "\x1b[31m"
	cases := []struct {
		name        string
		text        string
		first, rest int
		want        []string
	}{
		{"fits", "FATAL:  no entry", 20, 20, []string{"FATAL:  no entry"}},
		{"keeps inner spaces", "FATAL:  password authentication failed", 20, 20, []string{"FATAL:  password", "authentication", "failed"}},
		{"hanging", "one two three four", 7, 10, []string{"one two", "three four"}},
		{"breaks a long word", "abcdefghij", 4, 4, []string{"abcd", "efgh", "ij"}},
		{"keeps a backtick span", "run `pg_isready -h x` now", 17, 17, []string{"run", "`pg_isready -h x`", "now"}},
		{"carries colour", red + "aaa bbb" + sgrReset, 3, 3, []string{red + "aaa" + sgrReset, red + "bbb" + sgrReset}},
		{"a span's own reset ends the colour", "\x1b[1maaa bbb\x1b[22m ccc", 3, 3, []string{"\x1b[1maaa" + sgrReset, "\x1b[1mbbb\x1b[22m", "ccc"}},
		{"leading blanks kept", "  Is the server running?", 30, 30, []string{"  Is the server running?"}},
	}
	for _, c := range cases {
		got := wrapWidths(c.text, c.first, c.rest)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"host=db", 10, "host=db"}, {"host=db.example.com", 8, "host=db…"}, {"abc", 1, "a"}} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

// TestTableGivesWay: a narrow table narrows TARGET, then drops ROLE,
// SERVER, AUTH and TLS in that order before anything else.
func TestTableGivesWay(t *testing.T) {
	var logs []*statelog.Log
	for _, fx := range fixtures {
		logs = append(logs, fx.log())
	}
	for _, c := range []struct {
		w          int
		want, gone []string
	}{
		{200, []string{"TARGET", "VERDICT", "ADDRESS", "TLS", "AUTH", "SERVER", "ROLE", "TOTAL MS", "ERROR"}, nil},
		// At 80 the error's words (class and libpq's message) leave no
		// room for ADDRESS either.
		{80, []string{"TARGET", "VERDICT", "TOTAL MS", "ERROR"}, []string{"ROLE", "SERVER", "AUTH", "TLS"}},
	} {
		out := string(render(t, func(b *bytes.Buffer) error { return Table(b, logs, Options{Width: c.w}) }))
		head := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		joined := " " + strings.Join(head, " ") + " "
		for _, h := range c.want {
			if !strings.Contains(joined, " "+h+" ") {
				t.Errorf("%d columns: no %s column:\n%s", c.w, h, out)
			}
		}
		for _, h := range c.gone {
			if strings.Contains(joined, " "+h+" ") {
				t.Errorf("%d columns: %s should have gone:\n%s", c.w, h, out)
			}
		}
	}
}

func TestWidthFromTerminalOrColumns(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "COLUMNS" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		columns string
		want    int
	}{{"", 0}, {"132", 132}, {" 90 ", 90}, {"abc", 0}, {"-5", 0}, {"0", 0}} {
		if got := Width(&bytes.Buffer{}, env(c.columns)); got != c.want {
			t.Errorf("COLUMNS=%q: width %d, want %d", c.columns, got, c.want)
		}
	}
	if got := (Options{Width: 10}).width(); got != MinWidth {
		t.Errorf("a 10-column width lays out at %d, want %d", got, MinWidth)
	}
	if got := (Options{}).width(); got != DefaultWidth {
		t.Errorf("an unknown width lays out at %d, want %d", got, DefaultWidth)
	}
	// Not knowing the width, a table keeps every column.
	var logs []*statelog.Log
	for _, fx := range fixtures {
		logs = append(logs, fx.log())
	}
	out := string(render(t, func(b *bytes.Buffer) error { return Table(b, logs, Options{}) }))
	if head := strings.SplitN(out, "\n", 2)[0]; !strings.Contains(head, " ROLE ") || width(head) <= DefaultWidth {
		t.Errorf("a table of unknown width lost columns: %q", head)
	}
}
