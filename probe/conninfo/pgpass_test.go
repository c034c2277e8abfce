package conninfo

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPgpassLine(t *testing.T) {
	tests := []struct {
		line                 string
		host, port, db, user string
		wantPassword         string
		wantMatch            bool
	}{
		{line: "h:5432:db:u:pw\n", host: "h", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: "h:5432:db:u:pw\r\n", host: "h", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: "*:*:*:*:pw", host: "any", port: "1", db: "x", user: "y", wantPassword: "pw", wantMatch: true},
		{line: "h:*:db:*:pw", host: "h", port: "9", db: "db", user: "z", wantPassword: "pw", wantMatch: true},
		{line: "h:5432:db:u:pw", host: "H", port: "5432", db: "db", user: "u"},
		{line: "h:5432:db:u:pw", host: "h", port: "5433", db: "db", user: "u"},
		{line: "h:5432:db:u:pw", host: "h", port: "5432", db: "db2", user: "u"},
		{line: "h:5432:db:u:pw", host: "h", port: "5432", db: "db", user: "uu"},
		{line: "h:5432:db:uu:pw", host: "h", port: "5432", db: "db", user: "u"},
		{line: "hh:5432:db:u:pw", host: "h", port: "5432", db: "db", user: "u"},
		{line: "#h:5432:db:u:pw", host: "#h", port: "5432", db: "db", user: "u"},
		{line: "", host: "h", port: "5432", db: "db", user: "u"},
		{line: "h:5432:db:u", host: "h", port: "5432", db: "db", user: "u"},
		{line: "h:5432:db:u:", host: "h", port: "5432", db: "db", user: "u", wantPassword: "", wantMatch: true},
		{line: `h:5432:db:u:p\:w\\x`, host: "h", port: "5432", db: "db", user: "u", wantPassword: `p:w\x`, wantMatch: true},
		{line: `h:5432:db:u:pw:extra`, host: "h", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: `h:5432:db:u:pw\`, host: "h", port: "5432", db: "db", user: "u", wantPassword: `pw\`, wantMatch: true},
		{line: `a\:b:5432:db:u:pw`, host: "a:b", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: `a\\b:5432:db:u:pw`, host: `a\b`, port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: `\h:5432:db:u:pw`, host: "h", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: `*x:5432:db:u:pw`, host: "*x", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: `*x:5432:db:u:pw`, host: "h", port: "5432", db: "db", user: "u"},
		{line: `\*:5432:db:u:pw`, host: "h", port: "5432", db: "db", user: "u"},
		{line: `/var/run/postgresql:5432:db:u:pw`, host: "/var/run/postgresql", port: "5432", db: "db", user: "u", wantPassword: "pw", wantMatch: true},
		{line: "h:5432:db:u\\", host: "h", port: "5432", db: "db", user: "u"},
	}
	for _, tt := range tests {
		pw, ok := matchPgpassLine(tt.line, tt.host, tt.port, tt.db, tt.user)
		if ok != tt.wantMatch || pw != tt.wantPassword {
			t.Errorf("%q vs %s:%s:%s:%s: got (%q, %v), want (%q, %v)", tt.line, tt.host, tt.port, tt.db, tt.user, pw, ok, tt.wantPassword, tt.wantMatch)
		}
	}
}

func TestPgpassLookup(t *testing.T) {
	sock := DefaultSocketDir()
	file := "# comment\n" +
		"other:5432:*:*:wrong\n" +
		"localhost:5432:appdb:app:local-pw\n" +
		"db1:5432:appdb:app:db1-pw\n" +
		"db1:*:*:*:db1-any\n" +
		"10.0.0.9:5432:*:*:addr-pw\n" +
		"/sock:6000:*:*:sock-pw\n" +
		"db2:5432:bob:bob:bob-pw\n" +
		"*:*:*:*:fallback\n"
	tests := []struct {
		name   string
		target string
		env    []string
		want   []string // password of each host slot, "" = zero Value
		line   []int    // expected line number of each match
		kw     Value    // expected Settings "password" (Value only)
	}{
		{name: "first match wins", target: "host=db1 dbname=appdb user=app", want: []string{"db1-pw"}, line: []int{4}},
		{name: "wildcards", target: "host=db1 port=7 dbname=x user=y", want: []string{"db1-any"}, line: []int{5}},
		{name: "default socket dir matches localhost", target: "dbname=appdb user=app", want: []string{"local-pw"}, line: []int{3}},
		{name: "explicit default socket dir matches localhost", target: "host=" + sock + " dbname=appdb user=app", want: []string{"local-pw"}, line: []int{3}},
		{name: "other socket dir matches itself", target: "host=/sock port=6000", want: []string{"sock-pw"}, line: []int{7}},
		{name: "hostaddr when host is empty", target: "hostaddr=10.0.0.9", want: []string{"addr-pw"}, line: []int{6}},
		{name: "host, not hostaddr, when both", target: "host=db1 hostaddr=10.0.0.9", want: []string{"db1-any"}, line: []int{5}},
		{name: "per host", target: "host=db1,other,nomatch dbname=appdb user=app", want: []string{"db1-pw", "wrong", "fallback"}, line: []int{4, 2, 9}},
		{name: "empty port element means 5432", target: "host=db1,other port=,7 dbname=appdb user=app", want: []string{"db1-pw", "fallback"}, line: []int{4, 9}},
		{name: "dbname defaults to user", target: "host=db2 user=bob", want: []string{"bob-pw"}, line: []int{8}},
		{name: "password given: file not consulted", target: "host=db1 password=given", want: []string{"given"}},
		{name: "empty password: file consulted", target: "host=db1 password=''", want: []string{"db1-any"}, line: []int{5}},
		{name: "PGPASSWORD given", target: "host=db1", env: []string{"PGPASSWORD", "envpw"}, want: []string{"envpw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t).set(tt.env...)
			path := env.write(".pgpass", file, 0o600)
			s := env.mustResolve(tt.target)
			hosts, err := s.Hosts()
			if err != nil {
				t.Fatal(err)
			}
			if len(hosts) != len(tt.want) {
				t.Fatalf("%d hosts, want %d", len(hosts), len(tt.want))
			}
			for i, h := range hosts {
				if h.Password.Value != tt.want[i] {
					t.Errorf("host %d (%s): password %q, want %q", i, h.Host, h.Password.Value, tt.want[i])
				}
				if tt.line != nil {
					wantOrigin := path + ":" + strconv.Itoa(tt.line[i])
					if h.Password.Source != SourcePgpass || h.Password.Origin != wantOrigin {
						t.Errorf("host %d: %s %q, want pgpass %q", i, h.Password.Source, h.Password.Origin, wantOrigin)
					}
				}
			}
			// The password keyword shows the first host's.
			if pw := s.Get("password"); pw != tt.want[0] {
				t.Errorf("Get(password) = %q, want %q", pw, tt.want[0])
			}
			if w := s.Warnings(); len(w) != 0 {
				t.Errorf("warnings: %q", w)
			}
		})
	}
}

func TestPgpassFileChecks(t *testing.T) {
	const line = "*:*:*:*:pw\n"
	tests := []struct {
		name    string
		setup   func(env *testEnv) string // returns the passfile to use ("" = default)
		want    string
		warning string // with FILE for the file's path
	}{
		{name: "0600", setup: func(e *testEnv) string { e.write(".pgpass", line, 0o600); return "" }, want: "pw"},
		{name: "0400", setup: func(e *testEnv) string { e.write(".pgpass", line, 0o400); return "" }, want: "pw"},
		{name: "0640 is ignored", setup: func(e *testEnv) string { e.write(".pgpass", line, 0o640); return "" },
			warning: `WARNING: password file "FILE" has group or world access; permissions should be u=rw (0600) or less`},
		{name: "0604 is ignored", setup: func(e *testEnv) string { e.write(".pgpass", line, 0o604); return "" },
			warning: `WARNING: password file "FILE" has group or world access; permissions should be u=rw (0600) or less`},
		{name: "0610 is ignored", setup: func(e *testEnv) string { e.write(".pgpass", line, 0o610); return "" },
			warning: `WARNING: password file "FILE" has group or world access; permissions should be u=rw (0600) or less`},
		{name: "a directory", setup: func(e *testEnv) string {
			p := filepath.Join(e.home, "dir")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, warning: `WARNING: password file "FILE" is not a plain file`},
		{name: "missing file is silently ignored", setup: func(e *testEnv) string { return filepath.Join(e.home, "nope") }},
		{name: "passfile keyword", setup: func(e *testEnv) string { return e.write("elsewhere", line, 0o600) }, want: "pw"},
		{name: "symlink to a good file", setup: func(e *testEnv) string {
			target := e.write("real", line, 0o600)
			link := filepath.Join(e.home, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, want: "pw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			file := tt.setup(env)
			target := "host=a,b"
			if file != "" {
				target += " passfile=" + file
			} else {
				file = filepath.Join(env.home, ".pgpass")
			}
			s := env.mustResolve(target)
			hosts, err := s.Hosts()
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hosts {
				if h.Password.Value != tt.want {
					t.Errorf("password %q, want %q", h.Password.Value, tt.want)
				}
			}
			var want []string
			if tt.warning != "" {
				want = []string{strings.ReplaceAll(tt.warning, "FILE", file)}
			}
			got := s.Warnings()
			if len(got) != len(want) || (len(want) == 1 && got[0] != want[0]) {
				t.Errorf("warnings %q, want %q (each once)", got, want)
			}
		})
	}
}
