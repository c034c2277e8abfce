package probe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// tlsVersions maps libpq's ssl_{min,max}_protocol_version names.
var tlsVersions = map[string]uint16{
	"tlsv1":   tls.VersionTLS10,
	"tlsv1.1": tls.VersionTLS11,
	"tlsv1.2": tls.VersionTLS12,
	"tlsv1.3": tls.VersionTLS13,
}

const rootHint = "Either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification."

// tlsSetup is initialize_SSL's outcome for one attempt.
type tlsSetup struct {
	cfg         *tls.Config
	roots       *x509.CertPool
	rootFile    string
	verifyChain bool // a root store was loaded: libpq sets SSL_VERIFY_PEER whatever the sslmode
	verifyName  bool // sslmode=verify-full
	chainErr    error
	crls        []*x509.RevocationList
	rootInter   []*x509.Certificate // non-self-signed certificates of the root file
	info        *statelog.TLS
	keyLog      *os.File // sslkeylogfile, closed after the handshake
	keyLogErr   string
}

func (ts *tlsSetup) close() {
	if ts != nil && ts.keyLog != nil {
		_ = ts.keyLog.Close()
		ts.keyLog = nil
	}
}

// newTLSSetup builds the crypto/tls configuration as libpq's initialize_SSL
// would: the root store decides whether the chain is verified, sslmode
// verify-full adds libpq's own host-name check after the handshake.
func (m *Machine) newTLSSetup(host string) (*tlsSetup, *statelog.Error) {
	s := m.settings
	sslmode := s.Get("sslmode")
	ts := &tlsSetup{info: &statelog.TLS{PeerCertificates: []statelog.Cert{}}}
	cfg := &tls.Config{
		// Verification is done in VerifyConnection and after the handshake
		// with libpq's rules, not Go's.
		InsecureSkipVerify: true,
		NextProtos:         []string{"postgresql"}, // libpq 17+ always offers it
		MinVersion:         tls.VersionTLS12,
	}
	if v := s.Get("ssl_min_protocol_version"); v != "" {
		if tv, ok := tlsVersions[strings.ToLower(v)]; ok {
			cfg.MinVersion = tv
		}
	}
	if v := s.Get("ssl_max_protocol_version"); v != "" {
		if tv, ok := tlsVersions[strings.ToLower(v)]; ok {
			cfg.MaxVersion = tv
		}
	}
	if sni := s.Get("sslsni"); sni != "0" && host != "" && !hostIsIP(host) && !strings.HasPrefix(host, "/") {
		cfg.ServerName = host
		ts.info.SNI = host
	}

	root := s.Get("sslrootcert")
	switch {
	case root == "system":
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, newError(statelog.ClassTLS, "could not load system root certificate paths: "+err.Error())
		}
		ts.roots, ts.rootFile, ts.verifyChain = pool, "system", true
	default:
		if root == "" {
			if m.cfg.HomeDir == "" {
				if sslmode == "verify-ca" || sslmode == "verify-full" {
					return nil, newError(statelog.ClassTLS, "could not get home directory to locate root certificate file\n"+rootHint)
				}
				break
			}
			root = filepath.Join(m.cfg.HomeDir, ".postgresql", "root.crt")
		}
		pem, err := os.ReadFile(root)
		switch {
		case err == nil:
			pool, inter, n := rootPool(pem)
			if n == 0 {
				return nil, newError(statelog.ClassTLS, fmt.Sprintf("could not read root certificate file \"%s\": no certificate or crl found", root))
			}
			ts.roots, ts.rootInter, ts.rootFile, ts.verifyChain = pool, inter, root, true
			ts.crls = m.loadCRLs()
		case errors.Is(err, os.ErrNotExist):
			if sslmode == "verify-ca" || sslmode == "verify-full" {
				return nil, newError(statelog.ClassTLS, fmt.Sprintf("root certificate file \"%s\" does not exist\n%s", root, rootHint))
			}
		default:
			return nil, newError(statelog.ClassTLS, fmt.Sprintf("could not read root certificate file \"%s\": %s", root, wire.Strerror(err)))
		}
	}
	cert, subject, err := m.loadClientCert()
	if err != nil {
		return nil, newError(statelog.ClassTLS, err.Error())
	}
	if cert != nil {
		ts.info.ClientCertificate = subject
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		ts.info.ClientCertRequested = true
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		ts.info.ClientCertSent = true
		return cert, nil
	}
	if path := s.Get("sslkeylogfile"); path != "" {
		// libpq 18: TLS secrets in the NSS key log format, for Wireshark.
		// libpq notes a file it cannot open and goes on; so do we.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			ts.keyLogErr = fmt.Sprintf("could not open SSL key logging file \"%s\": %s", path, wire.Strerror(err))
		} else {
			ts.keyLog = f
			cfg.KeyLogWriter = f
		}
	}
	ts.verifyName = sslmode == "verify-full"
	ts.info.RootCert = ts.rootFile
	switch {
	case ts.verifyName:
		ts.info.Verification = "chain+name"
	case ts.verifyChain:
		ts.info.Verification = "chain"
	default:
		ts.info.Verification = "none"
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		ts.info.PeerCertificates = describeChain(cs.PeerCertificates, time.Now())
		if !ts.verifyChain {
			return nil
		}
		if len(cs.PeerCertificates) == 0 {
			ts.chainErr = errors.New("server sent no certificate")
			return ts.chainErr
		}
		inter := x509.NewCertPool()
		for _, c := range ts.rootInter {
			inter.AddCert(c)
		}
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		chains, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots:         ts.roots,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			ts.chainErr = err
			return err
		}
		if len(ts.crls) > 0 {
			if err := checkRevocation(chains[0], ts.crls, time.Now()); err != nil {
				ts.chainErr = err
				return err
			}
		}
		return nil
	}
	ts.cfg = cfg
	return ts, nil
}

// describeChain records what the server showed.
func describeChain(chain []*x509.Certificate, now time.Time) []statelog.Cert {
	out := make([]statelog.Cert, 0, len(chain))
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		sans := []string{}
		if entries, ok := subjectAltNames(c); ok {
			for _, e := range entries {
				if e.isDNS {
					sans = append(sans, "DNS:"+e.dns)
				} else if len(e.ip) == 4 || len(e.ip) == 16 {
					sans = append(sans, "IP:"+netIPString(e.ip))
				}
			}
		}
		for _, e := range c.EmailAddresses {
			sans = append(sans, "email:"+e)
		}
		for _, u := range c.URIs {
			sans = append(sans, "URI:"+u.String())
		}
		kt, bits := keyInfo(c)
		out = append(out, statelog.Cert{
			Subject:            c.Subject.String(),
			Issuer:             c.Issuer.String(),
			SANs:               sans,
			NotBefore:          c.NotBefore.UTC(),
			NotAfter:           c.NotAfter.UTC(),
			DaysLeft:           int(math.Floor(c.NotAfter.Sub(now).Hours() / 24)),
			SHA256:             hex.EncodeToString(sum[:]),
			KeyType:            kt,
			KeyBits:            bits,
			SignatureAlgorithm: c.SignatureAlgorithm.String(),
			IsCA:               c.IsCA,
		})
	}
	return out
}

func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name, k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// tlsHandshakeError renders a failed handshake in libpq's (OpenSSL's) words.
func tlsHandshakeError(err error, ts *tlsSetup, minV, maxV string) string {
	if ts.chainErr != nil {
		return "SSL error: certificate verify failed"
	}
	if wire.IsEOF(err) {
		return "SSL SYSCALL error: EOF detected"
	}
	if en, ok := wire.Errno(err); ok {
		return "SSL SYSCALL error: " + wire.Strerror(en)
	}
	msg := err.Error()
	var alert tls.AlertError
	if errors.As(err, &alert) || strings.Contains(msg, "remote error: tls: ") {
		reason := msg
		if i := strings.Index(msg, "tls: "); i >= 0 {
			reason = msg[i+5:]
		}
		prefix := "tlsv1 alert "
		if reason == "certificate required" {
			prefix = "tlsv13 alert " // an alert only TLS 1.3 has, as OpenSSL names it
		}
		out := "SSL error: " + prefix + wire.OpenSSLAlertName(reason)
		if strings.Contains(reason, "protocol version") {
			out += fmt.Sprintf("\nThis may indicate that the server does not support any SSL protocol version between %s and %s.", minV, maxV)
		}
		return out
	}
	switch {
	case strings.Contains(msg, "first record does not look like a TLS handshake"),
		strings.Contains(msg, "unsupported versions"),
		strings.Contains(msg, "server selected unsupported protocol version"),
		strings.Contains(msg, "protocol version not supported"):
		return "SSL error: wrong version number" +
			fmt.Sprintf("\nThis may indicate that the server does not support any SSL protocol version between %s and %s.", minV, maxV)
	}
	return "SSL error: " + strings.TrimPrefix(msg, "tls: ")
}

// rootPool splits a root file as OpenSSL uses it: only self-signed
// certificates are trust anchors (a file holding just an intermediate CA
// does not make its certificates trusted, as it would in Go's pool); the
// others can still complete a chain.
func rootPool(data []byte) (*x509.CertPool, []*x509.Certificate, int) {
	pool := x509.NewCertPool()
	var inter []*x509.Certificate
	n := 0
	for _, der := range parseCertChain(data) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		n++
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			pool.AddCert(c)
		} else {
			inter = append(inter, c)
		}
	}
	return pool, inter, n
}
