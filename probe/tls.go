package probe

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
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
	chain       [][]byte // the certificates the server sent (DER), for Config.OnPeerChain
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
	if e := m.loadRootCerts(ts); e != nil {
		return nil, e
	}
	if e := m.setClientCert(ts, cfg); e != nil {
		return nil, e
	}
	if path := s.Get("sslkeylogfile"); path != "" {
		ts.openKeyLog(path, cfg)
	}
	ts.verifyName = s.Get("sslmode") == "verify-full"
	ts.info.RootCert = ts.rootFile
	switch {
	case ts.verifyName:
		ts.info.Verification = "chain+name"
	case ts.verifyChain:
		ts.info.Verification = "chain"
	default:
		ts.info.Verification = "none"
	}
	cfg.VerifyConnection = ts.verifyConnection
	ts.cfg = cfg
	return ts, nil
}

// loadRootCerts finds sslrootcert (by default ~/.postgresql/root.crt) as
// initialize_SSL does: a root store that loads means the chain is verified
// whatever the sslmode; a missing one is an error only for verify-ca and
// verify-full.
func (m *Machine) loadRootCerts(ts *tlsSetup) *statelog.Error {
	sslmode := m.settings.Get("sslmode")
	mustVerify := sslmode == "verify-ca" || sslmode == "verify-full"
	root := m.settings.Get("sslrootcert")
	if root == "system" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return newError(statelog.ClassTLS, "could not load system root certificate paths: "+err.Error())
		}
		ts.roots, ts.rootFile, ts.verifyChain = pool, "system", true
		return nil
	}
	if root == "" {
		if m.cfg.HomeDir == "" {
			if mustVerify {
				return newError(statelog.ClassTLS, "could not get home directory to locate root certificate file\n"+rootHint)
			}
			return nil
		}
		root = filepath.Join(m.cfg.HomeDir, conninfo.UserTLSDir, "root.crt")
	}
	pem, err := os.ReadFile(root)
	switch {
	case err == nil:
		pool, inter, n := rootPool(pem)
		if n == 0 {
			return newError(statelog.ClassTLS, fmt.Sprintf("could not read root certificate file \"%s\": no certificate or crl found", root))
		}
		ts.roots, ts.rootInter, ts.rootFile, ts.verifyChain = pool, inter, root, true
		ts.crls = m.loadCRLs()
	case errors.Is(err, os.ErrNotExist):
		if mustVerify {
			return newError(statelog.ClassTLS, fmt.Sprintf("root certificate file \"%s\" does not exist\n%s", root, rootHint))
		}
	default:
		return newError(statelog.ClassTLS, fmt.Sprintf("could not read root certificate file \"%s\": %s", root, wire.Strerror(err)))
	}
	return nil
}

// setClientCert loads sslcert and sslkey, and sends them only when the
// server asks (which the record notes either way).
func (m *Machine) setClientCert(ts *tlsSetup, cfg *tls.Config) *statelog.Error {
	cert, subject, err := m.loadClientCert()
	if err != nil {
		return newError(statelog.ClassTLS, err.Error())
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
	return nil
}

// openKeyLog is libpq 18's sslkeylogfile: TLS secrets in the NSS key log
// format, for Wireshark. libpq notes a file it cannot open and goes on; so
// do we.
func (ts *tlsSetup) openKeyLog(path string, cfg *tls.Config) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		ts.keyLogErr = fmt.Sprintf("could not open SSL key logging file \"%s\": %s", path, wire.Strerror(err))
		return
	}
	ts.keyLog = f
	cfg.KeyLogWriter = f
}

// verifyConnection records the server's chain and, when a root store was
// loaded, verifies it as OpenSSL would (with the root file's intermediates
// and sslcrl); the host name is checked after the handshake.
func (ts *tlsSetup) verifyConnection(cs tls.ConnectionState) error {
	ts.info.PeerCertificates = describeChain(cs.PeerCertificates, time.Now())
	for _, c := range cs.PeerCertificates {
		ts.chain = append(ts.chain, c.Raw)
	}
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
