//go:build unix

package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartStandby makes a streaming hot standby of primary with pg_basebackup
// -R (over primary's Unix socket, as the superuser, through the `local
// replication postgres trust` line every cluster's pg_hba.conf has), starts
// it on a new port and waits until it is in recovery and streaming. The
// standby has primary's options (listen address, SSL files, roles: they are
// replicated) and hot_standby = on. PostgreSQL 15's defaults already give
// wal_level = replica and max_wal_senders = 10 on the primary.
func StartStandby(t testing.TB, primary *Cluster) *Cluster {
	t.Helper()
	began := time.Now()
	// The npm packages of PostgreSQL 17 and 18 hold no pg_basebackup, and
	// one of another major version refuses to copy the server.
	if !isExec(filepath.Join(primary.bindir, "pg_basebackup")) {
		t.Fatalf("pgtest: StartStandby: no pg_basebackup in %s (PostgreSQL %d): standbys need a full installation such as Debian's",
			primary.bindir, primary.Version)
	}
	base := baseDir()
	dir, err := makeDir(base, dirPrefix, primary.cred)
	if dir != "" {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{
		Host:           primary.Host,
		SocketDir:      dir,
		DataDir:        filepath.Join(dir, "data"),
		Dir:            dir,
		LogFile:        filepath.Join(dir, "server.log"),
		SuperPassword:  primary.SuperPassword,
		CA:             primary.CA,
		CAFile:         primary.CAFile,
		ServerCertFile: primary.ServerCertFile,
		ServerKeyFile:  primary.ServerKeyFile,
		opts:           primary.opts,
		bindir:         primary.bindir,
		cred:           primary.cred,
		serverCert:     primary.ServerCert(),
	}
	c.opts.Conf = append(append([]string{}, primary.opts.Conf...), "hot_standby = on")
	t.Cleanup(func() { c.cleanup(t) })

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, "pg_basebackup"), "-D", c.DataDir, "-R",
		"-X", "stream", "-c", "fast", "--no-sync",
		"-h", primary.SocketDir, "-p", strconv.Itoa(primary.Port), "-U", SuperUser)
	cmd.Dir = dir
	cmd.Env = baseEnv(dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: pg_basebackup from port %d: %v\n%s", primary.Port, err, out)
	}
	c.mu.Lock()
	c.start(t, true)
	c.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		out, err := c.TryPsql(t, "SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')")
		if err == nil && strings.TrimSpace(out) == "t|1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: standby on port %d is not streaming from port %d (%q, %v)\nserver log:\n%s",
				c.Port, primary.Port, out, err, lastLines(c.logSince(0), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("pgtest: standby of port %d on %s port %d ready in %v", primary.Port, c.Host, c.Port,
		time.Since(began).Round(time.Millisecond))
	return c
}
