package conninfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testEnv is a hermetic environment: only what the test sets, plus a
// PGSYSCONFDIR pointing at an empty directory so that the machine's
// /etc/postgresql-common/pg_service.conf is never read.
type testEnv struct {
	t    *testing.T
	home string
	vars map[string]string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	home := t.TempDir()
	sys := filepath.Join(home, "sysconf")
	if err := os.Mkdir(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, home: home, vars: map[string]string{"HOME": home, "PGSYSCONFDIR": sys}}
}

func (e *testEnv) set(kv ...string) *testEnv {
	for i := 0; i+1 < len(kv); i += 2 {
		e.vars[kv[i]] = kv[i+1]
	}
	return e
}

func (e *testEnv) getenv(k string) (string, bool) {
	v, ok := e.vars[k]
	return v, ok
}

func (e *testEnv) input(target string, flags ...string) Input {
	in := Input{Target: target, Getenv: e.getenv, HomeDir: e.home, OSUser: "alice"}
	if len(flags) > 0 {
		in.Flags = map[string]string{}
		for i := 0; i+1 < len(flags); i += 2 {
			in.Flags[flags[i]] = flags[i+1]
		}
	}
	return in
}

// write creates a file under the test's home directory and returns its path.
func (e *testEnv) write(name, content string, perm os.FileMode) string {
	e.t.Helper()
	p := filepath.Join(e.home, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *testEnv) resolve(target string, flags ...string) (*Settings, error) {
	return Resolve(e.input(target, flags...))
}

func (e *testEnv) mustResolve(target string, flags ...string) *Settings {
	e.t.Helper()
	s, err := e.resolve(target, flags...)
	if err != nil {
		e.t.Fatalf("Resolve(%q, %v): %v", target, flags, err)
	}
	return s
}

// uriRegress formats a parsed connection string as libpq's
// libpq_uri_regress does: every option whose value differs from the
// default (PQconndefaults), in table order, then "(local)" or "(inet)".
func uriRegress(t *testing.T, env *testEnv, target string) (string, string) {
	t.Helper()
	params, err := parseConnString(target)
	if err != nil {
		return "", err.Message
	}
	defs, derr := Resolve(env.input(""))
	if derr != nil {
		t.Fatalf("defaults: %v", derr)
	}
	vals := map[string]string{}
	for _, p := range params {
		vals[p.keyword] = p.value
	}
	var b strings.Builder
	local := true
	for _, k := range Keywords {
		v, ok := vals[k.Name]
		if !ok {
			continue
		}
		if d, ok := defs.Lookup(k.Name); ok && d.Value == v {
			continue
		}
		b.WriteString(k.Name + "='" + v + "' ")
		if k.Name == "hostaddr" || (k.Name == "host" && !strings.HasPrefix(v, "/")) {
			local = false
		}
	}
	if local {
		b.WriteString("(local)")
	} else {
		b.WriteString("(inet)")
	}
	return b.String(), ""
}
