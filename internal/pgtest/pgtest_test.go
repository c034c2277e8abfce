//go:build unix

package pgtest_test

import (
	"crypto/x509"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestSSLRoles is the helper's acceptance test: an SSL cluster with an md5
// role and a SCRAM role, both logging in over TLS with verify-full, and a
// hostnossl line that rejects an SSL connection.
func TestSSLRoles(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{
		SSL: true,
		Roles: []pgtest.Role{
			{Name: "md5user", Password: "md5 pass'word", Encryption: "md5"},
			{Name: "scramuser", Password: "scram-secret"},
			{Name: "plainuser", Password: "plain-secret"},
		},
		HBA: []string{
			"hostnossl all plainuser 127.0.0.1/32 scram-sha-256",
			"hostnossl all plainuser ::1/128 scram-sha-256",
			"hostssl all md5user,scramuser 127.0.0.1/32 md5",
			"hostssl all md5user,scramuser ::1/128 md5",
		},
	})

	stored := c.Psql(t, `SELECT rolname, CASE WHEN rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5' ELSE split_part(rolpassword, '$', 1) END
		FROM pg_authid WHERE rolname LIKE '%user' ORDER BY 1`)
	if want := "md5user|md5\nplainuser|SCRAM-SHA-256\nscramuser|SCRAM-SHA-256"; stored != want {
		t.Errorf("stored passwords:\n%s\nwant:\n%s", stored, want)
	}

	const query = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
	for _, r := range []struct{ user, password string }{{"md5user", "md5 pass'word"}, {"scramuser", "scram-secret"}} {
		conn := c.ConnString("host=localhost", "dbname=postgres", "user="+r.user, "password="+r.password,
			"sslmode=verify-full", "sslrootcert="+c.CAFile)
		out, code := pgtest.RunPsql(t, conn, query)
		if code != 0 || strings.TrimSpace(out) != r.user+"|t" {
			t.Errorf("%s over TLS (verify-full): exit %d, output:\n%s", r.user, code, out)
		}
		out, code = pgtest.RunPsql(t, c.ConnString("user="+r.user, "password=wrong", "dbname=postgres", "sslmode=require"), query)
		if code != 2 || !strings.Contains(out, `password authentication failed for user "`+r.user+`"`) {
			t.Errorf("%s with a wrong password: exit %d, output:\n%s", r.user, code, out)
		}
	}

	// hostnossl: the same role is refused over TLS and accepted without it.
	out, code := pgtest.RunPsql(t, c.ConnString("user=plainuser", "password=plain-secret", "dbname=postgres", "sslmode=require"), query)
	if want := `no pg_hba.conf entry for host "127.0.0.1", user "plainuser", database "postgres", SSL encryption`; code != 2 || !strings.Contains(out, want) {
		t.Errorf("plainuser over TLS: exit %d, want 2 and %q; output:\n%s", code, want, out)
	}
	out, code = pgtest.RunPsql(t, c.ConnString("user=plainuser", "password=plain-secret", "dbname=postgres", "sslmode=disable"), query)
	if code != 0 || strings.TrimSpace(out) != "plainuser|f" {
		t.Errorf("plainuser without TLS: exit %d, output:\n%s", code, out)
	}

	// The client's HOME is empty: verify-full without sslrootcert finds no root.crt.
	out, code = pgtest.RunPsql(t, c.ConnString("user=scramuser", "password=scram-secret", "dbname=postgres", "sslmode=verify-full"), "")
	if code != 2 || !strings.Contains(out, "root certificate file") {
		t.Errorf("verify-full without sslrootcert: exit %d, output:\n%s", code, out)
	}
}

func TestCertAuth(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{
		SSL:   true,
		Roles: []pgtest.Role{{Name: "certuser"}},
		HBA:   []string{"hostssl all certuser 127.0.0.1/32 cert"},
	})
	certPEM, keyPEM := c.CA.Issue(t, pgtest.CertOptions{CN: "certuser", Client: true})
	dir := t.TempDir()
	conn := c.ConnString("user=certuser", "dbname=postgres", "sslmode=verify-ca", "sslrootcert="+c.CAFile,
		"sslcert="+pgtest.WriteFile(t, dir, "client.crt", certPEM, 0o644),
		"sslkey="+pgtest.WriteFile(t, dir, "client.key", keyPEM, 0o600))
	if out, code := pgtest.RunPsql(t, conn, "SELECT current_user"); code != 0 || strings.TrimSpace(out) != "certuser" {
		t.Errorf("cert auth: exit %d, output:\n%s", code, out)
	}
	out, code := pgtest.RunPsql(t, c.ConnString("user=certuser", "dbname=postgres", "sslmode=require"), "SELECT 1")
	if code != 2 || !strings.Contains(out, "connection requires a valid client certificate") {
		t.Errorf("cert auth without a certificate: exit %d, output:\n%s", code, out)
	}
}

func TestSetHBA(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{Roles: []pgtest.Role{{Name: "alice", Password: "pw"}}})
	conn := c.ConnString("user=alice", "password=pw", "dbname=postgres")
	if out, code := pgtest.RunPsql(t, conn, "SELECT 1"); code != 0 {
		t.Fatalf("default HBA: exit %d, output:\n%s", code, out)
	}

	c.SetHBA(t, []string{"host all alice 127.0.0.1/32 reject", "host all all 127.0.0.1/32 trust"})
	if out, code := pgtest.RunPsql(t, conn, "SELECT 1"); code != 2 || !strings.Contains(out, "pg_hba.conf rejects connection") {
		t.Errorf("after SetHBA(reject): exit %d, output:\n%s", code, out)
	}

	// A pg_hba.conf the server cannot load fails the test, and the old one stays.
	msg := fatalOf(t, func(tb testing.TB) { c.SetHBA(tb, []string{"hots all all 127.0.0.1/32 trust"}) })
	if !strings.Contains(msg, "was not reloaded") || !strings.Contains(msg, `invalid connection type "hots"`) {
		t.Errorf("SetHBA with a bad line: want a failure quoting the server's log, got %q", msg)
	}
	if out, code := pgtest.RunPsql(t, conn, "SELECT 1"); code != 2 || !strings.Contains(out, "pg_hba.conf rejects connection") {
		t.Errorf("after a rejected SetHBA: exit %d, output:\n%s", code, out)
	}

	c.SetHBA(t, nil)
	if out, code := pgtest.RunPsql(t, conn, "SELECT current_user"); code != 0 || strings.TrimSpace(out) != "alice" {
		t.Errorf("after SetHBA(nil): exit %d, output:\n%s", code, out)
	}
}

func TestSetServerCert(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{SSL: true})
	pw := "password=" + c.SuperPassword
	conn := func(rootCert string) string {
		return c.ConnString("host=localhost", "user=postgres", pw, "dbname=postgres", "sslmode=verify-full", "sslrootcert="+rootCert)
	}
	if out, code := pgtest.RunPsql(t, conn(c.CAFile), "SELECT 1"); code != 0 {
		t.Fatalf("initial certificate: exit %d, output:\n%s", code, out)
	}

	other := pgtest.NewCA(t, "other CA", pgtest.CertOptions{RSA: true})
	certPEM, keyPEM := other.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}, RSA: true})
	c.SetServerCert(t, certPEM, keyPEM)
	if string(c.ServerCert()) != string(certPEM) {
		t.Errorf("ServerCert() is not the new certificate")
	}
	if out, code := pgtest.RunPsql(t, conn(c.CAFile), "SELECT 1"); code != 2 || !strings.Contains(out, "certificate verify failed") {
		t.Errorf("new certificate, old CA: exit %d, output:\n%s", code, out)
	}
	otherFile := pgtest.WriteFile(t, "", "other.crt", other.CertPEM, 0o644)
	if out, code := pgtest.RunPsql(t, conn(otherFile), "SELECT 1"); code != 0 {
		t.Errorf("new certificate, new CA: exit %d, output:\n%s", code, out)
	}

	// A key that does not match the certificate is rejected by the server.
	_, wrongKey := other.Issue(t, pgtest.CertOptions{CN: "localhost"})
	msg := fatalOf(t, func(tb testing.TB) { c.SetServerCert(tb, certPEM, wrongKey) })
	if !strings.Contains(msg, "was not reloaded") {
		t.Errorf("mismatched key: want a reload failure, got %q", msg)
	}
}

func TestStopRestartPgIsready(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})
	args := []string{"-h", c.Host, "-p", strconv.Itoa(c.Port)}
	if out, code := pgtest.RunPgIsready(t, args); code != 0 || !strings.Contains(out, "accepting connections") {
		t.Errorf("running: exit %d, output %q", code, out)
	}
	port := c.Port
	c.Stop(t)
	c.Stop(t) // idempotent
	if out, code := pgtest.RunPgIsready(t, args); code != 2 || !strings.Contains(out, "no response") {
		t.Errorf("stopped: exit %d, output %q", code, out)
	}
	c.Restart(t)
	if c.Port != port {
		t.Errorf("Restart moved the port from %d to %d", port, c.Port)
	}
	if out, code := pgtest.RunPgIsready(t, args); code != 0 {
		t.Errorf("restarted: exit %d, output %q", code, out)
	}
	if log := c.Log(t); !strings.Contains(log, "database system is ready to accept connections") {
		t.Errorf("Log has no startup line:\n%s", log)
	}
}

func TestUnixSocketDatabasesAndConf(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{
		Databases: []string{"app", "Mixed Case"},
		Roles:     []pgtest.Role{{Name: "nologin", Password: "x", NoLogin: true}, {Name: "boss", Superuser: true}},
		Conf:      []string{"max_connections = 7"},
	})
	conn := c.ConnString("host="+c.SocketDir, "user=postgres", "dbname=Mixed Case")
	if out, code := pgtest.RunPsql(t, conn, "SELECT current_database(), current_setting('max_connections')"); code != 0 || strings.TrimSpace(out) != "Mixed Case|7" {
		t.Errorf("Unix socket: exit %d, output:\n%s", code, out)
	}
	out, code := pgtest.RunPsql(t, c.ConnString("host="+c.SocketDir, "user=nologin", "dbname=app"), "")
	if code != 2 || !strings.Contains(out, `role "nologin" is not permitted to log in`) {
		t.Errorf("NoLogin role: exit %d, output:\n%s", code, out)
	}
	if got := c.Psql(t, "SELECT rolsuper FROM pg_roles WHERE rolname = 'boss'"); got != "t" {
		t.Errorf("Superuser role: rolsuper = %q", got)
	}
	if _, err := c.TryPsql(t, "SELECT * FROM no_such_table"); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("TryPsql on bad SQL: err = %v", err)
	}
}

// TestParallelStarts starts several clusters at once, as parallel tests do.
func TestParallelStarts(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			c := pgtest.Start(t, pgtest.Options{SSL: i%2 == 0})
			t.Logf("started in %v", time.Since(began))
			if got := c.Psql(t, "SHOW port"); got != strconv.Itoa(c.Port) {
				t.Errorf("SHOW port = %q, want %d", got, c.Port)
			}
		})
	}
}

func TestPsqlEnv(t *testing.T) {
	t.Setenv("PGUSER", "intruder")
	t.Setenv("PGSSLMODE", "verify-full")
	env := pgtest.PsqlEnv(t, "PGUSER=alice", "PGCONNECT_TIMEOUT", "PGAPPNAME=a=b")
	got := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s appears twice", k)
		}
		got[k] = v
	}
	if got["PGUSER"] != "alice" || got["PGAPPNAME"] != "a=b" || got["LC_ALL"] != "C" || got["HOME"] == "" || got["PGSYSCONFDIR"] != got["HOME"] {
		t.Errorf("PsqlEnv = %q", env)
	}
	for _, k := range []string{"PGSSLMODE", "PGCONNECT_TIMEOUT"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s should not be set: %q", k, env)
		}
	}
}

func TestConnString(t *testing.T) {
	c := &pgtest.Cluster{Host: "127.0.0.1", Port: 5999}
	got := c.ConnString("user=alice", "host=localhost", "sslrootcert=/tmp/a b/ca.crt", "password=it's\\", "options=")
	want := `host=localhost port=5999 user=alice sslrootcert='/tmp/a b/ca.crt' password='it\'s\\' options=''`
	if got != want {
		t.Errorf("ConnString:\n got %s\nwant %s", got, want)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := pgtest.FreePort(t)
		if seen[p] {
			t.Fatalf("port %d returned twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

func TestCertificates(t *testing.T) {
	t.Parallel()
	root := pgtest.NewCA(t, "root")
	inter := root.NewIntermediate(t, "intermediate", pgtest.CertOptions{SignatureAlgorithm: x509.ECDSAWithSHA384})
	certPEM, keyPEM := inter.Issue(t, pgtest.CertOptions{CN: "db.example", DNSNames: []string{"db.example"}, IPs: []net.IP{net.ParseIP("::1")}})
	leaf := pgtest.ParseCert(t, certPEM)
	if !strings.Contains(string(keyPEM), "BEGIN PRIVATE KEY") {
		t.Errorf("key is not PKCS #8 PEM:\n%s", keyPEM)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(inter.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "db.example", Roots: roots, Intermediates: inters}); err != nil {
		t.Errorf("chain does not verify: %v", err)
	}
	if leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 || inter.Cert.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("signature algorithms: leaf %v, intermediate %v", leaf.SignatureAlgorithm, inter.Cert.SignatureAlgorithm)
	}
	if leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.IsCA || !inter.Cert.IsCA {
		t.Errorf("usages: leaf EKU %v IsCA %v, intermediate IsCA %v", leaf.ExtKeyUsage, leaf.IsCA, inter.Cert.IsCA)
	}
	if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour || time.Since(leaf.NotBefore) < 59*time.Minute {
		t.Errorf("default validity %v .. %v", leaf.NotBefore, leaf.NotAfter)
	}

	expired, _ := root.Issue(t, pgtest.CertOptions{CN: "old", Client: true, RSA: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	old := pgtest.ParseCert(t, expired)
	if old.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || old.PublicKeyAlgorithm != x509.RSA || time.Now().Before(old.NotAfter) {
		t.Errorf("expired RSA client certificate: EKU %v, key %v, NotAfter %v", old.ExtKeyUsage, old.PublicKeyAlgorithm, old.NotAfter)
	}
	self, _ := pgtest.SelfSigned(t, pgtest.CertOptions{CN: "self"})
	if s := pgtest.ParseCert(t, self); s.Subject.String() != s.Issuer.String() {
		t.Errorf("SelfSigned: subject %v issuer %v", s.Subject, s.Issuer)
	}
}

// fatalTB records the first Fatal instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// fatalOf runs fn with a TB whose Fatal stops fn and returns the message
// ("" when fn did not fail).
func fatalOf(t *testing.T, fn func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}
