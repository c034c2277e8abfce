//go:build unix

package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestReleaseScript runs scripts/release.sh for two platforms (this
// machine's Linux, so that its binary can be run, and Windows, for the zip)
// into a temporary directory: the archives, their checksums, their contents
// and the stamped version.
func TestReleaseScript(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("scripts/release.sh runs on Linux (GNU tar)")
	}
	for _, tool := range []string{"bash", "tar", "gzip", "sha256sum", "zip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/test.sh, which installs it", tool)
		}
	}
	dist := t.TempDir()
	const version = "v9.8.7-releasetest"
	native := "linux_" + runtime.GOARCH
	cmd := exec.Command("bash", "scripts/release.sh", dist)
	cmd.Env = append(os.Environ(), "VERSION="+version, "PLATFORMS=linux/"+runtime.GOARCH+" windows/amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}

	unixName := "pgprobe_" + version + "_" + native
	winName := "pgprobe_" + version + "_windows_amd64"
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"SHA256SUMS", unixName + ".tar.gz", winName + ".zip"}
	if !slices.Equal(names, want) {
		t.Fatalf("dist holds %v, want %v", names, want)
	}
	check := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}

	files := tarFiles(t, filepath.Join(dist, unixName+".tar.gz"))
	for _, f := range []string{"pgprobe", "README.md", "LICENSE", "CHANGELOG.md", "man/pgprobe.1", "completions/pgprobe.bash"} {
		if _, ok := files[unixName+"/"+f]; !ok {
			t.Errorf("%s.tar.gz lacks %s/%s", unixName, unixName, f)
		}
	}
	for _, f := range []string{"pgprobe.exe", "README.md", "man/pgprobe.1"} {
		if !zipHas(t, filepath.Join(dist, winName+".zip"), winName+"/"+f) {
			t.Errorf("%s.zip lacks %s/%s", winName, winName, f)
		}
	}

	bin := filepath.Join(t.TempDir(), "pgprobe")
	if err := os.WriteFile(bin, files[unixName+"/pgprobe"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("the released binary's --version printed %q (%v); want the stamped %s in it", out, err, version)
	}
}

// tarFiles reads a .tar.gz into memory: name → contents.
func tarFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, h.Name, err)
			}
			files[h.Name] = b
		}
	}
}

func zipHas(t *testing.T, path, name string) bool {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer zr.Close()
	return slices.ContainsFunc(zr.File, func(f *zip.File) bool { return f.Name == name })
}
