//go:build unix

package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// debianBindir is where Debian's postgresql-15 package puts initdb and postgres.
const debianBindir = "/usr/lib/postgresql/15/bin"

// ClientTimeout bounds every run of psql or pg_isready made by this package.
const ClientTimeout = 60 * time.Second

const installHint = "run scripts/test.sh (it installs PostgreSQL 15 from Debian's packages), " +
	"or set PGPROBE_PG_BINDIR to the directory that holds initdb and postgres"

var (
	bindirOnce sync.Once
	bindirPath string
	bindirErr  error
)

// Bindir returns the directory of the PostgreSQL server binaries:
// $PGPROBE_PG_BINDIR, else `pg_config --bindir` if it holds initdb, else
// /usr/lib/postgresql/15/bin, else the directory of initdb on PATH. When
// none is found the test fails (it is not skipped).
func Bindir(t testing.TB) string {
	t.Helper()
	d, err := bindir()
	if err != nil {
		t.Fatalf("pgtest: %v; %s", err, installHint)
	}
	return d
}

func bindir() (string, error) {
	bindirOnce.Do(func() { bindirPath, bindirErr = findBindir() })
	return bindirPath, bindirErr
}

func findBindir() (string, error) {
	has := func(dir string) bool {
		return isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "postgres"))
	}
	if d := os.Getenv("PGPROBE_PG_BINDIR"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("PGPROBE_PG_BINDIR=%s has no initdb and postgres", d)
	}
	if pc, err := exec.LookPath("pg_config"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, pc, "--bindir").Output()
		cancel()
		if d := strings.TrimSpace(string(out)); err == nil && has(d) {
			return d, nil
		}
	}
	if has(debianBindir) {
		return debianBindir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(r)) {
			return filepath.Dir(r), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("PostgreSQL server binaries not found " +
		"(looked at $PGPROBE_PG_BINDIR, `pg_config --bindir`, " + debianBindir + " and initdb on PATH)")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// ClientPath returns the path of a PostgreSQL client program ("psql",
// "pg_isready", …): the one next to the server binaries, else the one on
// PATH. Both use the machine's libpq. A missing program fails the test.
func ClientPath(t testing.TB, name string) string {
	t.Helper()
	if d, err := bindir(); err == nil && isExec(filepath.Join(d, name)) {
		return filepath.Join(d, name)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("pgtest: %s not found next to the server binaries nor on PATH; %s", name, installHint)
	return ""
}

var (
	credOnce sync.Once
	credVal  *syscall.Credential
	credErr  error
)

// serverCredential is the identity server programs run as: the postgres OS
// user when the test runs as root, nil (the current user) otherwise.
// ServerCredential is the OS user servers run as: nil (the current user)
// unless the tests run as root, then the postgres user, since PostgreSQL
// (and PgBouncer) refuse to run as root. No such user fails the test.
func ServerCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	return serverCredential(t)
}

func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	credOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			credErr = fmt.Errorf("running as root, and PostgreSQL refuses to run as root, but there is no `postgres` OS user to run it as (%v)", err)
			return
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			credErr = fmt.Errorf("postgres OS user has uid %q gid %q", u.Uid, u.Gid)
			return
		}
		credVal = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	})
	if credErr != nil {
		t.Fatalf("pgtest: %v; %s", credErr, installHint)
	}
	return credVal
}

// ChownTo gives path to the server's user cred (a no-op for nil).
func ChownTo(path string, cred *syscall.Credential) error { return chownTo(path, cred) }

// chownTo gives path to the server's user (a no-op when not root).
func chownTo(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Lchown(path, int(cred.Uid), int(cred.Gid))
}

// writeOwned writes a file with exactly perm and gives it to the server's user.
func writeOwned(path string, data []byte, perm os.FileMode, cred *syscall.Credential) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(path, perm); err != nil {
		return err
	}
	return chownTo(path, cred)
}

// baseEnv is the whole environment given to the programs this package runs:
// nothing is inherited but PATH (and TMPDIR), so no PG* variable leaks in.
func baseEnv(home string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	env := []string{"PATH=" + path, "HOME=" + home, "LC_ALL=C", "LANG=C", "TZ=UTC"}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return env
}

// mergeEnv returns base with extra applied in order: "NAME=value" sets NAME
// (replacing an earlier value), a bare "NAME" removes it.
func mergeEnv(base []string, extra ...string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		name, _, set := strings.Cut(kv, "=")
		kept := out[:0]
		for _, e := range out {
			if n, _, _ := strings.Cut(e, "="); n != name {
				kept = append(kept, e)
			}
		}
		out = kept
		if set {
			out = append(out, kv)
		}
	}
	return out
}

// PsqlEnv returns a hermetic environment for libpq clients (psql,
// pg_isready, pgprobe): PATH, HOME and PGSYSCONFDIR set to a new empty
// temporary directory, LC_ALL=C, TZ=UTC and PGCONNECT_TIMEOUT=10, then
// extra. Nothing else of the test process's environment is passed on.
// An extra "NAME=value" sets or replaces NAME; a bare "NAME" removes it
// (e.g. "PGCONNECT_TIMEOUT" to get libpq's default of no timeout).
func PsqlEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	return mergeEnv(baseEnv(home), append([]string{"PGSYSCONFDIR=" + home, "PGCONNECT_TIMEOUT=10"}, extra...)...)
}

// RunClient runs a PostgreSQL client program (see ClientPath) with args,
// in PsqlEnv(t, env...), with no stdin, and returns its combined stdout and
// stderr and its exit code. A run longer than ClientTimeout fails the test.
func RunClient(t testing.TB, name string, args []string, env ...string) (output string, code int) {
	t.Helper()
	return runClient(t, exec.Command(ClientPath(t, name), args...), env...)
}

// runClient runs cmd in PsqlEnv(t, env...), with no stdin and a limit of
// ClientTimeout, and returns its combined output and exit code.
func runClient(t testing.TB, cmd *exec.Cmd, env ...string) (output string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	defer cancel()
	run := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	run.Env = PsqlEnv(t, env...)
	run.WaitDelay = 5 * time.Second
	out, err := run.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("pgtest: %q did not finish within %v; output:\n%s", cmd.Args, ClientTimeout, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ee.Exited():
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("pgtest: running %q: %v; output:\n%s", cmd.Args, err, out)
		return "", -1
	}
}

// RunPsql runs `psql -X -w -A -t -v ON_ERROR_STOP=1 -d CONNINFO -c SQL`
// (no -c when sql is empty: connect and quit) and returns psql's combined
// output and exit code: 0 success, 1 an SQL error, 2 the connection failed.
// conninfo is a libpq connection string or URI; env as for PsqlEnv.
func RunPsql(t testing.TB, conninfo, sql string, env ...string) (output string, code int) {
	t.Helper()
	args := []string{"-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1"}
	if conninfo != "" {
		args = append(args, "-d", conninfo)
	}
	if sql != "" {
		args = append(args, "-c", sql)
	}
	return RunClient(t, "psql", args, env...)
}

// RunPgIsready runs pg_isready with args (e.g. "-d", conninfo) and returns
// its output and exit code (0 accepting, 1 rejecting, 2 no response, 3 no
// attempt). env as for PsqlEnv.
func RunPgIsready(t testing.TB, args []string, env ...string) (output string, code int) {
	t.Helper()
	return RunClient(t, "pg_isready", args, env...)
}

// RunPsqlBackground starts psql running sql (e.g. "select pg_sleep(30)") and
// returns at once; the returned function kills it and waits. The test's
// cleanup kills it too. Use it to hold a connection slot open.
func RunPsqlBackground(t testing.TB, conninfo, sql string, env ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	cmd := exec.CommandContext(ctx, ClientPath(t, "psql"), "-X", "-w", "-A", "-t", "-d", conninfo, "-c", sql)
	cmd.Env = PsqlEnv(t, env...)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("pgtest: starting psql: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}
