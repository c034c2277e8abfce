//go:build unix

package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgprobe/pgprobe/scan"
	"github.com/pgprobe/pgprobe/server"
)

// TestScanCommand: the command's exit codes, its JSON and its text, against
// the test server (package scan's tests grade real PostgreSQL servers). Not
// in parallel: urfave/cli's subcommands share its global help flag, so two
// subcommands may not run at once in one process.
func TestScanCommand(t *testing.T) {
	md5 := testServer(t, server.Config{SSL: true, Auth: server.AuthMD5})
	target := fmt.Sprintf("host=127.0.0.1 port=%d user=alice", md5)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stdout
		err  string   // in stderr
	}{
		{"findings at or above high", []string{"scan", "-o", "json", target, "--users", "alice,bob"}, 4,
			[]string{`"schema": "pgprobe/scan/v1"`, `"id": "plaintext-login"`, `"id": "md5-auth"`, `"exit_code": 4`, `"user": "bob"`}, ""},
		{"none at or above critical", []string{"scan", "-o", "json", "--fail-on", "critical", target}, 0, []string{`"ok": true`, `"exit_code": 0`}, ""},
		{"text", []string{"scan", "-h", "127.0.0.1", "-p", fmt.Sprint(md5), "-U", "alice"}, 4,
			[]string{"WHAT", "user alice", "ssl: md5; plaintext: md5", "SEVERITY", "plaintext-login", "Advice", "pg_hba.conf"}, ""},
		{"unreachable", []string{"scan", fmt.Sprintf("host=127.0.0.1 port=%d", closed)}, 2, []string{"not scanned", "could not reach"}, ""},
		{"unreachable json", []string{"scan", "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d", closed)}, 2, []string{`"exit_code": 2`, `"class": "connect"`}, ""},
		{"bad fail-on", []string{"scan", "--fail-on", "severe", target}, 3, nil, `invalid --fail-on "severe": use info, low, medium, high or critical`},
		{"bad output", []string{"scan", "-o", "table", target}, 3, nil, `invalid --output "table" for scan`},
		{"bad users", []string{"scan", "--users", "alice,,bob", target}, 3, nil, `invalid --users "alice,,bob"`},
		{"socket", []string{"scan", "host=/tmp"}, 3, nil, "Unix-socket directory"},
		{"two hosts", []string{"scan", "host=a,b"}, 3, nil, "the target names 2 hosts"},
		{"two targets", []string{"scan", "host=a", "host=b"}, 3, nil, "scan takes one target"},
		{"zero timeout", []string{"scan", "-t", "0", target}, 3, nil, "each connection needs a deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pgprobe(t, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b[") {
				t.Errorf("colour with NO_COLOR:\n%s", r.stdout)
			}
		})
	}
}

// TestScanNoPassword: a password in the target, in PGPASSWORD or in a URI
// is never printed, in text or JSON (package scan's tests check that no
// password is sent).
func TestScanNoPassword(t *testing.T) {
	const pw = "Zq9-scan-secret"
	md5 := testServer(t, server.Config{SSL: true, Auth: server.AuthMD5})
	for _, args := range [][]string{
		{"scan", "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=alice password=%s", md5, pw)},
		{"scan", fmt.Sprintf("postgresql://alice:%s@127.0.0.1:%d/postgres", pw, md5)},
		{"scan", "-o", "json", fmt.Sprintf("postgresql://alice:%s@127.0.0.1:1/postgres", pw)},
	} {
		r := pgprobe(t, map[string]string{"PGPASSWORD": pw}, args...)
		if r.code != 4 && r.code != 2 {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("%v: the password is in the output:\n%s%s", args, r.stdout, r.stderr)
		}
	}
}

// TestScanTextFitsTheTerminal: every line of the text report fits COLUMNS.
func TestScanTextFitsTheTerminal(t *testing.T) {
	port := testServer(t, server.Config{SSL: true, Auth: server.AuthPassword})
	for _, cols := range []int{60, 80, 120} {
		r := pgprobe(t, map[string]string{"COLUMNS": strconv.Itoa(cols)}, "scan", fmt.Sprintf("host=127.0.0.1 port=%d user=alice", port))
		if r.code != 4 {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if n := utf8.RuneCountInString(l); n > cols {
				t.Errorf("COLUMNS=%d: line of %d: %q", cols, n, l)
			}
		}
		if !strings.Contains(r.stdout, "password-over-plaintext") || !strings.Contains(r.stdout, "critical") {
			t.Errorf("COLUMNS=%d:\n%s", cols, r.stdout)
		}
	}
}

// TestScanReadmeRanks: the README's table of findings is scan's list.
func TestScanReadmeRanks(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range scan.Rules() {
		if row := fmt.Sprintf("| `%s` | %s | %s |", r.ID, r.Severity, r.Title); !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %s", row)
		}
	}
}
