package pgtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made at test time.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the CA certificate, PEM ("CERTIFICATE")
	KeyPEM  []byte // its private key, PEM ("PRIVATE KEY", PKCS #8)
}

// CertOptions describes a certificate to make.
type CertOptions struct {
	CN       string   // subject common name (libpq's name check falls back to it when there is no DNS SAN; `cert` auth matches it to the user)
	DNSNames []string // DNS subjectAltNames
	IPs      []net.IP // IP subjectAltNames
	// Validity; a zero NotBefore is now-1h, a zero NotAfter now+365d.
	// Past dates make expired or not-yet-valid certificates.
	NotBefore, NotAfter time.Time
	Client              bool // extended key usage clientAuth instead of serverAuth
	RSA                 bool // an RSA 2048 key instead of ECDSA P-256
	// SignatureAlgorithm the issuer signs with (e.g. x509.ECDSAWithSHA384,
	// x509.SHA384WithRSA, which change the tls-server-end-point hash);
	// zero: Go's default for the issuer's key (SHA-256).
	SignatureAlgorithm x509.SignatureAlgorithm
}

// NewCA makes a self-signed CA named cn. An optional CertOptions sets its key
// type (RSA), validity and signature algorithm; its CN, if set, wins over cn.
func NewCA(t testing.TB, cn string, opts ...CertOptions) *CA {
	t.Helper()
	o := oneOption(t, opts)
	if o.CN == "" {
		o.CN = cn
	}
	key := newKey(t, o.RSA)
	tmpl := certTemplate(t, o)
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = nil
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("pgtest: making CA %q: %v", o.CN, err)
	}
	return newCAFrom(t, der, key)
}

// NewIntermediate makes a CA named cn signed by ca. A server that presents a
// certificate it issued must send the chain: append the intermediate's
// CertPEM to the leaf's certificate PEM.
func (ca *CA) NewIntermediate(t testing.TB, cn string, opts ...CertOptions) *CA {
	t.Helper()
	o := oneOption(t, opts)
	if o.CN == "" {
		o.CN = cn
	}
	key := newKey(t, o.RSA)
	tmpl := certTemplate(t, o)
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = nil
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("pgtest: making intermediate CA %q: %v", o.CN, err)
	}
	return newCAFrom(t, der, key)
}

// Issue makes a certificate signed by ca and returns it and its private key
// as PEM (the key as PKCS #8, which OpenSSL, and so libpq and the server,
// read). A server certificate for the loopback is
// CertOptions{CN: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}};
// a client certificate for `cert` authentication is CertOptions{CN: user, Client: true}.
func (ca *CA) Issue(t testing.TB, o CertOptions) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t, o.RSA)
	tmpl := certTemplate(t, o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("pgtest: issuing certificate %q: %v", o.CN, err)
	}
	return pemBlock("CERTIFICATE", der), keyToPEM(t, key)
}

// SelfSigned makes a self-signed leaf certificate (no CA can vouch for it).
func SelfSigned(t testing.TB, o CertOptions) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t, o.RSA)
	tmpl := certTemplate(t, o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("pgtest: making self-signed certificate %q: %v", o.CN, err)
	}
	return pemBlock("CERTIFICATE", der), keyToPEM(t, key)
}

// ParseCert parses the first certificate of a PEM document.
func ParseCert(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("pgtest: ParseCert: no PEM CERTIFICATE block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatalf("pgtest: ParseCert: %v", err)
	}
	return c
}

// WriteFile writes data to dir/name with exactly perm (whatever the umask)
// and returns the path. An empty dir means a new t.TempDir(), which the
// postgres OS user cannot reach: use it for client files (sslcert, sslkey,
// sslrootcert, .pgpass) and Cluster.WriteServerFile for the server's.
func WriteFile(t testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return p
}

func oneOption(t testing.TB, opts []CertOptions) CertOptions {
	t.Helper()
	switch len(opts) {
	case 0:
		return CertOptions{}
	case 1:
		return opts[0]
	}
	t.Fatalf("pgtest: at most one CertOptions, got %d", len(opts))
	return CertOptions{}
}

func newCAFrom(t testing.TB, der []byte, key crypto.Signer) *CA {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: keyToPEM(t, key)}
}

func newKey(t testing.TB, useRSA bool) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatalf("pgtest: generating key: %v", err)
	}
	return key
}

func certTemplate(t testing.TB, o CertOptions) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	now := time.Now()
	notBefore, notAfter := o.NotBefore, o.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = now.Add(365 * 24 * time.Hour)
	}
	usage := x509.KeyUsageDigitalSignature
	if o.RSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	eku := x509.ExtKeyUsageServerAuth
	if o.Client {
		eku = x509.ExtKeyUsageClientAuth
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CN},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		SignatureAlgorithm:    o.SignatureAlgorithm,
	}
}

func keyToPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
