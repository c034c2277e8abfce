//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// wordsServer trusts every loopback login, so that only the user and
// database names decide what happens.
func wordsServer(t *testing.T) *pgtest.Cluster {
	t.Helper()
	return pgtest.Start(t, pgtest.Options{
		HBA:       []string{"host all all 127.0.0.1/32 trust"},
		Roles:     []pgtest.Role{{Name: "testuser"}, {Name: "other"}},
		Databases: []string{"db1", "my db"},
	})
}

// startupDetail is the StartupMessage event's detail of a probe's last attempt.
func startupDetail(t *testing.T, r result) string {
	t.Helper()
	atts, _ := get(r.doc, "attempts").([]any)
	if len(atts) == 0 {
		t.Fatalf("no attempt: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	evs, _ := get(atts[len(atts)-1], "events").([]any)
	for _, ev := range evs {
		if get(ev, "step") == "startup" {
			return get(ev, "detail").(string)
		}
	}
	t.Fatalf("no startup event: %s", r.stdout)
	return ""
}

// TestPsqlWords runs psql 15 and pgprobe with the same words after -h and
// -p, and checks that pgprobe logs in as the user, to the database, psql
// does (psql's [DBNAME [USERNAME]], filling what -d and -U left empty),
// and warns about the words psql ignores.
func TestPsqlWords(t *testing.T) {
	c := wordsServer(t)
	flags := []string{"-h", c.Host, "-p", strconv.Itoa(c.Port)}
	for _, words := range [][]string{
		{"db1", "testuser"},
		{"db1"},
		{"-d", "db1", "testuser"},
		{"-U", "testuser", "db1"},
		{"-U", "testuser", "db1", "other"},
		{"-d", "db1", "-U", "testuser", "other"},
		{"db1", "testuser", "extra"},
		{"-d", "dbname=db1", "other"},
		{"-d", "postgresql:///db1?user=testuser", "other"},
		{"my db", "testuser"},
		{"", "testuser"},
	} {
		t.Run(strings.Join(words, " "), func(t *testing.T) {
			args := append(append([]string{"-X", "-w", "-A", "-t"}, flags...), words...)
			out, code := pgtest.RunClient(t, "psql", append(args, "-c", "select current_user, current_database()"), "PGUSER=postgres")
			r := pgprobe(t, map[string]string{"PGUSER": "postgres"}, append(append([]string{"-o", "json"}, flags...), words...)...)
			for _, l := range strings.Split(out, "\n") {
				if w, ok := strings.CutPrefix(l, "psql: warning: "); ok && !strings.Contains(r.stderr, w) {
					t.Errorf("psql warned %q, pgprobe's stderr: %q", w, r.stderr)
				}
			}
			if !strings.Contains(out, "warning") && r.stderr != "" {
				t.Errorf("psql did not warn, pgprobe did: %q", r.stderr)
			}
			if code != 0 {
				msg := out[strings.Index(out, "FATAL:  ")+len("FATAL:  "):]
				if m, _ := get(r.doc, "error.message").(string); r.code != 1 || !strings.Contains(m, strings.TrimSpace(msg)) {
					t.Fatalf("psql failed with %q; pgprobe exit %d, %q", out, r.code, m)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			user, db, _ := strings.Cut(lines[len(lines)-1], "|")
			if r.code != 0 {
				t.Fatalf("psql logged in as %s to %s; pgprobe exit %d: %v", user, db, r.code, get(r.doc, "error"))
			}
			want := "StartupMessage 3.0: user=" + quoteStartup(user) + " database=" + quoteStartup(db) + " "
			if got := startupDetail(t, r); !strings.HasPrefix(got, want) {
				t.Errorf("psql logged in as %s to %s; pgprobe sent %q", user, db, got)
			}
		})
	}
}

// quoteStartup is how the timeline quotes a startup value: as a libpq
// connection string would.
func quoteStartup(v string) string {
	if strings.ContainsAny(v, " '\\") {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return v
}

// TestWordsSettings: settings reads DBNAME USERNAME as the probe does and
// says where each came from.
func TestWordsSettings(t *testing.T) {
	r := pgprobe(t, nil, "settings", "-o", "json", "db1", "testuser")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for path, want := range map[string]string{
		"settings.dbname.value": "db1", "settings.user.value": "testuser", "settings.user.source": "flag",
	} {
		if got := get(r.doc, path); got != want {
			t.Errorf("%s = %v, want %q", path, got, want)
		}
	}
	if r := pgprobe(t, nil, "settings", "host=a", "host=b"); r.code != 3 || !strings.Contains(r.stderr, "settings takes one target") {
		t.Errorf("two targets: exit %d: %s", r.code, r.stderr)
	}
}

// TestWordsUsage: connection strings and plain words do not mix, and the
// error says how to write either; a flag value that does not parse says
// what to give.
func TestWordsUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.txt")
	if err := os.WriteFile(file, []byte("host=a # primary\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"host=127.0.0.1 port=1", "postgres"}, `"postgres" is not: several targets must each be a connection string or URI (write "dbname=postgres"`},
		{[]string{"postgres", "postgresql://127.0.0.1:1/x"}, "user=postgres) or after -U"},
		{[]string{"--targets-file", file, "postgres"}, `with --targets-file the arguments are more targets, each a connection string or URI: "postgres" is neither`},
		{[]string{"--targets-file", "/nonexistent/fleet.txt"}, "could not read --targets-file"},
		{[]string{"--seed", "abc"}, `invalid value "abc" for flag --seed: give a whole number from 0 to 18446744073709551615`},
		{[]string{"listen", "--count", "x"}, `invalid value "x" for flag --count: give a whole number`},
	} {
		r := pgprobe(t, nil, tc.args...)
		if r.code != 3 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 3 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestOneHostWording: a target_session_attrs mismatch on the only host
// says there is no other host, not "trying the next host".
func TestOneHostWording(t *testing.T) {
	c := wordsServer(t)
	one := fmt.Sprintf("host=127.0.0.1 port=%d user=testuser dbname=postgres target_session_attrs=", c.Port)
	two := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=testuser dbname=postgres target_session_attrs=", c.Port, c.Port)
	for _, tc := range []struct {
		target, want, wantDetail string
		code                     int
	}{
		{one + "standby", "Terminate sent, no other host to try", "no server fits target_session_attrs=standby (the only host was tried)", 1},
		{one + "prefer-standby", "Terminate sent, no standby found: trying the hosts again, accepting any server", "", 0},
		{two + "standby", "Terminate sent, trying the next host", "no server fits target_session_attrs=standby (2 hosts tried)", 1},
	} {
		r := pgprobe(t, nil, "-o", "json", tc.target)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.want) || get(r.doc, "error.detail") != nil && get(r.doc, "error.detail") != tc.wantDetail {
			t.Errorf("%s: exit %d, error %v; want exit %d, %q and %q in\n%s", tc.target, r.code, get(r.doc, "error"), tc.code, tc.want, tc.wantDetail, r.stdout)
		}
		if strings.Contains(r.stdout, "host(s)") {
			t.Errorf("%s: says host(s)", tc.target)
		}
	}
}

// TestHelpExitCodes: --help lists every exit code of the README's table.
func TestHelpExitCodes(t *testing.T) {
	r := pgprobe(t, nil, "--help")
	_, section, ok := strings.Cut(r.stdout, "\nEXIT STATUS:\n")
	if r.code != 0 || !ok {
		t.Fatalf("exit %d, no EXIT STATUS section:\n%s", r.code, r.stdout)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "### Exit codes")
	n := 0
	for _, l := range strings.Split(table, "\n")[1:] {
		cell, _, isRow := strings.Cut(strings.TrimPrefix(l, "| "), " |")
		if strings.HasPrefix(l, "#") {
			break
		}
		// A row may hold several codes ("130, 143").
		for _, code := range strings.Split(cell, ", ") {
			if _, err := strconv.Atoi(code); !isRow || err != nil {
				continue
			}
			n++
			if !regexp.MustCompile(`(?m)^   (\d+ )*` + code + `\b`).MatchString(section) {
				t.Errorf("--help does not list exit code %s:\n%s", code, section)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d exit codes in the README's table", n)
	}
}
