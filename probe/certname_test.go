package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

func testCert(t *testing.T, cn string, dns []string, ips []string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     dns,
	}
	for _, s := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The verify-full cases of libpq's src/test/ssl/t/001_ssltests.pl, with
// libpq's messages.
func TestVerifyPeerName(t *testing.T) {
	cnOnly := testCert(t, "common-name.pg-ssltest.test", nil, nil)
	multi := testCert(t, "common-name.pg-ssltest.test", []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test", "*.wildcard.pg-ssltest.test"}, nil)
	single := testCert(t, "common-name.pg-ssltest.test", []string{"single.alt-name.pg-ssltest.test"}, nil)
	ipSANs := testCert(t, "", nil, []string{"192.0.2.1", "2001:db8::1"})
	cnAndDNS := testCert(t, "common-name.pg-ssltest.test", []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"}, nil)
	cnAndIP := testCert(t, "common-name.pg-ssltest.test", nil, []string{"192.0.2.1", "2001:db8::1"})
	ipCNAndIP := testCert(t, "192.0.2.1", nil, []string{"192.0.2.2", "2001:db8::1"})
	ipCNAndDNS := testCert(t, "192.0.2.1", []string{"dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"}, nil)
	noNames := testCert(t, "", nil, nil)
	dnsForIP := testCert(t, "", []string{"192.0.2.1"}, nil)

	cases := []struct {
		name string
		cert *x509.Certificate
		host string
		want string // "" = match
	}{
		{"CN only matches", cnOnly, "common-name.pg-ssltest.test", ""},
		{"CN only mismatch", cnOnly, "wronghost.test", `server certificate for "common-name.pg-ssltest.test" does not match host name "wronghost.test"`},
		{"SAN dns1", multi, "dns1.alt-name.pg-ssltest.test", ""},
		{"SAN case-insensitive", multi, "DNS2.ALT-NAME.PG-SSLTEST.TEST", ""},
		{"wildcard one label", multi, "foo.wildcard.pg-ssltest.test", ""},
		{"wildcard not two labels", multi, "deep.subdomain.wildcard.pg-ssltest.test", `server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does not match host name "deep.subdomain.wildcard.pg-ssltest.test"`},
		{"wildcard not the bare domain", multi, "wildcard.pg-ssltest.test", `server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does not match host name "wildcard.pg-ssltest.test"`},
		{"SANs disable CN", multi, "common-name.pg-ssltest.test", `server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does not match host name "common-name.pg-ssltest.test"`},
		{"single SAN", single, "single.alt-name.pg-ssltest.test", ""},
		{"single SAN mismatch", single, "deep.alt-name.pg-ssltest.test", `server certificate for "single.alt-name.pg-ssltest.test" does not match host name "deep.alt-name.pg-ssltest.test"`},
		{"IPv4 SAN", ipSANs, "192.0.2.1", ""},
		{"IPv4 SAN legacy form", ipSANs, "192.000.002.001", ""},
		{"IPv4 SAN mismatch", ipSANs, "192.0.2.2", `server certificate for "192.0.2.1" (and 1 other name) does not match host name "192.0.2.2"`},
		{"IPv6 SAN", ipSANs, "2001:DB8::1", ""},
		{"IPv6 SAN long form", ipSANs, "2001:db8:0:0:0:0:0:1", ""},
		{"IPv6 SAN mismatch", ipSANs, "2001:db8::2", `server certificate for "192.0.2.1" (and 1 other name) does not match host name "2001:db8::2"`},
		{"DNS name against IP SANs", ipSANs, "dns1.alt-name.pg-ssltest.test", `server certificate for "192.0.2.1" (and 1 other name) does not match host name "dns1.alt-name.pg-ssltest.test"`},
		{"CN with DNS SANs ignored", cnAndDNS, "common-name.pg-ssltest.test", `server certificate for "dns1.alt-name.pg-ssltest.test" (and 1 other name) does not match host name "common-name.pg-ssltest.test"`},
		{"CN used when only IP SANs (DNS host)", cnAndIP, "common-name.pg-ssltest.test", ""},
		{"IP SAN with DNS CN", cnAndIP, "192.0.2.1", ""},
		{"IP CN ignored with IP SANs", ipCNAndIP, "192.0.2.1", `server certificate for "192.0.2.2" (and 1 other name) does not match host name "192.0.2.1"`},
		{"IP SAN with IP CN", ipCNAndIP, "192.0.2.2", ""},
		{"IP CN used with only DNS SANs", ipCNAndDNS, "192.0.2.1", ""},
		{"IP host vs DNS SANs and IP CN mismatch", ipCNAndDNS, "192.0.2.2", `server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does not match host name "192.0.2.2"`},
		{"no names", noNames, "common-name.pg-ssltest.test", `could not get server's host name from server certificate`},
		{"DNS SAN holding an IP matches textually", dnsForIP, "192.0.2.1", ""},
		{"empty host", cnOnly, "", "host name must be specified for a verified SSL connection"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyPeerName(tc.cert, tc.host)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("VerifyPeerName(%q)\n got: %q\nwant: %q", tc.host, got, tc.want)
			}
		})
	}
}

func TestInetAton(t *testing.T) {
	cases := map[string]string{
		"192.0.2.1":       "192.0.2.1",
		"192.000.002.001": "192.0.2.1",
		"0x7f.1":          "127.0.0.1",
		"3221225985":      "192.0.2.1",
		"10.1.65535":      "10.1.255.255",
		"1.2.3.4.5":       "",
		"256.1.1.1":       "",
		"08.1.1.1":        "",
		"a.b.c.d":         "",
		"":                "",
		"1..2":            "",
	}
	for in, want := range cases {
		a, ok := inetAton(in)
		got := ""
		if ok {
			got = net.IP(a[:]).String()
		}
		if got != want {
			t.Errorf("inetAton(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pat, host string
		want      bool
	}{
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "A.EXAMPLE.COM", true},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "example.com", false},
		{"a*.example.com", "ab.example.com", false},
		{"*", "a", false},
		{"*.", "a.", false},
	}
	for _, tc := range cases {
		if got := wildcardMatch(tc.pat, tc.host); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pat, tc.host, got, tc.want)
		}
	}
}
