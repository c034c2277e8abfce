//go:build unix

package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSweepStale(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name, owner string) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	stale := mk(dirPrefix+"1", strconv.Itoa(dead.Process.Pid))
	ours := mk(dirPrefix+"2", strconv.Itoa(os.Getpid()))
	unowned := mk(dirPrefix+"3", "")
	template := mk(templatePrefix+"abc", strconv.Itoa(dead.Process.Pid))
	serverAlive := mk(dirPrefix+"4", strconv.Itoa(dead.Process.Pid))
	if err := os.WriteFile(filepath.Join(serverAlive, "data", "postmaster.pid"), []byte(strconv.Itoa(os.Getpid())+"\n/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := mk("unrelated", strconv.Itoa(dead.Process.Pid))

	sweepStale(base)
	for _, d := range []string{ours, unowned, template, serverAlive, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(d), err)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale directory was kept (%v)", err)
	}
}

// TestTemplateManifest checks that a damaged template is noticed.
func TestTemplateManifest(t *testing.T) {
	cred := serverCredential(t)
	tpl, err := ensureTemplate(Bindir(t), baseDir(), cred)
	if err != nil {
		t.Fatal(err)
	}
	damaged, err := makeDir(baseDir(), dirPrefix+"damaged-", cred)
	t.Cleanup(func() { os.RemoveAll(damaged) })
	if err != nil {
		t.Fatal(err)
	}
	if err := copyTemplate(tpl, filepath.Join(damaged, "data"), cred); err != nil {
		t.Fatalf("copying the template: %v", err)
	}
	m, err := os.ReadFile(filepath.Join(tpl, manifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, manifestFile), m, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(damaged, "data", "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	err = copyTemplate(damaged, filepath.Join(t.TempDir(), "data"), cred)
	if err == nil || !strings.Contains(err.Error(), "manifest says") {
		t.Errorf("copying a damaged template: err = %v", err)
	}
	discardTemplate(damaged)
	if _, err := os.Stat(damaged); !os.IsNotExist(err) {
		t.Errorf("discardTemplate left %s (%v)", damaged, err)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "C=3"}, "B=x", "A", "D=4=5", "C=")
	if want := []string{"B=x", "D=4=5", "C="}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestFirstListenHost(t *testing.T) {
	for in, want := range map[string]string{"": "127.0.0.1", "*": "127.0.0.1", "::": "::1", "::1, 127.0.0.1": "::1", "localhost": "localhost"} {
		if got := firstListenHost(in); got != want {
			t.Errorf("firstListenHost(%q) = %q, want %q", in, got, want)
		}
	}
}
