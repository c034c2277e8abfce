//go:build unix

package scan

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/server"
	"github.com/pgprobe/pgprobe/statelog"
)

// scanOf scans conn (a connection string) as the command line would.
func scanOf(t *testing.T, conn string, users []string, failOn string) *statelog.Scan {
	t.Helper()
	home := t.TempDir() // no ~/.postgresql/root.crt, no .pgpass
	doc := Run(context.Background(), Options{Input: conninfo.Input{Target: conn, HomeDir: home,
		Getenv: func(string) (string, bool) { return "", false }}, Users: users, FailOn: failOn})
	if doc.Error != nil {
		t.Fatalf("scan of %s: %s", conn, doc.Error.Message)
	}
	return doc
}

func ids(doc *statelog.Scan) []string {
	var out []string
	for _, f := range doc.Findings {
		out = append(out, f.ID)
	}
	return out
}

func finding(t *testing.T, doc *statelog.Scan, id string) statelog.ScanFinding {
	t.Helper()
	for _, f := range doc.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %s among %v", id, ids(doc))
	return statelog.ScanFinding{}
}

func authOf(t *testing.T, doc *statelog.Scan, user, enc string) statelog.ScanAuth {
	t.Helper()
	for _, a := range doc.Auth {
		if a.User == user && a.Encryption == enc {
			return a
		}
	}
	t.Fatalf("no auth for %s over %s in %+v", user, enc, doc.Auth)
	return statelog.ScanAuth{}
}

// wantIDs checks that every id is there and none of absent.
func wantIDs(t *testing.T, doc *statelog.Scan, want, absent []string) {
	t.Helper()
	got := ids(doc)
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Errorf("finding %s missing; got %v", id, got)
		}
	}
	for _, id := range absent {
		if slices.Contains(got, id) {
			t.Errorf("finding %s unexpected: %+v", id, finding(t, doc, id))
		}
	}
}

// TestScanPostgres17 is a server with every pg_hba.conf mistake: trust,
// password and md5 over the network, a user who may only use TLS, one
// refused everywhere; ssl_ecdh_curve left at prime256v1.
func TestScanPostgres17(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{Version: 17, SSL: true,
		Conf: []string{"ssl_ecdh_curve = 'prime256v1'"},
		HBA: []string{
			"hostssl all alice 127.0.0.1/32 scram-sha-256",
			"host all md5user 127.0.0.1/32 md5",
			"host all pwuser 127.0.0.1/32 password",
			"hostnossl all trusty 127.0.0.1/32 trust",
			"host all nobody 127.0.0.1/32 reject",
		},
		Roles: []pgtest.Role{{Name: "alice", Password: "a-secret"}, {Name: "md5user", Password: "m-secret", Encryption: "md5"},
			{Name: "pwuser", Password: "p-secret"}, {Name: "trusty"}, {Name: "nobody"}}})
	doc := scanOf(t, c.ConnString("sslrootcert="+c.CAFile), []string{"alice", "md5user", "pwuser", "trusty", "nobody"}, "")
	if doc.ExitCode != statelog.ExitCheck || doc.OK {
		t.Errorf("exit code %d ok %v, want 4 and false", doc.ExitCode, doc.OK)
	}
	wantIDs(t, doc, []string{"trust-over-network", "password-over-plaintext", "plaintext-login", "md5-auth", "password-auth",
		"no-channel-binding", "user-not-reached", "tls-hello-retry", "no-protocol-3.2"},
		[]string{"no-ssl", "no-direct-tls", "tls-1.0-accepted", "cert-name-mismatch", "cert-not-trusted", "cve-2021-23214"})
	if f := finding(t, doc, "trust-over-network"); f.Severity != statelog.SeverityCritical || !strings.Contains(f.Advice, "pg_hba.conf") {
		t.Errorf("trust-over-network: %+v", f)
	}
	if f := finding(t, doc, "md5-auth"); f.Severity != statelog.SeverityMedium || !strings.Contains(f.Detail, "md5user") {
		t.Errorf("md5-auth: %+v", f)
	}
	if doc.Findings[0].Severity != statelog.SeverityCritical {
		t.Errorf("findings not most severe first: %v", ids(doc))
	}
	if a := authOf(t, doc, "alice", "ssl"); a.Method != "scram-sha-256" || !slices.Contains(a.Mechanisms, "SCRAM-SHA-256-PLUS") {
		t.Errorf("alice over TLS: %+v", a)
	}
	if a := authOf(t, doc, "alice", "plaintext"); a.Method != "" || !strings.Contains(a.Error, "no pg_hba.conf entry") {
		t.Errorf("alice without TLS: %+v", a)
	}
	for _, tc := range []struct{ user, enc, method string }{
		{"md5user", "plaintext", "md5"}, {"md5user", "ssl", "md5"}, {"pwuser", "plaintext", "password"}, {"trusty", "plaintext", "trust"}, {"nobody", "ssl", ""},
	} {
		if a := authOf(t, doc, tc.user, tc.enc); a.Method != tc.method {
			t.Errorf("%s over %s: method %q, want %q (%+v)", tc.user, tc.enc, a.Method, tc.method, a)
		}
	}
	if doc.Server == nil || !strings.HasPrefix(doc.Server.Version, "17.") {
		t.Errorf("server version from trusty's login: %+v", doc.Server)
	}
	if !doc.SSL || !doc.Plaintext || !doc.DirectTLS || doc.GSSEnc != "N" || doc.SSLRequestInjection != "refused" {
		t.Errorf("ssl %v plaintext %v direct %v gssenc %q injection %q (%s)", doc.SSL, doc.Plaintext, doc.DirectTLS, doc.GSSEnc,
			doc.SSLRequestInjection, doc.SSLRequestInjectionDetail)
	}
	want := map[string]bool{"TLSv1.0": false, "TLSv1.1": false, "TLSv1.2": true, "TLSv1.3": true}
	for v, ok := range want {
		if doc.TLS.Versions[v] != ok {
			t.Errorf("tls.versions[%s] = %v, want %v", v, doc.TLS.Versions[v], ok)
		}
	}
	if !doc.TLS.Groups["P-256"] || doc.TLS.Groups["X25519"] || !doc.TLS.HelloRetry {
		t.Errorf("groups %v hello_retry %v: ssl_ecdh_curve=prime256v1 takes P-256 only", doc.TLS.Groups, doc.TLS.HelloRetry)
	}
	if !slices.Contains(doc.TLS.CipherSuites, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") || slices.Contains(doc.TLS.CipherSuites, "TLS_RSA_WITH_RC4_128_SHA") {
		t.Errorf("cipher suites %v", doc.TLS.CipherSuites)
	}
	if cert := doc.TLS.Certificate; cert == nil || !cert.Verified || !cert.HostnameMatch || cert.KeyType != "ECDSA P-256" || cert.DaysLeft < 360 {
		t.Errorf("certificate %+v", cert)
	}
	if !doc.ProtocolVersions["3.0"] || doc.ProtocolVersions["3.2"] {
		t.Errorf("protocol versions %v", doc.ProtocolVersions)
	}
	if strings.Contains(c.Log(t), "password authentication failed") {
		t.Errorf("a password was sent:\n%s", c.Log(t))
	}
}

// TestScanPostgres15 is a well-kept server (TLS only, TLS 1.3 only, SCRAM)
// whose certificate is then swapped for a wrong-name and a short-lived
// one. (PostgreSQL on OpenSSL 3 refuses to load RSA keys below 2048 bits:
// the test server shows a weak key.)
func TestScanPostgres15(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{Version: 15, SSL: true,
		Conf:  []string{"ssl_min_protocol_version = 'TLSv1.3'"},
		HBA:   []string{"hostssl all all 127.0.0.1/32 scram-sha-256", "hostnossl all all 127.0.0.1/32 reject"},
		Roles: []pgtest.Role{{Name: "alice", Password: "a-secret"}}})
	conn := c.ConnString("user=alice", "sslrootcert="+c.CAFile)
	t.Run("clean", func(t *testing.T) {
		doc := scanOf(t, conn, nil, "")
		if doc.ExitCode != statelog.ExitOK || !doc.OK {
			t.Errorf("exit code %d, want 0; findings %v", doc.ExitCode, ids(doc))
		}
		wantIDs(t, doc, []string{"no-direct-tls", "no-protocol-3.2"}, []string{"plaintext-login", "no-tls-1.3", "cert-name-mismatch", "cert-expires-soon"})
		if doc.Plaintext || doc.DirectTLS || doc.TLS.Versions["TLSv1.2"] || !doc.TLS.Versions["TLSv1.3"] || doc.SSLRequestInjection != "refused" {
			t.Errorf("plaintext %v direct %v versions %v injection %q", doc.Plaintext, doc.DirectTLS, doc.TLS.Versions, doc.SSLRequestInjection)
		}
		if len(doc.TLS.CipherSuites) != 1 || !strings.HasPrefix(doc.TLS.CipherSuites[0], "TLS_AES_") && !strings.HasPrefix(doc.TLS.CipherSuites[0], "TLS_CHACHA20") {
			t.Errorf("cipher suites %v: TLS 1.3's only", doc.TLS.CipherSuites)
		}
		if doc := scanOf(t, conn, nil, statelog.SeverityInfo); doc.ExitCode != statelog.ExitCheck {
			t.Errorf("--fail-on info: exit %d, want 4", doc.ExitCode)
		}
	})
	for _, tc := range []struct {
		name   string
		cert   func() (certPEM, keyPEM []byte)
		failOn string
		want   string
	}{
		{"wrong name", func() ([]byte, []byte) {
			return c.CA.Issue(t, pgtest.CertOptions{CN: "db.example.com", DNSNames: []string{"db.example.com"}})
		},
			"", "cert-name-mismatch"},
		{"short lived", func() ([]byte, []byte) {
			return c.CA.Issue(t, pgtest.CertOptions{CN: "localhost", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, NotAfter: time.Now().Add(10 * 24 * time.Hour)})
		}, statelog.SeverityMedium, "cert-expires-soon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM := tc.cert()
			c.SetServerCert(t, certPEM, keyPEM)
			doc := scanOf(t, conn, nil, tc.failOn)
			wantIDs(t, doc, []string{tc.want}, []string{"cert-not-trusted"})
			if doc.ExitCode != statelog.ExitCheck {
				t.Errorf("exit code %d, want 4", doc.ExitCode)
			}
		})
	}
}

// weakRSACert is a 1024-bit RSA certificate for 127.0.0.1 signed by ca.
func weakRSACert(t *testing.T, ca *pgtest.CA) ([]byte, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // the weak key is the point
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// TestScanPostgres18 is a server with SSL off: PostgreSQL 18 speaks
// protocol 3.2 without it.
func TestScanPostgres18(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{Version: 18, HBA: []string{"host all all 127.0.0.1/32 scram-sha-256"},
		Roles: []pgtest.Role{{Name: "alice", Password: "a-secret"}}})
	doc := scanOf(t, c.ConnString("user=alice"), nil, statelog.SeverityCritical)
	wantIDs(t, doc, []string{"no-ssl", "plaintext-login"}, []string{"no-protocol-3.2", "no-direct-tls", "trust-over-network"})
	if doc.ExitCode != statelog.ExitOK {
		t.Errorf("--fail-on critical with high findings: exit %d, want 0", doc.ExitCode)
	}
	if doc.SSL || !doc.Plaintext || !doc.ProtocolVersions["3.2"] || doc.TLS.Certificate != nil || doc.TLS.Versions["TLSv1.3"] {
		t.Errorf("ssl %v plaintext %v protocols %v tls %+v", doc.SSL, doc.Plaintext, doc.ProtocolVersions, doc.TLS)
	}
	if a := authOf(t, doc, "alice", "plaintext"); a.Method != "scram-sha-256" || slices.Contains(a.Mechanisms, "SCRAM-SHA-256-PLUS") {
		t.Errorf("alice: %+v", a)
	}
}

// startServer runs the project's test server for what PostgreSQL will
// not do.
func startServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	cfg.Timeout = 10 * time.Second
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, server.ErrClosed) {
			t.Error(err)
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "host=127.0.0.1 port=" + port + " user=alice"
}

// TestScanTestServer: TLS 1.0 and 1.1 accepted, RC4, 3DES and RSA key
// exchange, bytes after SSLRequest read as if through TLS, and trust.
func TestScanTestServer(t *testing.T) {
	t.Parallel()
	t.Run("old and unfixed", func(t *testing.T) {
		t.Parallel()
		certPEM, keyPEM := weakRSACert(t, pgtest.NewCA(t, "scan test CA"))
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		conn := startServer(t, server.Config{SSL: true, MinTLSVersion: tls.VersionTLS10, AcceptUnencryptedAfterSSLRequest: true,
			Auth: server.AuthTrust, Then: server.ThenOK, DirectSSL: true, Certificate: &cert})
		doc := scanOf(t, conn, nil, statelog.SeverityCritical)
		wantIDs(t, doc, []string{"trust-over-network", "tls-1.0-accepted", "tls-1.1-accepted", "tls-rc4-accepted", "tls-3des-accepted",
			"tls-no-forward-secrecy", "tls-cbc-suites", "cve-2021-23214", "cert-not-trusted", "cert-weak-key"}, []string{"no-direct-tls", "cert-name-mismatch"})
		if doc.ExitCode != statelog.ExitCheck || doc.SSLRequestInjection != "accepted" || !doc.TLS.Versions["TLSv1.0"] {
			t.Errorf("exit %d injection %q versions %v", doc.ExitCode, doc.SSLRequestInjection, doc.TLS.Versions)
		}
		if doc.Server == nil || doc.Server.Version != "17.0 (pgprobe)" {
			t.Errorf("server %+v", doc.Server)
		}
		if f := finding(t, doc, "cve-2021-23214"); f.Severity != statelog.SeverityHigh {
			t.Errorf("%+v", f)
		}
	})
	t.Run("fixed", func(t *testing.T) {
		t.Parallel()
		conn := startServer(t, server.Config{SSL: true, Auth: server.AuthSCRAMSHA256})
		doc := scanOf(t, conn, nil, "")
		if doc.SSLRequestInjection != "refused" || !strings.Contains(doc.SSLRequestInjectionDetail, "unencrypted data after SSL request") {
			t.Errorf("injection %q: %s", doc.SSLRequestInjection, doc.SSLRequestInjectionDetail)
		}
		wantIDs(t, doc, []string{"plaintext-login", "no-direct-tls"}, []string{"tls-1.0-accepted", "tls-rc4-accepted", "cve-2021-23214"})
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		_ = ln.Close()
		doc := Run(context.Background(), Options{Input: conninfo.Input{Target: "host=127.0.0.1 user=x port=" + itoa(addr.Port), HomeDir: t.TempDir(),
			Getenv: func(string) (string, bool) { return "", false }}})
		if doc.ExitCode != statelog.ExitNoAnswer || doc.Error == nil || doc.Connections != 0 {
			t.Errorf("exit %d error %+v connections %d", doc.ExitCode, doc.Error, doc.Connections)
		}
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		for _, target := range []string{"host=/tmp user=x", "host=a,b user=x", "host=a port=x user=x"} {
			doc := Run(context.Background(), Options{Input: conninfo.Input{Target: target, HomeDir: t.TempDir(),
				Getenv: func(string) (string, bool) { return "", false }}})
			if doc.ExitCode != statelog.ExitNoAttempt || doc.Error == nil {
				t.Errorf("%s: exit %d error %+v", target, doc.ExitCode, doc.Error)
			}
		}
	})
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
