//go:build unix

package main

// pgprobe in a real terminal: tmux gives each run a pseudo-terminal of a
// chosen size and renders the output as a terminal would, so a line wider
// than the terminal shows as a wrapped line, which capture-pane -J joins
// back into one.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// terminal is a tmux server of the test's own.
type terminal struct {
	t          *testing.T
	tmux, dir  string
	n          int
	clientEnv  []string
	runTimeout time.Duration
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	path, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatal("tmux is not installed: run scripts/test.sh, which installs it")
	}
	// A short directory: the server's socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "pgprobe-tty-")
	if err != nil {
		t.Fatal(err)
	}
	conf := "set -s exit-empty off\nset -g history-limit 100000\n"
	if err := os.WriteFile(filepath.Join(dir, "tmux.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// A UTF-8 locale, so that tmux counts the bars and arrows as one cell
	// each, as terminals do.
	tm := &terminal{t: t, tmux: path, dir: dir, runTimeout: time.Minute,
		clientEnv: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C.UTF-8", "TMUX_TMPDIR=" + dir}}
	t.Cleanup(func() {
		_, _ = tm.cmd("kill-server")
		os.RemoveAll(dir)
	})
	return tm
}

func (tm *terminal) cmd(args ...string) (string, error) {
	c := exec.Command(tm.tmux, append([]string{"-u", "-S", filepath.Join(tm.dir, "sock"), "-f", filepath.Join(tm.dir, "tmux.conf")}, args...)...)
	c.Env = tm.clientEnv
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func shWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// start runs argv in a new pane cols columns wide, in exactly env (and
// TERM), and returns the pane's name.
func (tm *terminal) start(cols int, env []string, argv ...string) string {
	tm.t.Helper()
	tm.n++
	name := "run" + strconv.Itoa(tm.n)
	// The shell reaps the program and prints its status after all it
	// wrote, then stays: tmux may miss a child's exit, or close a dead
	// pane's terminal before reading all of it.
	shell := "env -i " + shWords(append(append([]string{"TERM=xterm-256color"}, env...), argv...)) +
		"; printf '\\n" + doneMark + "%d]\\n' $?; exec sleep 3600"
	if _, err := tm.cmd("new-session", "-d", "-s", name, "-x", strconv.Itoa(cols), "-y", "50", shell); err != nil {
		tm.t.Fatal(err)
	}
	if got, err := tm.cmd("display-message", "-p", "-t", name, "#{pane_width}"); err != nil || strings.TrimSpace(got) != strconv.Itoa(cols) {
		tm.t.Fatalf("the pane is %q columns wide, want %d (%v)", got, cols, err)
	}
	return name
}

// screen is the pane's text from the top of its history, each line wrapped
// by the terminal joined back into one.
func (tm *terminal) screen(name string) string {
	tm.t.Helper()
	out, err := tm.cmd("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", name)
	if err != nil {
		tm.t.Fatal(err)
	}
	ls := strings.Split(out, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(ls, "\n"), "\n")
}

// doneMark starts the line the pane's shell prints after the program.
const doneMark = "[pgprobe-test exited "

var doneLine = regexp.MustCompile(`(?m)^\[pgprobe-test exited (\d+)\]$`)

// wait waits for the pane's program to exit and tmux to have shown all it
// wrote, and returns its exit status and what it wrote on the screen.
func (tm *terminal) wait(name string) (int, string) {
	tm.t.Helper()
	deadline := time.Now().Add(tm.runTimeout)
	for {
		s := tm.screen(name)
		if m := doneLine.FindStringSubmatchIndex(s); m != nil {
			code, _ := strconv.Atoi(s[m[2]:m[3]])
			if _, err := tm.cmd("kill-session", "-t", name); err != nil {
				tm.t.Fatal(err)
			}
			return code, strings.TrimRight(s[:m[0]], "\n")
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("%s did not finish within %v:\n%s", name, tm.runTimeout, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor waits until the pane shows re and returns its first submatch.
func (tm *terminal) waitFor(name string, re *regexp.Regexp) string {
	tm.t.Helper()
	deadline := time.Now().Add(tm.runTimeout)
	for {
		s := tm.screen(name)
		if m := re.FindStringSubmatch(s); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("%s never showed %v:\n%s", name, re, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// overflowing lists the screen's lines wider than cols.
func overflowing(screen string, cols int) []string {
	var bad []string
	for _, l := range strings.Split(screen, "\n") {
		if n := utf8.RuneCountInString(l); n > cols {
			bad = append(bad, fmt.Sprintf("%d: %s", n, l))
		}
	}
	return bad
}

// TestFitsTheTerminal runs pgprobe in 80- and 200-column terminals against
// a real PostgreSQL 15 server (success, a wrong password with its advice,
// a refused port), in every human format, and finds no line wider than the
// terminal: the width is read from the terminal itself.
func TestFitsTheTerminal(t *testing.T) {
	bin := buildBinary(t)
	c := sslServer(t)
	tm := newTerminal(t)
	ok := conn(c, "user=scramuser", "dbname=postgres", "sslmode=require")
	wrong := conn(c, "user=md5user", "dbname=postgres", "sslmode=disable")
	refused := fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser", pgtest.FreePort(t))
	home := t.TempDir()
	env := []string{"HOME=" + home, "PGSYSCONFDIR=" + home, "PGCONNECT_TIMEOUT=10", "PGPASSWORD=" + scramPW}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"timeline", []string{ok}, 0, []string{"✓ connected", "tls_handshake", "exit 0: connected"}},
		{"verbose", []string{"-v", ok}, 0, []string{"✓ connected", "TimeZone"}},
		{"wrong password", []string{wrong}, 1, []string{"password authentication failed", "advice:", "exit 1"}},
		{"refused", []string{refused}, 2, []string{"Connection refused", "advice:", "exit 2"}},
		{"table", []string{"-o", "table", ok}, 0, []string{"TARGET", "connected"}},
		{"fleet table", []string{"-o", "table", ok, wrong, refused}, 2, []string{"TARGET", "connected", "failed"}},
		{"statistics", []string{"-n", "3", ok}, 0, []string{"STEP (3 runs)", "P50 MS", "total"}},
		{"fleet statistics", []string{"-n", "3", "-o", "table", ok, refused}, 2, []string{"STEP (3 runs)"}},
		{"settings", []string{"settings", ok + " sslrootcert=/etc/some/rather/long/directory/name/for/the/certificate/authority/root.crt"}, 0, []string{"KEYWORD", "What libpq will do"}},
		{"demo", []string{"demo"}, 0, []string{"✓ connected", "What the server saw"}},
	}
	for _, cols := range []int{80, 200} {
		for _, tc := range cases {
			name := tm.start(cols, env, append([]string{bin}, tc.args...)...)
			code, screen := tm.wait(name)
			if code != tc.code {
				t.Errorf("%s at %d columns: exit %d, want %d:\n%s", tc.name, cols, code, tc.code, screen)
			}
			flat := strings.Join(strings.Fields(screen), " ")
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("%s at %d columns: no %q:\n%s", tc.name, cols, w, screen)
				}
			}
			if bad := overflowing(screen, cols); len(bad) > 0 {
				t.Errorf("%s at %d columns: %d lines wider than the terminal:\n%s", tc.name, cols, len(bad), strings.Join(bad, "\n"))
			}
			if strings.Contains(screen, scramPW) {
				t.Errorf("%s: the password is on the screen", tc.name)
			}
			if tc.name == "fleet table" {
				// The width came from the terminal: the wide one has room
				// for every column, the narrow one drops some.
				if has := strings.Contains(screen, " AUTH "); has != (cols == 200) {
					t.Errorf("fleet table at %d columns: AUTH column shown %v:\n%s", cols, has, screen)
				}
			}
		}
		t.Run(fmt.Sprintf("listen at %d columns", cols), func(t *testing.T) { listenInTerminal(t, tm, bin, cols) })
	}
}

var listenPort = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)

// listenInTerminal runs pgprobe listen in a terminal, sends it psql, and
// checks the session's timeline fits.
func listenInTerminal(t *testing.T, tm *terminal, bin string, cols int) {
	home := t.TempDir()
	name := tm.start(cols, []string{"HOME=" + home}, bin, "listen", "--addr", "127.0.0.1:0", "--count", "1", "--then", "ok")
	port := tm.waitFor(name, listenPort)
	out, code := pgtest.RunPsql(t, "host=localhost port="+port+" user=app dbname=appdb application_name=orders sslmode=require password=pw", "")
	if code != 0 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	code, screen := tm.wait(name)
	if code != 0 || !strings.Contains(screen, "startup completed") || !strings.Contains(screen, "ClientAuthentication") {
		t.Errorf("listen: exit %d:\n%s", code, screen)
	}
	if bad := overflowing(screen, cols); len(bad) > 0 {
		t.Errorf("listen at %d columns: %d lines wider than the terminal:\n%s", cols, len(bad), strings.Join(bad, "\n"))
	}
}
