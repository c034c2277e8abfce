package cliargs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReadTargets(t *testing.T) {
	body := "# fleet\n\nhost=a\n  postgresql://b/x  \n\t# indented comment\nhost=c port=1\n"
	got, err := ReadTargets("-", strings.NewReader(body))
	if want := []string{"host=a", "postgresql://b/x", "host=c port=1"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	p := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if got2, err := ReadTargets(p, nil); err != nil || !reflect.DeepEqual(got2, got) {
		t.Errorf("from a file: %q, %v", got2, err)
	}
	if _, err := ReadTargets("-", strings.NewReader("# nothing\n\n")); err == nil {
		t.Error("an empty list is an error")
	}
	if _, err := ReadTargets(filepath.Join(p, "missing"), nil); err == nil {
		t.Error("a missing file is an error")
	}
}

// TestReadTargetsComments: a # starts a comment at the start of a line or
// after white space, never inside a quoted conninfo value, after a
// backslash, or in a URI where no space precedes it.
func TestReadTargetsComments(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"host=db2 # standby", "host=db2"},
		{"host=db2\t# standby", "host=db2"},
		{"host=db2 #", "host=db2"},
		{"postgresql://db2/app # standby", "postgresql://db2/app"},
		{"host=db2 application_name='a #b' # c", "host=db2 application_name='a #b'"},
		{"host=db2 application_name='it\\'s #1' # c", "host=db2 application_name='it\\'s #1'"},
		{"host=db2 application_name=a#b", "host=db2 application_name=a#b"},
		{"host=db2 application_name=a\\ #b", "host=db2 application_name=a\\ #b"},
		{"postgresql://db2/app?application_name=it's #c", "postgresql://db2/app?application_name=it's"},
		{"postgresql://db2/app#x", "postgresql://db2/app#x"},
	} {
		got, err := ReadTargets("-", strings.NewReader(tc.line+"\n"))
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

// TestReadTargetsLongLine names the line that is too long and the limit,
// instead of bufio's "token too long".
func TestReadTargetsLongLine(t *testing.T) {
	body := "host=a\n# ok\n" + "host=" + strings.Repeat("x", 5<<20) + "\nhost=b\n"
	p := filepath.Join(t.TempDir(), "fleet.txt")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTargets(p, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3 is longer than 1048576 bytes") || strings.Contains(err.Error(), "token too long") {
		t.Errorf("got %v, want line 3 named with the limit", err)
	}
}

// TestReadWords: plain words are psql's [DBNAME [USERNAME]], filling what
// -d and -U left empty; connection strings and URIs are targets; a mix is
// an error.
func TestReadWords(t *testing.T) {
	for _, tc := range []struct {
		name         string
		words        []string
		dbname, user bool
		want         Words
		err          string
	}{
		{name: "none", want: Words{}},
		{name: "dbname", words: []string{"postgres"}, want: Words{Targets: []string{"postgres"}}},
		{name: "dbname user", words: []string{"postgres", "testuser"}, want: Words{Targets: []string{"postgres"}, User: "testuser", HasUser: true}},
		{name: "extra", words: []string{"postgres", "testuser", "x"}, want: Words{Targets: []string{"postgres"}, User: "testuser", HasUser: true, Ignored: []string{"x"}}},
		{name: "-d then user", words: []string{"testuser"}, dbname: true, want: Words{User: "testuser", HasUser: true}},
		{name: "-U then dbname", words: []string{"postgres", "x"}, user: true, want: Words{Targets: []string{"postgres"}, Ignored: []string{"x"}}},
		{name: "-d -U", words: []string{"x"}, dbname: true, user: true, want: Words{Ignored: []string{"x"}}},
		{name: "empty dbname", words: []string{"", "testuser"}, want: Words{Targets: []string{""}, User: "testuser", HasUser: true}},
		{name: "fleet", words: []string{"host=a", "postgresql://b/c"}, want: Words{Targets: []string{"host=a", "postgresql://b/c"}}},
		{name: "one conninfo", words: []string{"host=a"}, user: true, want: Words{Targets: []string{"host=a"}}},
		{name: "mixed", words: []string{"host=a", "postgres"}, err: `"host=a" is a connection string or URI and "postgres" is not`},
		{name: "mixed the other way", words: []string{"postgres", "postgresql://b"}, err: `write "dbname=postgres"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadWords(tc.words, tc.dbname, tc.user)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestValueHint: a flag value that does not parse says what to give.
func TestValueHint(t *testing.T) {
	app := &cli.App{Flags: []cli.Flag{&cli.Uint64Flag{Name: "seed"}, &cli.BoolFlag{Name: "ping"}},
		Commands: []*cli.Command{{Name: "listen", Flags: []cli.Flag{&cli.IntFlag{Name: "count", Aliases: []string{"n"}}}}}}
	for _, tc := range []struct{ msg, want string }{
		{`invalid value "abc" for flag -seed: parse error`, `invalid value "abc" for flag -seed: give a whole number from 0 to 18446744073709551615`},
		{`invalid value "99999999999999999999" for flag -seed: value out of range`, `invalid value "99999999999999999999" for flag -seed: out of range: give a smaller whole number from 0 to 18446744073709551615`},
		{`invalid boolean value "maybe" for -ping: parse error`, `invalid value "maybe" for flag -ping: give true or false, or the flag alone`},
		{`invalid value "x" for flag -n: parse error`, `invalid value "x" for flag -n: give a whole number`},
		{`flag provided but not defined: -bogus`, `flag provided but not defined: -bogus`},
	} {
		if got := ValueHint(app, tc.msg); got != tc.want {
			t.Errorf("ValueHint(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
