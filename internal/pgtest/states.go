//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Refusal is a state in which the postmaster itself answers every new
// connection with FATAL 57P03, before authentication, as PostgreSQL 15's
// ProcessStartupPacket does (canAcceptConnections' CAC_* results).
type Refusal int

const (
	// StartingUp holds the postmaster in PM_STARTUP: the server starts in
	// standby mode with a restore_command that does not return until the
	// test ends, so the startup process never begins redo. Connections
	// get "the database system is starting up" (CAC_STARTUP).
	StartingUp Refusal = iota + 1
	// HotStandbyOff starts the server in standby mode, with no primary,
	// and hot_standby = off. Connections get "the database system is not
	// accepting connections", DETAIL "Hot standby mode is disabled."
	// (CAC_NOTCONSISTENT).
	HotStandbyOff
)

// RestartRefusing stops the server and starts it again, on the same port,
// in the state r. It returns once the postmaster is listening in that
// state; the cluster's cleanup stops it as usual.
func (c *Cluster) RestartRefusing(t testing.TB, r Refusal) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(t, "RestartRefusing")
	c.must(t, writeOwned(filepath.Join(c.DataDir, "standby.signal"), nil, 0o600, c.cred))
	status := pmStatusStandby
	switch r {
	case StartingUp:
		// The startup process runs restore_command while it looks for
		// the newest timeline's history file, before it signals the
		// postmaster that recovery has started. The command waits for
		// the hold file to go; the test's cleanup removes it (and the
		// whole directory), so no shell outlives the test for long.
		hold := filepath.Join(c.Dir, "hold-startup")
		c.must(t, os.WriteFile(hold, nil, 0o644))
		t.Cleanup(func() { _ = os.Remove(hold) })
		c.opts.Conf = append(append([]string{}, c.opts.Conf...),
			"restore_command = "+quoteLiteral("while test -e "+hold+"; do sleep 0.1; done; exit 1"))
		status = pmStatusStarting
	case HotStandbyOff:
		c.opts.Conf = append(append([]string{}, c.opts.Conf...), "hot_standby = off")
	default:
		t.Fatalf("pgtest: RestartRefusing: unknown state %d", r)
	}
	c.writeConf(t)
	c.startUntil(t, false, status)
}

// BeginSmartShutdown asks the server for a smart shutdown (SIGTERM) and
// returns at once. The postmaster then waits for its sessions to end and
// answers every new connection with FATAL 57P03 "the database system is
// shutting down". With a session open (RunPsqlBackground), that lasts
// until the session ends or the test's cleanup stops the server.
func (c *Cluster) BeginSmartShutdown(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		t.Fatalf("pgtest: BeginSmartShutdown: the server on port %d is not running", c.Port)
	}
	if err := c.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("pgtest: BeginSmartShutdown: %v", err)
	}
	// The postmaster handles the signal in its own time: wait until it
	// records the shutdown, after which it turns new connections away.
	if err := c.proc.waitStatus(c.DataDir, pmStatusStopping, startTimeout); err != nil {
		t.Fatalf("pgtest: BeginSmartShutdown (is a session open?): %v", err)
	}
}

// WaitSessions waits until at least n client sessions other than its own
// query's are connected, e.g. the psql of RunPsqlBackground.
func (c *Cluster) WaitSessions(t testing.TB, n int) {
	t.Helper()
	q := fmt.Sprintf("SELECT count(*) >= %d FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", n)
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := c.TryPsql(t, q)
		if err == nil && out == "t" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: fewer than %d sessions on port %d after %v (%q, %v)", n, c.Port, startTimeout, out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
