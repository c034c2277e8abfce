//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// buildBinary builds pgprobe exactly as the README's build line says
// (readmeBuild), into a temporary directory.
func buildBinary(t testing.TB) string {
	t.Helper()
	args := readmeBuild(t)
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pgprobe-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		built.bin = filepath.Join(dir, "pgprobe")
		args = slices.Clone(args)
		args[slices.Index(args, "-o")+1] = built.bin
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// readmeBuild returns the words of the README's build line, the first line
// that starts with "go build " and writes -o pgprobe (up to any && or #).
func readmeBuild(t testing.TB) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "go build ") {
			continue
		}
		line, _, _ = strings.Cut(line, "&&")
		line, _, _ = strings.Cut(line, "#")
		args := shellWords(t, strings.TrimSpace(line), nil)
		if i := slices.Index(args, "-o"); i > 0 && i+1 < len(args) && args[i+1] == "pgprobe" {
			return args
		}
	}
	t.Fatal("README.md has no build line (go build … -o pgprobe .)")
	return nil
}

// docsOnlyModules are linked only by urfave/cli's ToMan and ToMarkdown
// (its docs.go), which the shipped build leaves out: the man page is made
// by TestGeneratedDocs (gendocs_test.go) instead.
var docsOnlyModules = []string{"github.com/cpuguy83/go-md2man/v2", "github.com/russross/blackfriday/v2"}

// TestBinaryModules builds pgprobe as the README says and checks, with go
// version -m, that no module only documentation generation needs is in it,
// and that scripts/bench.sh times a binary built the same way.
func TestBinaryModules(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/urfave/cli/v2") {
		t.Fatalf("go version -m lists no urfave/cli; is this pgprobe?\n%s", out)
	}
	for _, m := range docsOnlyModules {
		if strings.Contains(string(out), "\t"+m+"\t") {
			t.Errorf("the binary built as the README says links %s (build with -tags urfave_cli_no_docs)", m)
		}
	}
	args := readmeBuild(t)
	flags := args[:slices.Index(args, "-o")]
	bench, err := os.ReadFile(filepath.Join("scripts", "bench.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "build=(" + strings.Join(shellQuote(flags), " ") + ")"; !strings.Contains(string(bench), want) {
		t.Errorf("scripts/bench.sh does not build as the README does: want %s", want)
	}
}

// shellQuote quotes, as the README and scripts do, the words that hold a space.
func shellQuote(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok && strings.Contains(v, " ") {
			w = k + "='" + v + "'"
		}
		out[i] = w
	}
	return out
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
	if out, code := runBinary(t, bin, nil, "--version"); code != 0 || !strings.HasPrefix(out, "pgprobe 0.0.0-dev ") {
		t.Errorf("--version: %d %q", code, out)
	}
}
