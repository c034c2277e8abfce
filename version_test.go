//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestVersionBinary builds pgprobe as the README says, with the version
// stamped in as a release build does (-X main.version), and checks that
// --version shows it, the commit Go recorded (go version -m) and the Go
// version and platform.
func TestVersionBinary(t *testing.T) {
	args := slices.Clone(readmeBuild(t))
	bin := filepath.Join(t.TempDir(), "pgprobe")
	args[slices.Index(args, "-o")+1] = bin
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			args[i] = "-ldflags=" + v + " -X main.version=1.2.3"
		}
	}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-ldflags=") }) {
		t.Fatalf("the README's build line has no -ldflags=: %q", args)
	}
	cmd := exec.Command(args[0], args[1:]...)
	// -buildvcs=auto, whatever GOFLAGS this machine has: the README's
	// build line stamps the commit where the go command's default does.
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", args, err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := ""
	for _, l := range strings.Split(string(info), "\n") {
		if rev, ok := strings.CutPrefix(strings.TrimSpace(l), "build\tvcs.revision="); ok {
			commit = " (commit " + rev[:12] + ")"
		}
		if strings.TrimSpace(l) == "build\tvcs.modified=true" {
			commit = strings.TrimSuffix(commit, ")") + ", modified)"
		}
	}
	want := "pgprobe 1.2.3" + commit + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, flag := range []string{"--version", "-V"} {
		out, code := runBinary(t, bin, nil, flag)
		if code != 0 || out != want {
			t.Errorf("%s: exit %d, %q; want %q", flag, code, out, want)
		}
	}
}
