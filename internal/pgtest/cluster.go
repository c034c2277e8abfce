//go:build unix

package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// SuperUser is the bootstrap superuser of every cluster.
	SuperUser = "postgres"

	startTimeout  = 60 * time.Second
	stopTimeout   = 30 * time.Second
	reloadTimeout = 15 * time.Second
	reloadMessage = "received SIGHUP, reloading configuration files"
)

// DefaultHBA is the pg_hba.conf used when Options.HBA is nil.
var DefaultHBA = []string{
	"local all all trust",
	"host all all 127.0.0.1/32 scram-sha-256",
	"host all all ::1/128 scram-sha-256",
}

// Role is a role Start creates.
type Role struct {
	Name     string
	Password string // empty: no password (PASSWORD NULL)
	// Encryption is how the password is stored: "scram-sha-256" (default)
	// or "md5" (password_encryption while the role is created).
	Encryption string
	NoLogin    bool
	Superuser  bool
}

// Options describes a cluster.
type Options struct {
	// SSL turns on ssl with a server certificate for localhost, 127.0.0.1 and
	// ::1 signed by a new CA (Cluster.CA, Cluster.CAFile), which is also the
	// server's ssl_ca_file.
	SSL bool
	// HBA is pg_hba.conf, one line per entry; nil means DefaultHBA. The
	// file always starts with `local all postgres trust` (for Psql).
	HBA       []string
	Roles     []Role
	Databases []string // created with CREATE DATABASE, owned by postgres
	// Conf is extra postgresql.conf lines, e.g. "max_connections = 3";
	// they come after (and so override) the settings pgtest writes.
	Conf []string
	// ListenAddresses is listen_addresses; default "127.0.0.1". For Unix
	// sockets only, add Conf line "listen_addresses = ''".
	ListenAddresses string
	// Version is the PostgreSQL major version to run (see BindirFor):
	// 0 is the default binaries (Debian's 15), 17 and 18 come from
	// scripts/test.sh's cache. A version that is not installed fails the
	// test.
	Version int
}

// Cluster is a running throwaway PostgreSQL server. Its exported fields do
// not change after Start returns; its methods are safe for concurrent use.
type Cluster struct {
	Host          string // where to reach it by TCP: the first listen address ("127.0.0.1")
	Port          int
	Version       int    // the server's major version (15, 17, 18)
	SocketDir     string // unix_socket_directories; host=SocketDir reaches it by Unix socket
	DataDir       string
	Dir           string // the temporary directory holding everything (mode 0755)
	LogFile       string // the server's stderr
	SuperPassword string // password of SuperUser ("postgres"), stored as SCRAM

	CA             *CA    // the CA that signed the server certificate; nil without SSL
	CAFile         string // the CA certificate, PEM, readable by everyone; "" without SSL
	ServerCertFile string // ssl_cert_file; "" without SSL
	ServerKeyFile  string // ssl_key_file (0600, owned by the server's user); "" without SSL

	opts   Options
	bindir string
	cred   *syscall.Credential

	mu         sync.Mutex // serializes start, stop and reload
	proc       *serverProc
	serverCert []byte
}

type serverProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// Start makes and starts a cluster, and registers a t.Cleanup that stops it
// and removes its files. Failures fail the test.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	began := time.Now()
	bindir := BindirFor(t, opts.Version)
	version, err := majorVersion(bindir)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cred := serverCredential(t)
	base := baseDir()
	sweepOnce.Do(func() { sweepStale(base) })

	dir, err := makeDir(base, dirPrefix, cred)
	if dir != "" {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{
		Host:          firstListenHost(opts.ListenAddresses),
		Version:       version,
		SocketDir:     dir,
		DataDir:       filepath.Join(dir, "data"),
		Dir:           dir,
		LogFile:       filepath.Join(dir, "server.log"),
		SuperPassword: randomHex(t, 12),
		opts:          opts,
		bindir:        bindir,
		cred:          cred,
	}
	t.Cleanup(func() { c.cleanup(t) })

	c.makeDataDir(t, base)
	if opts.SSL {
		c.CA = NewCA(t, "pgtest CA")
		c.CAFile = filepath.Join(dir, "ca.crt")
		c.ServerCertFile = filepath.Join(dir, "server.crt")
		c.ServerKeyFile = filepath.Join(dir, "server.key")
		var keyPEM []byte
		c.serverCert, keyPEM = c.CA.Issue(t, CertOptions{CN: "localhost", DNSNames: []string{"localhost"},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}})
		c.must(t, writeOwned(c.CAFile, c.CA.CertPEM, 0o644, cred))
		c.must(t, writeOwned(c.ServerCertFile, c.serverCert, 0o644, cred))
		c.must(t, writeOwned(c.ServerKeyFile, keyPEM, 0o600, cred))
	}
	c.writeHBA(t, opts.HBA)
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	c.must(t, err)
	_, err = f.WriteString("\n# Settings for tests, written by pgtest.\ninclude 'pgtest.conf'\n")
	c.must(t, errors.Join(err, f.Close()))

	c.mu.Lock()
	c.start(t, true)
	c.mu.Unlock()
	c.Psql(t, c.setupSQL(t))
	t.Logf("pgtest: PostgreSQL %d on %s port %d (socket dir %s) ready in %v",
		c.Version, c.Host, c.Port, c.SocketDir, time.Since(began).Round(time.Millisecond))
	return c
}

func firstListenHost(listen string) string {
	first, _, _ := strings.Cut(listen, ",")
	switch first = strings.TrimSpace(first); first {
	case "", "*", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return first
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return hex.EncodeToString(b)
}

func (c *Cluster) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// makeDataDir copies the template (making it first if needed), or runs
// initdb itself when the template is unusable.
func (c *Cluster) makeDataDir(t testing.TB, base string) {
	t.Helper()
	tpl, err := ensureTemplate(c.bindir, base, c.cred)
	if err == nil {
		if err = copyTemplate(tpl, c.DataDir, c.cred); err != nil {
			discardTemplate(tpl)
		}
	}
	if err == nil {
		return
	}
	t.Logf("pgtest: no usable initdb template (%v); running initdb for this cluster", err)
	_ = os.RemoveAll(c.DataDir)
	c.must(t, initdb(c.bindir, c.DataDir, c.Dir, c.cred))
}

func (c *Cluster) writeHBA(t testing.TB, lines []string) {
	t.Helper()
	if lines == nil {
		lines = DefaultHBA
	}
	var b strings.Builder
	b.WriteString("# pg_hba.conf written by pgtest.\n# Cluster.Psql runs SQL as the superuser through this line:\nlocal all postgres trust\n# StartStandby's pg_basebackup and walreceiver use this one:\nlocal replication postgres trust\n# The test's lines:\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	c.must(t, writeOwned(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(b.String()), 0o600, c.cred))
}

func (c *Cluster) writeConf(t testing.TB) {
	t.Helper()
	listen := c.opts.ListenAddresses
	if listen == "" {
		listen = "127.0.0.1"
	}
	lines := []string{
		"listen_addresses = " + quoteLiteral(listen),
		"port = " + strconv.Itoa(c.Port),
		"unix_socket_directories = " + quoteLiteral(c.SocketDir),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"autovacuum = off",
		"shared_buffers = 16MB",
		"log_connections = on",
		"lc_messages = 'C'",
	}
	if c.opts.SSL {
		lines = append(lines, "ssl = on",
			"ssl_cert_file = "+quoteLiteral(c.ServerCertFile),
			"ssl_key_file = "+quoteLiteral(c.ServerKeyFile),
			"ssl_ca_file = "+quoteLiteral(c.CAFile))
	}
	lines = append(lines, "# Options.Conf:")
	lines = append(lines, c.opts.Conf...)
	c.must(t, writeOwned(filepath.Join(c.DataDir, "pgtest.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o600, c.cred))
}

func (c *Cluster) setupSQL(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER ROLE %s PASSWORD %s;\n", quoteIdent(SuperUser), quoteLiteral(c.SuperPassword))
	for _, r := range c.opts.Roles {
		enc := r.Encryption
		if enc == "" {
			enc = "scram-sha-256"
		}
		if enc != "scram-sha-256" && enc != "md5" {
			t.Fatalf("pgtest: role %q: Encryption %q: want \"scram-sha-256\" or \"md5\"", r.Name, r.Encryption)
		}
		attrs := "LOGIN"
		if r.NoLogin {
			attrs = "NOLOGIN"
		}
		if r.Superuser {
			attrs += " SUPERUSER"
		}
		pw := "NULL"
		if r.Password != "" {
			pw = quoteLiteral(r.Password)
		}
		fmt.Fprintf(&b, "SET password_encryption = %s;\nCREATE ROLE %s %s PASSWORD %s;\n", quoteLiteral(enc), quoteIdent(r.Name), attrs, pw)
	}
	b.WriteString("RESET password_encryption;\n")
	for _, d := range c.opts.Databases {
		fmt.Fprintf(&b, "CREATE DATABASE %s;\n", quoteIdent(d))
	}
	return b.String()
}

// start launches the postmaster and waits until it accepts connections.
// With pickPort it chooses a free port first, and another one when the
// server cannot bind; otherwise it retries the same port for a while.
// c.mu must be held.
func (c *Cluster) start(t testing.TB, pickPort bool) {
	t.Helper()
	c.startUntil(t, pickPort, pmStatusReady)
}

// The states postmaster.pid records on its eighth line (PM_STATUS_* in
// PostgreSQL's pidfile.h).
const (
	pmStatusStarting = "starting" // PM_STARTUP: the startup process has not begun recovery
	pmStatusReady    = "ready"    // accepting connections
	pmStatusStandby  = "standby"  // in recovery, not accepting connections (hot_standby = off)
	pmStatusStopping = "stopping" // shutting down
)

// startUntil is start, waiting until the postmaster records status.
func (c *Cluster) startUntil(t testing.TB, pickPort bool, status string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if pickPort {
			c.Port = FreePort(t)
			c.writeConf(t)
		}
		off := c.logSize()
		p, err := c.launch()
		if err == nil {
			err = p.waitStatus(c.DataDir, status, startTimeout)
		}
		if err == nil {
			c.proc = p
			return
		}
		section := c.logSince(off)
		if strings.Contains(section, "Address already in use") && attempt < 20 {
			if !pickPort {
				time.Sleep(250 * time.Millisecond)
			}
			continue
		}
		t.Fatalf("pgtest: starting PostgreSQL (port %d, data %s): %v\nserver log:\n%s", c.Port, c.DataDir, err, section)
	}
}

func (c *Cluster) launch() (*serverProc, error) {
	log, err := os.OpenFile(c.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(c.bindir, "postgres"), "-D", c.DataDir)
	cmd.Dir = c.Dir
	cmd.Env = baseEnv(c.Dir)
	cmd.Stdout, cmd.Stderr = log, log
	// Own process group: a ^C in the terminal reaches the test process,
	// whose death then stops the server through the parent-death signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitStatus polls postmaster.pid until the postmaster records status
// ("ready", as pg_ctl -w does), but every 5 ms.
func (p *serverProc) waitStatus(dataDir, status string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	want := strconv.Itoa(p.cmd.Process.Pid)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited: %v", p.err)
		default:
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) > 7 && strings.TrimSpace(lines[0]) == want && strings.TrimSpace(lines[7]) == status {
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = p.stop(syscall.SIGQUIT, 5*time.Second)
			return fmt.Errorf("postmaster.pid does not say %q after %v", status, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop sends sig (SIGINT: fast shutdown, SIGQUIT: immediate) and waits;
// after grace it kills the postmaster.
func (p *serverProc) stop(sig syscall.Signal, grace time.Duration) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("postgres did not stop within %v after %v; killed it", grace, sig)
	}
}

func (c *Cluster) cleanup(t testing.TB) {
	c.mu.Lock()
	p := c.proc
	c.proc = nil
	c.mu.Unlock()
	if p != nil {
		if err := p.stop(syscall.SIGQUIT, stopTimeout); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	}
	if t.Failed() {
		t.Logf("pgtest: server log of the cluster on port %d (last 60 lines):\n%s", c.Port, lastLines(c.logSince(0), 60))
	}
}

func lastLines(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

func (c *Cluster) logSize() int64 {
	st, err := os.Stat(c.LogFile)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (c *Cluster) logSince(off int64) string {
	b, err := os.ReadFile(c.LogFile)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// Log returns the server log so far, for failure messages. (When a test
// fails, its cleanup also logs the last lines.)
func (c *Cluster) Log(t testing.TB) string {
	t.Helper()
	return c.logSince(0)
}

// TryPsql runs sql (one or more statements, as a script: each statement in
// its own transaction unless it says BEGIN, so CREATE DATABASE and ALTER
// SYSTEM work) as the superuser over the Unix socket, with psql -X -q -A -t
// -v ON_ERROR_STOP=1. It returns psql's stdout (rows one per line, columns
// separated by "|", the final newline removed) and, on failure, an error
// holding stderr.
func (c *Cluster) TryPsql(t testing.TB, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ClientPath(t, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", SuperUser, "-d", "postgres", "-f", "-")
	cmd.Env = mergeEnv(baseEnv(c.Dir), "PGAPPNAME=pgtest", "PGCONNECT_TIMEOUT=10")
	cmd.Stdin = strings.NewReader(sql)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("psql: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// Psql is TryPsql that fails the test on error.
func (c *Cluster) Psql(t testing.TB, sql string) string {
	t.Helper()
	out, err := c.TryPsql(t, sql)
	if err != nil {
		t.Fatalf("pgtest: SQL failed on the cluster on port %d: %v\nSQL:\n%s\nserver log (last lines):\n%s",
			c.Port, err, sql, lastLines(c.logSince(0), 20))
	}
	return out
}

// Reload makes the server re-read its configuration files (SIGHUP, as
// pg_reload_conf() does) and returns once the postmaster has applied them,
// so a connection made next sees the new settings. A pg_hba.conf, SSL or
// postgresql.conf that the server rejects fails the test with its log.
func (c *Cluster) Reload(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		t.Fatalf("pgtest: Reload: the server is stopped")
	}
	off := c.logSize()
	if err := c.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("pgtest: Reload: %v", err)
	}
	deadline := time.Now().Add(reloadTimeout)
	for !strings.Contains(c.logSince(off), reloadMessage) {
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: Reload: the server did not log %q within %v; log:\n%s", reloadMessage, reloadTimeout, c.logSince(off))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The postmaster handles SIGHUP completely before it accepts another
	// connection, so once this round trip is done the reload is applied.
	c.Psql(t, "SELECT 1")
	section := c.logSince(off)
	for _, bad := range []string{"was not reloaded", "contains errors"} {
		if strings.Contains(section, bad) {
			t.Fatalf("pgtest: Reload: the server rejected the new configuration:\n%s", section)
		}
	}
}

// SetHBA replaces pg_hba.conf with lines (nil: DefaultHBA; the superuser
// line for Psql stays first) and reloads.
func (c *Cluster) SetHBA(t testing.TB, lines []string) {
	t.Helper()
	c.writeHBA(t, lines)
	c.Reload(t)
}

// SetServerCert replaces the server's certificate (PEM; append intermediate
// CA certificates to send a chain) and key, and reloads. The cluster must
// have been started with SSL. The key is written 0600 and owned by the
// server's user, as the server demands.
func (c *Cluster) SetServerCert(t testing.TB, certPEM, keyPEM []byte) {
	t.Helper()
	if !c.opts.SSL {
		t.Fatalf("pgtest: SetServerCert: start the cluster with Options{SSL: true}")
	}
	c.mu.Lock()
	c.serverCert = append([]byte(nil), certPEM...)
	c.mu.Unlock()
	c.must(t, writeOwned(c.ServerCertFile, certPEM, 0o644, c.cred))
	c.must(t, writeOwned(c.ServerKeyFile, keyPEM, 0o600, c.cred))
	c.Reload(t)
}

// ServerCert returns the PEM the server presents (nil without SSL).
func (c *Cluster) ServerCert() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.serverCert...)
}

// WriteServerFile writes a file into the cluster's directory, owned by the
// server's user with exactly perm, and returns its path: for files the
// server reads (e.g. an ssl_ca_file or ssl_crl_file set with ALTER SYSTEM).
func (c *Cluster) WriteServerFile(t testing.TB, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(c.Dir, name)
	c.must(t, writeOwned(p, data, perm, c.cred))
	return p
}

// Stop shuts the server down (fast shutdown: sessions are ended) and waits
// until it has exited. It does nothing when the server is stopped.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return
	}
	err := c.proc.stop(syscall.SIGINT, stopTimeout)
	c.proc = nil
	if err != nil {
		t.Errorf("pgtest: Stop: %v", err)
	}
}

// Restart stops the server if it runs and starts it again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(t, "Restart")
	c.start(t, false)
}

// stopLocked shuts the server down (fast) if it runs, for caller's restart;
// c.mu must be held.
func (c *Cluster) stopLocked(t testing.TB, caller string) {
	t.Helper()
	if c.proc == nil {
		return
	}
	err := c.proc.stop(syscall.SIGINT, stopTimeout)
	c.proc = nil
	if err != nil {
		t.Errorf("pgtest: %s: %v", caller, err)
	}
}

// ConnString returns "host=HOST port=PORT" followed by kv, each "key=value"
// with a raw value, quoted here as libpq needs ("sslrootcert="+path is fine
// with spaces in path). A key given again replaces the earlier value in
// place, so ConnString("host=localhost") or ConnString("host="+c.SocketDir)
// override the host. It panics on an element without "=".
func (c *Cluster) ConnString(kv ...string) string {
	keys := []string{"host", "port"}
	vals := map[string]string{"host": c.Host, "port": strconv.Itoa(c.Port)}
	for _, e := range kv {
		k, v, ok := strings.Cut(e, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			panic(fmt.Sprintf("pgtest: ConnString: %q is not key=value", e))
		}
		if _, seen := vals[k]; !seen {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + quoteConnValue(vals[k])
	}
	return strings.Join(parts, " ")
}

func quoteConnValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
