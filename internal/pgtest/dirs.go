//go:build unix

package pgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const (
	dirPrefix      = "pgprobe-pgtest-"
	templatePrefix = dirPrefix + "template-"
	ownerFile      = "owner.pid"
	manifestFile   = "MANIFEST"
	// templateFormat names how templates are made; change it when initdb's
	// flags change so that old templates are not reused.
	templateFormat = "v2 initdb -U postgres -A trust -E UTF8 --no-locale --no-sync --wal-segsize=1 TZ=UTC"
)

// baseDir is the parent of every directory this package makes: the system
// temporary directory, or /tmp when that is too deep for a Unix socket path
// (108 bytes) or, as root, not traversable by the postgres user.
func baseDir() string {
	d := os.TempDir()
	if len(d) > 64 || (os.Geteuid() == 0 && !worldTraversable(d)) {
		return "/tmp"
	}
	return d
}

func worldTraversable(dir string) bool {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// makeDir makes a directory under base, mode 0755, owned by the server's
// user, recording the test process's pid so that a later process can tell
// it is stale.
func makeDir(base, prefix string, cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return dir, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	return dir, chownTo(dir, cred)
}

var sweepOnce sync.Once

// sweepStale removes directories left by test processes that died: the
// owner pid is gone and so is the postmaster recorded in the data directory.
// Nothing is killed.
func sweepStale(base string) {
	matches, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), templatePrefix) {
			continue
		}
		if pid := readPid(filepath.Join(m, ownerFile)); pid <= 0 || alive(pid) {
			continue
		}
		if pid := readPid(filepath.Join(m, "data", "postmaster.pid")); pid > 0 && alive(pid) {
			continue
		}
		_ = os.RemoveAll(m)
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

var templateMu sync.Mutex

// ensureTemplate returns a directory whose "data" subdirectory is a fresh
// initdb result, making it if needed. Within a process one initdb runs at a
// time; across processes the first rename wins and the others use it.
func ensureTemplate(bindir, base string, cred *syscall.Credential) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	key, err := templateKey(bindir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(base, templatePrefix+key)
	if _, err := os.Stat(filepath.Join(path, manifestFile)); err == nil {
		return path, nil
	}
	staging, err := makeDir(base, dirPrefix+"staging-", cred)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging) // a no-op once renamed
	if err := initdb(bindir, filepath.Join(staging, "data"), staging, cred); err != nil {
		return "", err
	}
	files, size, err := treeSize(filepath.Join(staging, "data"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(staging, manifestFile), []byte(manifest(files, size)), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(staging, path); err != nil {
		// Another test process made it first.
		if _, statErr := os.Stat(filepath.Join(path, manifestFile)); statErr != nil {
			return "", err
		}
	}
	return path, nil
}

// discardTemplate moves a damaged template aside and removes it.
func discardTemplate(path string) {
	templateMu.Lock()
	defer templateMu.Unlock()
	aside, err := os.MkdirTemp(filepath.Dir(path), dirPrefix+"discarded-")
	if err != nil {
		return
	}
	_ = os.Rename(path, filepath.Join(aside, "template"))
	_ = os.RemoveAll(aside)
}

func templateKey(bindir string) (string, error) {
	st, err := os.Stat(filepath.Join(bindir, "postgres"))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d\x00%d",
		templateFormat, bindir, st.Size(), st.ModTime().UnixNano(), os.Geteuid()))
	return hex.EncodeToString(h[:8]), nil
}

func manifest(files int, size int64) string { return fmt.Sprintf("files=%d bytes=%d\n", files, size) }

func initdb(bindir, dataDir, workDir string, cred *syscall.Credential) error {
	cmd := exec.Command(filepath.Join(bindir, "initdb"), "-D", dataDir, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
		// 1 MB WAL segments: the data directory is 28 MB instead of 39 MB,
		// and copying it is most of a cluster's start.
		"--wal-segsize=1")
	cmd.Dir = workDir
	cmd.Env = baseEnv(workDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func treeSize(root string) (files int, size int64, err error) {
	err = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		size += info.Size()
		return nil
	})
	return files, size, err
}

// copyTemplate copies template/data to dst, keeping permissions and giving
// everything to the server's user, and checks the copy against the
// template's manifest. (Creating the ~1000 files is most of the cost, and
// the filesystem serializes it: copying with goroutines is no faster.)
func copyTemplate(template, dst string, cred *syscall.Credential) error {
	want, err := os.ReadFile(filepath.Join(template, manifestFile))
	if err != nil {
		return err
	}
	src := filepath.Join(template, "data")
	files, size := 0, int64(0)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, perm); err != nil {
				return err
			}
			if err := os.Chmod(target, perm); err != nil { // the umask may have narrowed it
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(p, target, perm); err != nil {
				return err
			}
			files++
			size += info.Size()
		default:
			return fmt.Errorf("unexpected file %s (%s)", p, d.Type())
		}
		return chownTo(target, cred)
	})
	if err != nil {
		return err
	}
	if got := manifest(files, size); got != string(want) {
		return fmt.Errorf("copied %q, manifest says %q", strings.TrimSpace(got), strings.TrimSpace(string(want)))
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(perm) // the umask may have narrowed it
	}
	return errors.Join(err, out.Close())
}
