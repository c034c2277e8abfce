//go:build unix

package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Realm is the Kerberos realm of every KDC StartKDC makes.
const Realm = "PGPROBE.TEST"

const kdcInstallHint = "run scripts/test.sh (it installs Debian's krb5-kdc, krb5-user and krb5-admin-server)"

// KDC is a throwaway MIT Kerberos KDC on a loopback port: its own
// krb5.conf, database and keytabs, all in a temporary directory.
type KDC struct {
	Realm  string
	Port   int
	Dir    string // everything: krb5.conf, the database, the keytab, the caches
	Config string // krb5.conf, for KRB5_CONFIG
	// Keytab holds the keys of every service added with AddService.
	Keytab string

	proc *exec.Cmd
	done chan struct{}
}

// StartKDC makes a realm (kdb5_util create -s) and starts krb5kdc on a free
// loopback port, stopped by a t.Cleanup. Missing MIT programs fail the test.
func StartKDC(t testing.TB) *KDC {
	t.Helper()
	for _, p := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit"} {
		kdcProgram(t, p)
	}
	dir, err := makeDir(baseDir(), dirPrefix+"kdc-", nil)
	if err != nil {
		t.Fatalf("pgtest: StartKDC: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	k := &KDC{Realm: Realm, Dir: dir, Config: filepath.Join(dir, "krb5.conf"), Keytab: filepath.Join(dir, "server.keytab")}
	for attempt := 1; ; attempt++ {
		k.Port = FreePort(t)
		k.writeConfig(t)
		if attempt == 1 {
			k.run(t, "kdb5_util", "create", "-s", "-r", k.Realm, "-P", "pgtest-master-"+randomHex(t, 8))
		}
		if k.start(t) {
			break
		}
		if attempt == 5 {
			t.Fatalf("pgtest: krb5kdc did not start; log:\n%s", k.log())
		}
	}
	t.Cleanup(k.Stop)
	return k
}

func (k *KDC) writeConfig(t testing.TB) {
	t.Helper()
	conf := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	udp_preference_limit = 1
	forwardable = true
	# Tickets expire when they say (libkrb5 and the KDC allow 300 s of
	# clock skew by default, which would keep an expired ticket usable).
	clockskew = 1
[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[2]d
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
	}
[domain_realm]
	localhost = %[1]s
[kdcdefaults]
	kdc_ports = %[2]d
	kdc_tcp_ports = %[2]d
[logging]
	kdc = FILE:%[3]s/kdc.log
`, k.Realm, k.Port, k.Dir)
	if err := os.WriteFile(k.Config, []byte(conf), 0o644); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// start runs krb5kdc in the foreground (-n) and waits until it answers on
// its TCP port; false when it exited first (its port was taken).
func (k *KDC) start(t testing.TB) bool {
	t.Helper()
	cmd := exec.Command(kdcProgram(t, "krb5kdc"), "-n", "-r", k.Realm)
	cmd.Env = k.env()
	out, err := os.OpenFile(filepath.Join(k.Dir, "krb5kdc.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// As the clusters: a test process killed before its cleanup takes the
	// KDC with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: starting krb5kdc: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		if strings.Contains(k.log(), "commencing operation") {
			k.proc, k.done = cmd, done
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	t.Fatalf("pgtest: krb5kdc did not start within %v; log:\n%s", startTimeout, k.log())
	return false
}

func (k *KDC) log() string {
	var b []byte
	for _, f := range []string{"kdc.log", "krb5kdc.out"} {
		x, _ := os.ReadFile(filepath.Join(k.Dir, f))
		b = append(b, x...)
	}
	return string(b)
}

// Log is what the KDC logged so far (each request and its outcome).
func (k *KDC) Log() string { return k.log() }

// Stop stops the KDC (for tests of an unreachable KDC); the cleanup calls
// it too.
func (k *KDC) Stop() {
	if k.proc == nil {
		return
	}
	_ = k.proc.Process.Kill()
	<-k.done
	k.proc = nil
}

// env is the environment of the MIT programs run for this realm.
func (k *KDC) env(extra ...string) []string {
	return mergeEnv(baseEnv(k.Dir), append([]string{"KRB5_CONFIG=" + k.Config, "KRB5_KDC_PROFILE=" + k.Config,
		"KRB5CCNAME=FILE:" + filepath.Join(k.Dir, "unused.ccache")}, extra...)...)
}

// run runs an MIT program for the realm and fails the test on error.
func (k *KDC) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := k.runStdin(t, "", name, args...)
	if err != nil {
		t.Fatalf("pgtest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (k *KDC) runStdin(t testing.TB, stdin, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kdcProgram(t, name), args...)
	cmd.Env = k.env()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// AddUser adds a user principal with a password; opts are more addprinc
// options (e.g. "-maxlife", "5s").
func (k *KDC) AddUser(t testing.TB, name, password string, opts ...string) {
	t.Helper()
	q := append([]string{"addprinc", "-pw", password}, opts...)
	k.run(t, "kadmin.local", "-q", strings.Join(append(q, name), " "))
}

// AddService adds a service principal ("postgres/localhost") with a random
// key and writes its key into Keytab.
func (k *KDC) AddService(t testing.TB, name string) {
	t.Helper()
	k.AddServiceTo(t, name, k.Keytab)
}

// AddServiceTo is AddService writing into another keytab file.
func (k *KDC) AddServiceTo(t testing.TB, name, keytab string) {
	t.Helper()
	k.run(t, "kadmin.local", "-q", "addprinc -randkey "+name)
	k.run(t, "kadmin.local", "-q", "ktadd -k "+keytab+" "+name)
}

// Kinit gets a ticket for principal with password into a new FILE: cache
// and returns the cache's name ("FILE:/…"). lifetime ("" for the realm's
// default) is kinit -l's.
func (k *KDC) Kinit(t testing.TB, principal, password, lifetime string) string {
	t.Helper()
	f, err := os.CreateTemp(k.Dir, "ccache-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	f.Close()
	_ = os.Remove(f.Name()) // kinit makes it
	cache := "FILE:" + f.Name()
	args := []string{"-c", cache}
	if lifetime != "" {
		args = append(args, "-l", lifetime)
	}
	out, err := k.runStdin(t, password+"\n", "kinit", append(args, principal)...)
	if err != nil {
		t.Fatalf("pgtest: kinit %s: %v\n%s", principal, err, out)
	}
	return cache
}

// WaitExpired waits until every ticket in cache has expired (klist -s
// fails) and the realm's clock skew allowance (1 s) has passed too.
func (k *KDC) WaitExpired(t testing.TB, cache string) {
	t.Helper()
	deadline := time.Now().Add(ClientTimeout)
	for {
		if _, err := k.runStdin(t, "", "klist", "-s", cache); err != nil {
			time.Sleep(1500 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: the tickets in %s did not expire within %v", cache, ClientTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Env is the environment a Kerberos client (psql, pgprobe) needs for this
// realm with cache ("" for none: KRB5CCNAME names a file that does not
// exist).
func (k *KDC) Env(cache string) []string {
	if cache == "" {
		cache = "FILE:" + filepath.Join(k.Dir, "no-such-ccache")
	}
	return []string{"KRB5_CONFIG=" + k.Config, "KRB5CCNAME=" + cache}
}

// ServerKeytab copies Keytab into c's directory, readable only by the
// server's user, and points krb_server_keyfile at it (a reload follows
// with the next SetHBA or Reload).
func (k *KDC) ServerKeytab(t testing.TB, c *Cluster) string {
	t.Helper()
	return k.ServerKeytabFrom(t, c, k.Keytab)
}

// ServerKeytabFrom is ServerKeytab with another keytab file.
func (k *KDC) ServerKeytabFrom(t testing.TB, c *Cluster, keytab string) string {
	t.Helper()
	data, err := os.ReadFile(keytab)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	p := c.WriteServerFile(t, "server.keytab", data, 0o600)
	c.Psql(t, "ALTER SYSTEM SET krb_server_keyfile = "+quoteLiteral("FILE:"+p))
	return p
}

// kdcProgram finds an MIT Kerberos program (Debian keeps the KDC's in
// /usr/sbin); a missing one fails the test.
func kdcProgram(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if p := filepath.Join(d, name); isExec(p) {
			return p
		}
	}
	t.Fatalf("pgtest: %s not found; %s", name, kdcInstallHint)
	return ""
}
