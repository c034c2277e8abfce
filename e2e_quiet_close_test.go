//go:build unix

package main

// A probe must leave no more in a real server's log than libpq leaves for
// the same settings: libpq sends Terminate only on an established
// connection and otherwise just closes the socket, which PostgreSQL does not
// log while it waits for a password. A health check every 10 s that leaves
// a FATAL line is 8,640 FATAL lines a day.

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// backendLog is what the backends started while run ran wrote to the
// server's log, once every one of them has exited.
func backendLog(t *testing.T, c *pgtest.Cluster, run func()) []string {
	t.Helper()
	before := len(c.Log(t))
	run()
	// Every backend logs "connection received" before it reads the startup
	// packet, so its line is written before the client saw any answer.
	var pids []int
	for _, m := range reConnReceived.FindAllStringSubmatch(c.Log(t)[before:], -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatalf("no backend was started:\n%s", c.Log(t)[before:])
	}
	for _, pid := range pids {
		waitExit(t, pid)
	}
	var lines []string
	for _, line := range strings.Split(c.Log(t)[before:], "\n") {
		for _, pid := range pids {
			if strings.HasPrefix(line, strconv.Itoa(pid)+" ") {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

var reConnReceived = regexp.MustCompile(`(?m)^(\d+) LOG:  connection received: host=127\.0\.0\.1`)

// waitExit waits until the backend pid has exited, so that all it will log
// is in the log.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("backend %d did not exit within 10 s", pid)
}

// complaints are the FATAL and ERROR lines among lines.
func complaints(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, " FATAL:  ") || strings.Contains(l, " ERROR:  ") {
			out = append(out, l)
		}
	}
	return out
}

func TestQuietClose(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{SSL: true,
		HBA: []string{
			"local all all trust",
			"host all scramuser 127.0.0.1/32 scram-sha-256",
			"host all md5user 127.0.0.1/32 md5",
			"host all pwuser 127.0.0.1/32 password",
			"host all trustuser 127.0.0.1/32 trust",
		},
		Roles: []pgtest.Role{
			{Name: "scramuser", Password: scramPW},
			{Name: "md5user", Password: md5PW, Encryption: "md5"},
			{Name: "pwuser", Password: scramPW},
			{Name: "trustuser"},
		},
		Conf: []string{"log_line_prefix = '%p '"},
	})
	cases := []struct {
		name   string
		target string
		// args for pgprobe; pg_isready (-d target) is the oracle
		args []string
	}{
		{"ping trust", conn(c, "user=trustuser", "dbname=postgres"), []string{"--ping"}},
		{"ping md5", conn(c, "user=md5user", "dbname=postgres"), []string{"--ping"}},
		{"ping password", conn(c, "user=pwuser", "dbname=postgres"), []string{"--ping"}},
		{"ping scram", conn(c, "user=scramuser", "dbname=postgres"), []string{"--ping"}},
		{"ping scram over TLS", conn(c, "user=scramuser", "dbname=postgres", "sslmode=require"), []string{"--ping"}},
		// Refusals of libpq's own rules end the startup from the client's
		// side; libpq then closes the socket and the server logs nothing.
		{"require_auth refuses md5", conn(c, "user=md5user", "dbname=postgres", "require_auth=scram-sha-256"), nil},
		{"channel_binding=require refuses md5", conn(c, "user=md5user", "dbname=postgres", "sslmode=require", "channel_binding=require"), nil},
		{"require_auth refuses password", conn(c, "user=pwuser", "dbname=postgres", "require_auth=md5"), nil},
	}
	// One at a time: each case reads the log lines of the backends it
	// started.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var oracle []string
			if tc.args != nil {
				oracle = complaints(backendLog(t, c, func() { pgtest.RunPgIsready(t, []string{"-d", tc.target}) }))
			}
			var code int
			got := complaints(backendLog(t, c, func() {
				code = pgprobe(t, nil, append(append([]string{"-q"}, tc.args...), tc.target)...).code
			}))
			if tc.args == nil && code != 1 {
				t.Errorf("pgprobe exit %d, want 1 (refused by the client's settings)", code)
			}
			if len(got) > len(oracle) {
				t.Errorf("pgprobe left %d FATAL/ERROR lines in the server's log, libpq %d:\npgprobe: %q\nlibpq:   %q", len(got), len(oracle), got, oracle)
			}
		})
	}
}
