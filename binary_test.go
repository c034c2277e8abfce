package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// buildBinary builds pgprobe as the README says (go build -o pgprobe .).
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pgprobe-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		built.bin = filepath.Join(dir, "pgprobe")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// built is the binary the package's tests share: one go build instead of
// one per test (each takes seconds on a fresh machine). TestMain removes it.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// runBinary runs the built command in a clean environment (PsqlEnv: only
// PATH, an empty HOME and PGSYSCONFDIR) plus env.
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = pgtest.PsqlEnv(t, env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestBinaryAndSystemRoots runs the real binary, which is also the only way
// to vary SSL_CERT_FILE: Go reads the system roots once per process.
// sslrootcert=system uses the system store (SSL_CERT_FILE redefines it) and
// upgrades the default sslmode to verify-full, as libpq 16+ does.
func TestBinaryAndSystemRoots(t *testing.T) {
	bin := buildBinary(t)
	c := sslServer(t)
	other := pgtest.NewCA(t, "Some Other CA")
	otherFile := pgtest.WriteFile(t, t.TempDir(), "other.crt", other.CertPEM, 0o644)
	target := conn(c, "host=localhost", "user=trustuser", "dbname=postgres", "sslrootcert=system")

	out, code := runBinary(t, bin, []string{"SSL_CERT_FILE=" + c.CAFile}, "-o", "json", target)
	if code != 0 || !strings.Contains(out, `"sslmode": "verify-full"`) || !strings.Contains(out, `"verified": true`) {
		t.Errorf("system roots holding the CA: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, bin, []string{"SSL_CERT_FILE=" + otherFile}, "-o", "json", target)
	if code != 2 || !strings.Contains(out, "certificate verify failed") {
		t.Errorf("system roots without the CA: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, bin, nil, "-o", "json", target+" sslmode=require")
	if code != 3 || !strings.Contains(out, `weak sslmode \"require\" may not be used with sslrootcert=system (use \"verify-full\")`) {
		t.Errorf("weak sslmode with system roots: exit %d\n%s", code, out)
	}
	// The timeline of the real binary, without a terminal: no colour.
	out, code = runBinary(t, bin, []string{"SSL_CERT_FILE=" + c.CAFile}, target)
	if code != 0 || strings.Contains(out, "\x1b[") || !strings.Contains(out, "CONNECTION_OK") {
		t.Errorf("timeline: exit %d\n%s", code, out)
	}
	if out, code := runBinary(t, bin, nil, "--version"); code != 0 || !strings.HasPrefix(out, "pgprobe version ") {
		t.Errorf("--version: %d %q", code, out)
	}
}
