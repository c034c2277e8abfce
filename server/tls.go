package server

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// processSSLStartup is PostgreSQL 17's direct TLS: it peeks at the first
// byte. It returns the byte (or -1 when direct TLS consumed it) and whether
// to go on.
func (h *backend) processSSLStartup() (int, bool) {
	began := time.Now()
	var b [1]byte
	h.deadline()
	if _, err := io.ReadFull(h.raw, b[:]); err != nil {
		h.readFailed(StateProcessStartupPacket, statelog.StepStartup, began, err, "without sending anything",
			"the client connected and left without a word (a port check, or a client that gave up)")
		return 0, false
	}
	if b[0] != 0x16 || !h.s.cfg.DirectSSL {
		return int(b[0]), true
	}
	h.sess.DirectTLS = true
	if !h.s.cfg.SSL || h.unix {
		why := "SSL is off"
		if h.unix {
			why = "this is a Unix socket"
		}
		h.commerror(StateProcessSSLStartup, statelog.StepTLSHandshake, began, statelog.ClassSSL, "",
			"direct SSL connection rejected", "the client began with a TLS ClientHello (sslnegotiation=direct), but "+why)
		return 0, false
	}
	if !h.tlsAccept(StateProcessSSLStartup, &prefixConn{Conn: h.raw, prefix: b[:]}, began) {
		return 0, false
	}
	if h.sess.TLS.ALPN != "postgresql" {
		h.commerror(StateProcessSSLStartup, statelog.StepTLSHandshake, time.Now(), statelog.ClassProtocol, "08P01",
			"received direct SSL connection request without ALPN protocol negotiation extension",
			"direct TLS needs ALPN \"postgresql\" (PostgreSQL 17 drops the connection without it)")
		return 0, false
	}
	h.lastAnswer = "direct"
	return -1, true
}

// prefixConn gives back bytes already read before reading the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// tlsAccept is secure_open_server: the TLS handshake on c (the raw socket
// after 'S', or with the first byte given back for direct TLS), recording
// what the ClientHello offered and what was agreed.
func (h *backend) tlsAccept(state string, c net.Conn, began time.Time) bool {
	a, ok := h.write(statelog.StepTLSHandshake, began, nil)
	if !ok {
		return false
	}
	if a.Replace != nil {
		h.record(state, statelog.StepTLSHandshake, began, a.describe(), nil, nil)
		h.end(statelog.OutcomeDropped, nil)
		return false
	}
	if !h.afterAction(statelog.StepTLSHandshake, a) {
		return false
	}
	info := &statelog.SessionTLS{ALPNOffered: []string{}, VersionsOffered: []string{}, CiphersOffered: []string{}}
	h.sess.TLS = info
	cfg := h.s.tlsBase.Clone()
	cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		noteHello(info, hi)
		return nil, nil
	}
	tc := tls.Server(c, cfg)
	h.deadline()
	if err := tc.Handshake(); err != nil {
		if h.s.isClosed() {
			h.stopped(statelog.StepTLSHandshake, began)
			return false
		}
		msg, hint := tlsAcceptError(err)
		e := &statelog.Error{Class: statelog.ClassTLS, Message: "could not accept SSL connection: " + msg}
		if wire.IsTimeout(err) {
			e.Class = statelog.ClassTimeout
		}
		h.record(state, statelog.StepTLSHandshake, began, hint, e, nil)
		h.end(statelog.OutcomeDropped, e)
		return false
	}
	cs := tc.ConnectionState()
	info.Version = wire.TLSVersionName(cs.Version)
	info.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	info.ALPN = cs.NegotiatedProtocol
	info.SNI = cs.ServerName
	h.tc, h.conn = tc, tc
	detail := fmt.Sprintf("%s %s, SNI %s, ALPN %s", info.Version, info.Cipher, cmp.Or(info.SNI, "none"), cmp.Or(info.ALPN, "none"))
	h.record(state, statelog.StepTLSHandshake, began, detail, nil, map[string]any{"version": info.Version, "cipher": info.Cipher, "sni": info.SNI, "alpn": info.ALPN})
	return true
}

// noteHello records what the ClientHello offered.
func noteHello(info *statelog.SessionTLS, hi *tls.ClientHelloInfo) {
	info.SNI = hi.ServerName
	info.ALPNOffered = append([]string{}, hi.SupportedProtos...)
	for _, v := range hi.SupportedVersions {
		if !isGREASE(v) {
			info.VersionsOffered = append(info.VersionsOffered, wire.TLSVersionName(v))
		}
	}
	for _, c := range hi.CipherSuites {
		if !isGREASE(c) {
			info.CiphersOffered = append(info.CiphersOffered, tls.CipherSuiteName(c))
		}
	}
	for _, g := range hi.SupportedCurves {
		if !isGREASE(uint16(g)) {
			info.GroupsOffered = append(info.GroupsOffered, g.String())
		}
	}
}

// isGREASE spots RFC 8701's reserved values (0x0a0a, 0x1a1a, …).
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// tlsAcceptError words a failed server handshake and says what it means.
func tlsAcceptError(err error) (msg, hint string) {
	s := err.Error()
	switch {
	case wire.IsEOF(err):
		return "EOF detected", "the client closed the connection during the TLS handshake"
	case wire.IsTimeout(err):
		return "timeout expired", "the client did not finish the TLS handshake"
	case strings.Contains(s, "remote error: tls: "):
		alert := s[strings.Index(s, "remote error: tls: ")+len("remote error: tls: "):]
		msg = "tlsv1 alert " + wire.OpenSSLAlertName(alert)
		switch alert {
		case "unknown certificate authority", "bad certificate", "certificate unknown", "unsupported certificate", "access denied":
			hint = "the client refused the server's certificate: it verifies certificates (sslmode=verify-ca or verify-full, or a ~/.postgresql/root.crt) and does not trust this one"
		case "protocol version not supported":
			hint = "the client and the server share no TLS version"
		default:
			hint = "the client sent a TLS alert: " + alert
		}
		return msg, hint
	case strings.Contains(s, "bad record MAC"):
		// OpenSSL clients abort a TLS 1.3 handshake they refuse with an
		// alert crypto/tls cannot read at that point.
		return "the client aborted the handshake (" + strings.TrimPrefix(s, "local error: tls: ") + ")",
			"the client aborted the TLS handshake after the server's certificate: most likely it verifies certificates (sslmode=verify-ca or verify-full, or a ~/.postgresql/root.crt) and does not trust this one"
	case strings.Contains(s, "unsupported application protocols"):
		return "no application protocol", "the client offered ALPN protocols, none of them \"postgresql\""
	case strings.Contains(s, "first record does not look like a TLS handshake"):
		return "wrong version number", "the client sent something that is not TLS after 'S'"
	}
	return strings.TrimPrefix(s, "tls: "), s
}
