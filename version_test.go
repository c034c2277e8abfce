//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

func TestDescribeVersion(t *testing.T) {
	const goPlatform = "go1.26.0 linux/amd64"
	checkout := func(version, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/pgprobe/pgprobe", Version: version}}
		if modified != "" {
			bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"}, {Key: "vcs.modified", Value: modified}}
		}
		return bi
	}
	for _, tc := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          string
	}{
		{"no build info", "", nil, "0.0.0-dev go1.26.0 linux/amd64"},
		{"go build in a checkout", "", checkout("(devel)", "false"), "0.0.0-dev (commit 1a2b3c4d5e6f) go1.26.0 linux/amd64"},
		{"uncommitted changes", "", checkout("(devel)", "true"), "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64"},
		{"pseudo-version", "", checkout("v0.0.0-20260101120000-1a2b3c4d5e6f+dirty", "true"), "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64"},
		{"go install @v1.2.3", "", checkout("v1.2.3", ""), "v1.2.3 go1.26.0 linux/amd64"},
		{"release build", "1.2.3", checkout("(devel)", "false"), "1.2.3 (commit 1a2b3c4d5e6f) go1.26.0 linux/amd64"},
		{"release build, no checkout", "1.2.3", checkout("(devel)", ""), "1.2.3 go1.26.0 linux/amd64"},
	} {
		if got := describeVersion(tc.stamped, tc.bi, goPlatform); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

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
