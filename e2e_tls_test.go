//go:build unix

package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// certServer authenticates certuser by client certificate.
func certServer(t *testing.T) *pgtest.Cluster {
	t.Helper()
	return pgtest.Start(t, pgtest.Options{SSL: true, Roles: []pgtest.Role{{Name: "certuser"}, {Name: "trustuser"}},
		HBA: []string{"hostssl all certuser 127.0.0.1/32 cert", "hostssl all trustuser 127.0.0.1/32 trust"}})
}

// encryptKey writes keyPEM encrypted with PBES2/AES-256 (what OpenSSL 3
// writes by default) using the openssl command.
func encryptKey(t *testing.T, dir, name string, keyPEM []byte, pass string, der bool) string {
	t.Helper()
	in := pgtest.WriteFile(t, dir, name+".plain", keyPEM, 0o600)
	out := filepath.Join(dir, name)
	args := []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", in, "-out", out, "-passout", "pass:" + pass}
	if der {
		args = append(args, "-outform", "DER")
	}
	if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, b)
	}
	if err := os.Chmod(out, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestClientCertificates(t *testing.T) {
	c := certServer(t)
	dir := t.TempDir()
	certPEM, keyPEM := c.CA.Issue(t, pgtest.CertOptions{CN: "certuser", Client: true})
	certFile := pgtest.WriteFile(t, dir, "client.crt", certPEM, 0o644)
	keyFile := pgtest.WriteFile(t, dir, "client.key", keyPEM, 0o600)
	wideKey := pgtest.WriteFile(t, dir, "wide.key", keyPEM, 0o644)
	block, _ := pem.Decode(keyPEM)
	derKey := pgtest.WriteFile(t, dir, "client.der", block.Bytes, 0o600)
	encPEM := encryptKey(t, dir, "enc.key", keyPEM, "dUmmyP^#+", false)
	encDER := encryptKey(t, dir, "enc.der", keyPEM, "dUmmyP^#+", true)
	base := []string{"user=certuser", "dbname=postgres", "sslmode=verify-full", "host=localhost", "sslrootcert=" + c.CAFile, "sslcert=" + certFile}

	cases := []struct {
		name   string
		kv     []string
		code   int
		msg    string
		oracle bool // psql 15 knows every keyword used
	}{
		{"PEM key", []string{"sslkey=" + keyFile}, 0, "", true},
		{"DER key", []string{"sslkey=" + derKey}, 0, "", true},
		{"encrypted PEM key", []string{"sslkey=" + encPEM, "sslpassword=dUmmyP^#+"}, 0, "", true},
		// libpq with Debian 12's OpenSSL 3 cannot read an encrypted DER key
		// ("unsupported"); libpq's own TAP test expects success on other
		// builds. pgprobe gives the installed libpq's verdict.
		{"encrypted DER key", []string{"sslkey=" + encDER, "sslpassword=dUmmyP^#+"}, 2, "could not load private key file \"" + encDER + "\": unsupported", true},
		{"wrong sslpassword", []string{"sslkey=" + encPEM, "sslpassword=wrong"}, 2, fmt.Sprintf("could not load private key file \"%s\": bad decrypt", encPEM), true},
		{"key with group or world access", []string{"sslkey=" + wideKey}, 2, fmt.Sprintf("private key file \"%s\" has group or world access", wideKey), true},
		{"no client certificate", []string{"sslcert=" + filepath.Join(dir, "missing.crt")}, 1, "connection requires a valid client certificate", true},
		{"sslcertmode=require without a certificate", []string{"user=trustuser", "sslcert=" + filepath.Join(dir, "missing.crt"), "sslcertmode=require"}, 1, "server accepted connection without a valid SSL certificate", false},
		{"sslcertmode=disable", []string{"sslkey=" + keyFile, "sslcertmode=disable"}, 1, "connection requires a valid client certificate", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := c.ConnString(append(append([]string{}, base...), tc.kv...)...)
			r := pgprobe(t, nil, "-o", "json", target)
			mustCode(t, r, tc.code)
			msg, _ := get(r.doc, "error.message").(string)
			if tc.code == 0 {
				last := len(attempts(r)) - 1
				mustEqual(t, r, fmt.Sprintf("attempts.%d.auth.method", last), "cert")
				mustEqual(t, r, fmt.Sprintf("attempts.%d.tls.client_cert_sent", last), true)
			} else if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q should contain %q", msg, tc.msg)
			}
			if strings.Contains(r.stdout+r.stderr, "dUmmyP^#+") {
				t.Errorf("sslpassword appears in the output")
			}
			if !tc.oracle {
				return
			}
			out, code := pgtest.RunPsql(t, target, "")
			if (code == 0) != (tc.code == 0) || (tc.code != 0 && !strings.Contains(out, tc.msg)) {
				t.Errorf("psql exit %d: %s", code, out)
			}
		})
	}
}

func TestClientCertificateDefaultsInHome(t *testing.T) {
	c := certServer(t)
	home := t.TempDir()
	pg := filepath.Join(home, ".postgresql")
	if err := os.Mkdir(pg, 0o700); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := c.CA.Issue(t, pgtest.CertOptions{CN: "certuser", Client: true})
	pgtest.WriteFile(t, pg, "postgresql.crt", certPEM, 0o644)
	pgtest.WriteFile(t, pg, "postgresql.key", keyPEM, 0o600)
	pgtest.WriteFile(t, pg, "root.crt", c.CA.CertPEM, 0o644)
	target := c.ConnString("user=certuser", "dbname=postgres", "sslmode=require")
	r := pgprobe(t, map[string]string{"HOME": home}, "-o", "json", target)
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.method", "cert")
	mustEqual(t, r, "attempts.0.tls.verified", true) // root.crt makes require verify the chain
	if out, code := pgtest.RunPsql(t, target, "", "HOME="+home); code != 0 {
		t.Errorf("psql: %d %s", code, out)
	}
}

func TestDirectSSLAgainstPostgres15(t *testing.T) {
	c := sslServer(t)
	// PostgreSQL 15 reads the ClientHello as a startup packet of absurd
	// length and hangs up: libpq 17 reports the handshake failure.
	r := pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "sslnegotiation=direct"))
	mustCode(t, r, 2)
	mustEqual(t, r, "error.class", "tls")
	mustEqual(t, r, "attempts.0.direct_tls", true)
	mustEqual(t, r, "attempts.0.ssl_response", nil)
	for _, s := range steps(r, 0) {
		if s == "ssl_request" {
			t.Errorf("direct TLS sent an SSLRequest")
		}
	}
	// A weak sslmode is refused before any attempt, with libpq 17's message.
	r = pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "sslmode=prefer", "sslnegotiation=direct"))
	mustCode(t, r, 3)
	mustEqual(t, r, "error.message", `weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`)
}

// The verify-full host-name cases of libpq's src/test/ssl/t/001_ssltests.pl,
// against a real server whose certificate is swapped for each, with psql as
// the oracle for the verdict and the message.
func TestVerifyFullHostNames(t *testing.T) {
	c := sslServer(t)
	type cert struct {
		cn  string
		dns []string
		ips []string
	}
	certs := map[string]cert{
		"cn-only":            {cn: "common-name.pg-ssltest.test"},
		"multiple-alt-names": {cn: "common-name.pg-ssltest.test", dns: []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test", "*.wildcard.pg-ssltest.test"}},
		"single-alt-name":    {cn: "common-name.pg-ssltest.test", dns: []string{"single.alt-name.pg-ssltest.test"}},
		"ip-alt-names":       {ips: []string{"192.0.2.1", "2001:db8::1"}},
		"cn-and-alt-names":   {cn: "common-name.pg-ssltest.test", dns: []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"}},
		"cn-and-ip-alt":      {cn: "common-name.pg-ssltest.test", ips: []string{"192.0.2.1", "2001:db8::1"}},
		"ip-cn-and-ip-alt":   {cn: "192.0.2.1", ips: []string{"192.0.2.2", "2001:db8::1"}},
		"ip-cn-and-dns-alt":  {cn: "192.0.2.1", dns: []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"}},
		"no-names":           {},
	}
	cases := []struct {
		cert, host string
		ok         bool
	}{
		{"cn-only", "common-name.pg-ssltest.test", true},
		{"cn-only", "wronghost.test", false},
		{"multiple-alt-names", "dns1.alt-name.pg-ssltest.test", true},
		{"multiple-alt-names", "dns2.alt-name.pg-ssltest.test", true},
		{"multiple-alt-names", "foo.wildcard.pg-ssltest.test", true},
		{"multiple-alt-names", "wronghost.alt-name.pg-ssltest.test", false},
		{"multiple-alt-names", "deep.subdomain.wildcard.pg-ssltest.test", false},
		{"single-alt-name", "single.alt-name.pg-ssltest.test", true},
		{"single-alt-name", "deep.subdomain.single.alt-name.pg-ssltest.test", false},
		{"ip-alt-names", "192.0.2.1", true},
		{"ip-alt-names", "192.000.002.001", true},
		{"ip-alt-names", "192.0.2.2", false},
		{"ip-alt-names", "2001:DB8::1", true},
		{"ip-alt-names", "2001:db8:0:0:0:0:0:1", true},
		{"ip-alt-names", "2001:db8::2", false},
		{"cn-and-alt-names", "dns1.alt-name.pg-ssltest.test", true},
		{"cn-and-alt-names", "common-name.pg-ssltest.test", false},
		{"cn-and-ip-alt", "common-name.pg-ssltest.test", true},
		{"cn-and-ip-alt", "192.0.2.1", true},
		{"cn-and-ip-alt", "192.0.2.9", false},
		{"ip-cn-and-ip-alt", "192.0.2.1", false},
		{"ip-cn-and-ip-alt", "192.0.2.2", true},
		{"ip-cn-and-dns-alt", "192.0.2.1", true},
		{"ip-cn-and-dns-alt", "dns1.alt-name.pg-ssltest.test", true},
		{"ip-cn-and-dns-alt", "192.0.2.2", false},
		{"no-names", "common-name.pg-ssltest.test", false},
	}
	current := ""
	for _, tc := range cases {
		t.Run(tc.cert+"/"+tc.host, func(t *testing.T) {
			if current != tc.cert {
				spec := certs[tc.cert]
				o := pgtest.CertOptions{CN: spec.cn, DNSNames: spec.dns}
				for _, ip := range spec.ips {
					o.IPs = append(o.IPs, net.ParseIP(ip))
				}
				certPEM, keyPEM := c.CA.Issue(t, o)
				c.SetServerCert(t, certPEM, keyPEM)
				current = tc.cert
			}
			target := fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d user=trustuser dbname=postgres sslmode=verify-full sslrootcert=%s", tc.host, c.Port, c.CAFile)
			r := pgprobe(t, nil, "-o", "json", target)
			out, code := pgtest.RunPsql(t, target, "")
			if (r.code == 0) != tc.ok || (code == 0) != tc.ok {
				t.Fatalf("want ok=%v; pgprobe exit %d, psql exit %d: %s\n%s", tc.ok, r.code, code, out, r.stdout)
			}
			if !tc.ok {
				mustEqual(t, r, "error.class", "tls")
				msg, _ := get(r.doc, "error.message").(string)
				if !strings.Contains(out, msg) {
					t.Errorf("psql says   %q\npgprobe says %q", out, msg)
				}
			}
		})
	}
}

// writeCRL writes a PEM CRL from the cluster's CA revoking the given
// certificates, valid for a day (or expired when expired is true).
func writeCRL(t *testing.T, c *pgtest.Cluster, dir, name string, expired bool, revoked ...[]byte) string {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
	if expired {
		tmpl.ThisUpdate, tmpl.NextUpdate = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	}
	for _, p := range revoked {
		cert := pgtest.ParseCert(t, p)
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.CA.Cert, c.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pgtest.WriteFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644)
}

func TestCRL(t *testing.T) {
	c := sslServer(t)
	certPEM, keyPEM := c.CA.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	c.SetServerCert(t, certPEM, keyPEM)
	dir := t.TempDir()
	revoked := writeCRL(t, c, dir, "revoked.crl", false, certPEM)
	empty := writeCRL(t, c, dir, "empty.crl", false)
	crldir := t.TempDir()
	// OpenSSL's hashed directory lookup needs the issuer hash as the name.
	hash, err := exec.Command("openssl", "crl", "-hash", "-noout", "-in", revoked).Output()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(revoked)
	pgtest.WriteFile(t, crldir, strings.TrimSpace(string(hash))+".r0", b, 0o644)

	base := fmt.Sprintf("host=localhost port=%d user=trustuser dbname=postgres sslmode=verify-ca sslrootcert=%s", c.Port, c.CAFile)
	cases := []struct {
		name, extra string
		ok          bool
	}{
		{"revoked by sslcrl", "sslcrl=" + revoked, false},
		{"not revoked", "sslcrl=" + empty, true},
		{"revoked by sslcrldir", "sslcrldir=" + crldir, false},
		{"missing CRL file is ignored", "sslcrl=" + filepath.Join(dir, "none.crl"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := base + " " + tc.extra
			r := pgprobe(t, nil, "-o", "json", target)
			out, code := pgtest.RunPsql(t, target, "")
			if (r.code == 0) != tc.ok || (code == 0) != tc.ok {
				t.Fatalf("want ok=%v: pgprobe %d, psql %d %s\n%s", tc.ok, r.code, code, out, r.stdout)
			}
			if !tc.ok {
				mustEqual(t, r, "error.class", "tls")
				if msg, _ := get(r.doc, "error.message").(string); !strings.Contains(msg, "certificate verify failed") || !strings.Contains(out, "certificate verify failed") {
					t.Errorf("pgprobe %q / psql %q", msg, out)
				}
				if v, _ := get(r.doc, "attempts.0.tls.verify_error").(string); !strings.Contains(v, "revoked") {
					t.Errorf("verify_error %q should say revoked", v)
				}
			}
		})
	}
}

func TestRootFileAndSNI(t *testing.T) {
	c := sslServer(t)
	home := t.TempDir()
	// verify-full with no ~/.postgresql/root.crt: libpq's message and hint.
	target := conn(c, "host=localhost", "user=trustuser", "dbname=postgres", "sslmode=verify-full")
	r := pgprobe(t, map[string]string{"HOME": home}, "-o", "json", target)
	mustCode(t, r, 2)
	mustEqual(t, r, "error.class", "tls")
	msg, _ := get(r.doc, "error.message").(string)
	want := fmt.Sprintf("root certificate file \"%s/.postgresql/root.crt\" does not exist", home)
	out, code := pgtest.RunPsql(t, target, "", "HOME="+home)
	if code != 2 || !strings.Contains(msg, want) || !strings.Contains(out, want) {
		t.Errorf("pgprobe %q\npsql (%d) %q\nwant %q", msg, code, out, want)
	}
	// sslsni: the host name is sent by default, not with sslsni=0, never for an IP.
	for _, tc := range []struct{ kv, sni string }{
		{"sslsni=1", "localhost"}, {"sslsni=0", ""},
	} {
		r = pgprobe(t, nil, "-o", "json", conn(c, "host=localhost", "user=trustuser", "dbname=postgres", "sslmode=require", tc.kv))
		mustCode(t, r, 0)
		mustEqual(t, r, fmt.Sprintf("attempts.%d.tls.sni", len(attempts(r))-1), tc.sni)
	}
	r = pgprobe(t, nil, "-o", "json", conn(c, "host=127.0.0.1", "user=trustuser", "dbname=postgres", "sslmode=require"))
	mustEqual(t, r, "attempts.0.tls.sni", "")
}
