package probe

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// tlsHandshake is pqsecure_open_client: initialize_SSL's setup, the
// handshake, then libpq's checks on the connection it gave.
func (m *Machine) tlsHandshake() {
	began := time.Now()
	h := m.hosts[m.whichHost]
	// CVE-2021-23222: bytes that came with or right after 'S' were not
	// encrypted; libpq refuses them once the handshake is done.
	// libpq has them in its input buffer, so OpenSSL never sees them and the
	// handshake goes on; take them off the socket likewise.
	extra := wire.PendingBytes(m.conn.raw)
	if extra > 0 {
		_, _ = io.ReadFull(m.conn.raw, make([]byte, extra))
	}
	ts, cfgErr := m.newTLSSetup(h.Host)
	if cfgErr != nil {
		e := m.prefixed(cfgErr)
		m.record(statelog.StepTLSHandshake, began, "", e, nil)
		m.connectionFailed(e)
		return
	}
	m.conn.tlsSetup = ts
	tc := tls.Client(m.conn.raw, ts.cfg)
	m.setDeadline()
	err := tc.HandshakeContext(m.ctx)
	ts.close()
	if m.cfg.OnPeerChain != nil && len(ts.chain) > 0 {
		m.cfg.OnPeerChain(ts.chain) // also when verification failed: that is when it is wanted
	}
	m.attempt.TLS = ts.info
	if err != nil {
		m.tlsHandshakeFailed(began, ts, err, extra)
		return
	}
	m.conn.tlsConn = tc
	cs := tc.ConnectionState()
	m.recordTLSState(ts, cs)
	if !m.checkTLSConnection(began, ts, cs, extra, h.Host) {
		return
	}
	ts.info.Verified = ts.verifyChain
	m.record(statelog.StepTLSHandshake, began, m.tlsDetail(ts, cs), nil, map[string]any{"version": ts.info.Version, "cipher": ts.info.Cipher, "alpn": ts.info.ALPN})
	m.conn.msgs = newMsgConn(tc)
	m.status = ConnectionMade
}

// tlsHandshakeFailed words a failed handshake as libpq (OpenSSL) does; the
// next encryption method may follow on a new connection.
func (m *Machine) tlsHandshakeFailed(began time.Time, ts *tlsSetup, err error, extra int) {
	if it, ok := m.interruption(); ok {
		m.interrupt(it, statelog.StepTLSHandshake, began, "TLS handshake did not complete")
		return
	}
	if wire.IsTimeout(err) {
		m.timeoutWhile(statelog.StepTLSHandshake, began, "TLS handshake did not complete")
		return
	}
	minV := m.settings.Get("ssl_min_protocol_version")
	if minV == "" {
		minV = "TLSv1"
	}
	maxV := m.settings.Get("ssl_max_protocol_version")
	if maxV == "" {
		maxV = "TLSv1.3"
	}
	msg := tlsHandshakeError(err, ts, minV, maxV)
	if ts.chainErr != nil {
		ts.info.VerifyError = ts.chainErr.Error()
	}
	e := m.prefixed(newError(statelog.ClassTLS, msg))
	detail := err.Error()
	if extra > 0 {
		detail += fmt.Sprintf(" (%d unencrypted bytes had arrived right after 'S')", extra)
	}
	m.record(statelog.StepTLSHandshake, began, detail, e, nil)
	m.connectionFailed(e)
}

// recordTLSState puts what the handshake agreed on into the record.
func (m *Machine) recordTLSState(ts *tlsSetup, cs tls.ConnectionState) {
	if cs.Version >= tls.VersionTLS13 {
		m.attempt.RoundTrips++ // ClientHello → ServerHello … Finished
	} else {
		m.attempt.RoundTrips += 2 // TLS 1.2 needs a second flight before Finished
	}
	if cs.HelloRetryRequest {
		m.attempt.RoundTrips++ // the server wanted another key share: a second ClientHello
	}
	ts.info.KeyExchange = wire.GroupName(cs.CurveID)
	ts.info.HelloRetryRequest = cs.HelloRetryRequest
	ts.info.Version = wire.TLSVersionName(cs.Version)
	ts.info.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	ts.info.ALPN = cs.NegotiatedProtocol
}

// checkTLSConnection is what libpq checks once the handshake is done:
// no unencrypted bytes after 'S', ALPN for direct TLS, and for verify-full
// the host name. It reports whether the connection passed.
func (m *Machine) checkTLSConnection(began time.Time, ts *tlsSetup, cs tls.ConnectionState, extra int, host string) bool {
	if extra > 0 {
		e := m.prefixed(newError(statelog.ClassSSL, "received unencrypted data after SSL response"))
		m.record(statelog.StepTLSHandshake, began, fmt.Sprintf("%d unencrypted bytes arrived right after 'S'", extra), e, nil)
		m.bad(e)
		return false
	}
	if m.attempt.Direct && cs.NegotiatedProtocol != "postgresql" {
		msg := "direct SSL connection was established without ALPN protocol negotiation extension"
		if cs.NegotiatedProtocol != "" {
			msg = "SSL connection was established with unexpected ALPN protocol"
		}
		e := m.prefixed(newError(statelog.ClassTLS, msg))
		m.record(statelog.StepTLSHandshake, began, fmt.Sprintf("%s %s, ALPN %q", ts.info.Version, ts.info.Cipher, cs.NegotiatedProtocol), e, nil)
		m.connectionFailed(e)
		return false
	}
	if ts.verifyName && len(cs.PeerCertificates) > 0 {
		if err := VerifyPeerName(cs.PeerCertificates[0], host); err != nil {
			ts.info.VerifyError = err.Error()
			e := m.prefixed(newError(statelog.ClassTLS, err.Error()))
			m.record(statelog.StepTLSHandshake, began, ts.info.Version+" "+ts.info.Cipher+": the chain is trusted but the name is not", e, nil)
			m.connectionFailed(e)
			return false
		}
	}
	return true
}

// tlsDetail describes a successful handshake and what was verified.
func (m *Machine) tlsDetail(ts *tlsSetup, cs tls.ConnectionState) string {
	detail := fmt.Sprintf("%s %s", ts.info.Version, ts.info.Cipher)
	if cs.HelloRetryRequest {
		detail += fmt.Sprintf(" (the server asked again for a %s key share: one more round trip)", ts.info.KeyExchange)
	}
	if m.attempt.Direct {
		detail = "direct TLS (no SSLRequest), ALPN postgresql, " + detail
	}
	switch {
	case ts.verifyName:
		detail += ", chain and host name verified"
	case ts.verifyChain:
		detail += ", chain verified against " + ts.rootFile
	default:
		detail += ", server certificate not verified (sslmode=" + m.settings.Get("sslmode") + ", no root certificate)"
	}
	if ts.keyLogErr != "" {
		detail += "; " + ts.keyLogErr
	} else if ts.cfg.KeyLogWriter != nil {
		detail += "; TLS secrets appended to " + m.settings.Get("sslkeylogfile")
	}
	return detail
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
			Serial:             c.SerialNumber.Text(16),
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

func netIPString(b []byte) string { return net.IP(b).String() }
