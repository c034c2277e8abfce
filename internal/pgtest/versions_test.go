//go:build unix

package pgtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestVersions starts a cluster of every major version the tests use, with
// TLS, an md5 and a SCRAM role and hostssl/hostnossl lines, and logs in with
// psql 15 (verify-full) as each role.
func TestVersions(t *testing.T) {
	t.Parallel()
	for _, v := range append([]int{pgtest.DefaultVersion}, pgtest.CachedVersions...) {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			t.Parallel()
			c := pgtest.Start(t, pgtest.Options{
				Version: v,
				SSL:     true,
				Roles: []pgtest.Role{
					{Name: "md5user", Password: "md5-pw", Encryption: "md5"},
					{Name: "scramuser", Password: "scram-pw"},
				},
				HBA: []string{
					"hostssl all md5user 127.0.0.1/32 md5",
					"hostssl all scramuser 127.0.0.1/32 scram-sha-256",
					"hostnossl all all 127.0.0.1/32 reject",
				},
			})
			if c.Version != v {
				t.Errorf("Cluster.Version = %d, want %d", c.Version, v)
			}
			if got, want := c.Psql(t, "SELECT current_setting('server_version_num')::int / 10000"), fmt.Sprint(v); got != want {
				t.Errorf("server_version_num major %s, want %s", got, want)
			}
			for _, r := range []struct{ user, pw string }{{"md5user", "md5-pw"}, {"scramuser", "scram-pw"}} {
				out, code := pgtest.RunPsql(t, c.ConnString("host=localhost", "dbname=postgres", "user="+r.user, "password="+r.pw,
					"sslmode=verify-full", "sslrootcert="+c.CAFile), "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
				if code != 0 || strings.TrimSpace(out) != r.user+"|t" {
					t.Errorf("%s over TLS: exit %d, output:\n%s", r.user, code, out)
				}
			}
			out, code := pgtest.RunPsql(t, c.ConnString("dbname=postgres", "user=scramuser", "password=scram-pw", "sslmode=disable"), "")
			if code != 2 || !strings.Contains(out, "pg_hba.conf rejects connection") {
				t.Errorf("without TLS: exit %d, want 2 and a rejection; output:\n%s", code, out)
			}
		})
	}
}

func TestInstalledAndLibdir(t *testing.T) {
	got := pgtest.Installed()
	for _, v := range append([]int{pgtest.DefaultVersion}, pgtest.CachedVersions...) {
		if !slices.Contains(got, v) {
			t.Errorf("Installed() = %v: PostgreSQL %d is missing; run scripts/test.sh", got, v)
		}
	}
	for _, v := range pgtest.CachedVersions {
		lib := pgtest.LibdirFor(t, v)
		if _, err := os.Stat(filepath.Join(lib, fmt.Sprintf("libpq.so.5.%d", v))); lib == "" || err != nil {
			t.Errorf("LibdirFor(%d) = %q: no libpq.so.5.%d (%v)", v, lib, v, err)
		}
	}
}

// A version that is not installed fails the test, pointing at
// scripts/test.sh: it is never skipped.
func TestMissingVersionFails(t *testing.T) {
	msg := fatalOf(t, func(tb testing.TB) { pgtest.BindirFor(tb, 16) })
	if !strings.Contains(msg, "PostgreSQL 16") || !strings.Contains(msg, "scripts/test.sh") || !strings.Contains(msg, "PGPROBE_PG16_BINDIR") {
		t.Errorf("BindirFor(16) failed with %q", msg)
	}
}
