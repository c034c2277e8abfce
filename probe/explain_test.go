package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

func fakeLookup(ctx context.Context, host string) ([]string, error) {
	switch host {
	case "db.example":
		return []string{"2001:db8::5", "192.0.2.5"}, nil
	case "one.example":
		return []string{"192.0.2.6"}, nil
	}
	return nil, errors.New("no such host")
}

func explainFor(t *testing.T, home, conn string) string {
	t.Helper()
	s, err := conninfo.Resolve(conninfo.Input{Target: conn, HomeDir: home, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(explain(s, home, fakeLookup), "\n")
}

func TestExplain(t *testing.T) {
	home := t.TempDir()
	noRoot := explainFor(t, home, "host=db.example sslmode=require user=u")
	if !strings.Contains(noRoot, "sslmode=require: TLS is required, but the server's certificate is not verified") {
		t.Errorf("require without root.crt:\n%s", noRoot)
	}
	if err := os.MkdirAll(filepath.Join(home, ".postgresql"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".postgresql", "root.crt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	pgpass := "# comment\nother:5432:*:u:nope\ndb.example:5432:*:u:secret\n"
	if err := os.WriteFile(filepath.Join(home, ".pgpass"), []byte(pgpass), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		conn string
		want []string
		not  []string
	}{
		{"host=db.example sslmode=require user=u", []string{
			"sslmode=require and ~/.postgresql/root.crt exists: the chain will be verified as with verify-ca",
			"host db.example resolves to 2 addresses, tried in this order: 2001:db8::5, 192.0.2.5, port 5432",
			"password from ~/.pgpass line 3",
		}, []string{"secret"}},
		{"host=one.example user=u", []string{
			"sslmode=prefer: TLS first; if the server refuses it or the TLS attempt fails, a plaintext connection follows",
			"host one.example resolves to 1 address: 192.0.2.6",
			"no password is set",
		}, nil},
		{"host=one.example,db.example port=5433,5434 target_session_attrs=read-write load_balance_hosts=random user=u password=pw", []string{
			"2 hosts: tried one after another in random order until one connects and fits target_session_attrs=read-write",
			"target_session_attrs=read-write: hosts that are read-only (a hot standby, or default_transaction_read_only=on) are skipped",
			"load_balance_hosts=random: hosts are tried in random order",
			"tried in random order (load_balance_hosts=random), port 5434",
			"password from connection string",
		}, []string{"pw\n"}},
		{"host=nowhere.invalid sslmode=verify-full sslrootcert=/nonexistent/ca.crt user=u", []string{
			"host nowhere.invalid does not resolve now",
			"sslmode=verify-full: /nonexistent/ca.crt does not exist, so every TLS attempt will fail",
		}, nil},
		{"host=/tmp sslmode=require target_session_attrs=prefer-standby user=u", []string{
			"host /tmp is a Unix-domain socket directory: connects to /tmp/.s.PGSQL.5432",
			"target_session_attrs=prefer-standby: a standby is looked for first",
		}, []string{"sslmode"}},
		{"hostaddr=192.0.2.9 host=db.example sslmode=disable user=u connect_timeout=5", []string{
			"hostaddr 192.0.2.9: connects to 192.0.2.9 port 5432 without a name lookup; the name db.example is still used",
			"sslmode=disable: no TLS",
			"connect_timeout=5: each address gets 5 seconds",
		}, nil},
	} {
		got := explainFor(t, home, tc.conn)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%s", tc.conn, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q in\n%s", tc.conn, n, got)
			}
		}
	}
}
