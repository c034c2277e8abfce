package probe

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// srvConn is one client connection: a backend, from BackendInitialize to
// proc_exit.
type srvConn struct {
	s      *Server
	raw    net.Conn
	conn   net.Conn // raw, or the TLS connection once it is up
	tc     *tls.Conn
	r      *bufio.Reader // messages after the startup packet
	sess   *statelog.Session
	script *Script
	counts map[string]int
	unix   bool

	user   string
	params map[string]string
	pid    uint32
	key    [4]byte
	// lastAnswer says what the server last did before waiting for a
	// startup packet, to explain a client that leaves then.
	lastAnswer string

	ended   bool
	outcome string
	err     *statelog.Error
}

func newSrvConn(s *Server, c net.Conn, index int, laddr net.Addr) *srvConn {
	network, client := "tcp", c.RemoteAddr().String()
	unixSock := laddr.Network() == "unix" || laddr.Network() == "unixpacket"
	if unixSock {
		network, client = "unix", "[local]"
	}
	sc := (*Script)(nil)
	if s.cfg.Script != nil {
		sc = s.cfg.Script(index)
	}
	if sc == nil {
		sc = &Script{}
	}
	return &srvConn{s: s, raw: c, conn: c, sess: statelog.NewSession(index, client, network, laddr.String()),
		script: sc, counts: map[string]int{}, unix: unixSock}
}

func (h *srvConn) record(state, step string, began time.Time, detail string, err *statelog.Error, data map[string]any) {
	h.sess.Record(state, step, began, detail, err, data)
}

// end fixes how the session ended; the first call wins.
func (h *srvConn) end(outcome string, err *statelog.Error) {
	if h.ended {
		return
	}
	h.ended, h.outcome, h.err = true, outcome, err
}

func (h *srvConn) deadline() { _ = h.raw.SetDeadline(time.Now().Add(h.s.cfg.Timeout)) }

// run is BackendInitialize, then the backend's life.
func (h *srvConn) run() {
	defer h.finish()
	began := time.Now()
	host := h.sess.Client
	detail := "connection received: host=" + host
	if hh, port, err := net.SplitHostPort(host); err == nil {
		detail = "connection received: host=" + hh + " port=" + port
	}
	h.record(SrvBackendInitialize, statelog.StepConnect, began, detail, nil, map[string]any{"client": h.sess.Client, "listen": h.sess.Listen})

	first, ok := h.processSSLStartup()
	if !ok {
		return
	}
	if !h.processStartupPacket(first) {
		return
	}
	if !h.authenticate() {
		return
	}
	h.afterAuthentication()
}

// finish closes the connection and the record.
func (h *srvConn) finish() {
	if h.pid != 0 {
		h.s.dropBackendKey(h.pid)
	}
	began := time.Now()
	if h.tc != nil {
		_ = h.raw.SetDeadline(time.Now().Add(time.Second))
		_ = h.tc.Close()
	} else {
		_ = h.raw.Close()
	}
	if !h.ended {
		h.end(statelog.OutcomeDropped, nil)
	}
	h.record(SrvProcExit, statelog.StepClose, began, "connection closed", nil, nil)
	h.sess.Finish(h.outcome, h.err)
}

// ---- writing, as the script says ----

// action returns the script's Action for this occurrence of step.
func (h *srvConn) action(step string) Action {
	h.counts[step]++
	n := h.counts[step]
	for _, a := range h.script.Actions {
		if a.Step == step && (a.Nth == 0 || a.Nth == n) {
			return a
		}
	}
	return Action{}
}

// write sends msg for step with the script's changes; false means the
// connection is over (the server is closing, or the write failed).
func (h *srvConn) write(step string, began time.Time, msg []byte) (Action, bool) {
	a := h.action(step)
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-h.s.done:
			t.Stop()
			h.stopped(step, began)
			return a, false
		}
	}
	out := append([]byte{}, a.Before...)
	if a.Replace != nil {
		out = append(out, a.Replace...)
	} else {
		out = append(out, msg...)
	}
	out = append(out, a.After...)
	if len(out) == 0 {
		return a, true
	}
	h.deadline()
	if _, err := h.conn.Write(out); err != nil {
		h.writeFailed(step, began, err)
		return a, false
	}
	return a, true
}

// afterAction closes the connection when the action says so.
func (h *srvConn) afterAction(step string, a Action) bool {
	if !a.Close && !a.Reset {
		return true
	}
	t := time.Now()
	how := "closed"
	if a.Reset {
		how = "reset (RST)"
		if tcp, ok := h.raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = h.raw.Close()
		h.tc = nil
	}
	h.record(SrvProcExit, statelog.StepClose, t, "script: connection "+how+" at "+step, nil, nil)
	h.end(statelog.OutcomeDropped, nil)
	return false
}

// emit sends one message (or batch) and records it.
func (h *srvConn) emit(state, step string, began time.Time, msg []byte, detail string, err *statelog.Error, data map[string]any) bool {
	a, ok := h.write(step, began, msg)
	if !ok {
		return false
	}
	if note := a.describe(); note != "" {
		detail += " (" + note + ")"
	}
	h.record(state, step, began, detail, err, data)
	return h.afterAction(step, a)
}

func (h *srvConn) writeFailed(step string, began time.Time, err error) {
	if h.s.isClosed() {
		h.stopped(step, began)
		return
	}
	e := &statelog.Error{Class: statelog.ClassConnect, Message: "could not send data to client: " + wire.Strerror(err), Errno: wire.ErrnoName(err)}
	if wire.IsTimeout(err) {
		e = &statelog.Error{Class: statelog.ClassTimeout, Message: "timeout expired while sending to the client"}
	}
	h.record(stateOfStep(step), step, began, "", e, nil)
	h.end(statelog.OutcomeClientClosed, e)
}

// stopped ends a connection because the server is shutting down.
func (h *srvConn) stopped(step string, began time.Time) {
	e := &statelog.Error{Class: statelog.ClassConnect, Message: "terminating connection because pgprobe is stopping"}
	h.record(stateOfStep(step), step, began, "", e, nil)
	h.end(statelog.OutcomeDropped, e)
}

func stateOfStep(step string) string {
	switch step {
	case statelog.StepSSLResponse, statelog.StepGSSResponse, statelog.StepNegotiate, statelog.StepStartup, statelog.StepSSLRequest, statelog.StepGSSRequest:
		return SrvProcessStartupPacket
	case statelog.StepTLSHandshake:
		return SrvSecureOpenServer
	case statelog.StepAuthRequest, statelog.StepAuthResponse, statelog.StepAuthOK:
		return SrvClientAuthentication
	case statelog.StepParameter, statelog.StepBackendKeyData, statelog.StepReadyForQuery, statelog.StepQuery:
		return SrvPostgresMain
	}
	return SrvProcExit
}

// fatal sends a FATAL ErrorResponse and ends the session. class, when not
// empty, marks the session as gone wrong.
func (h *srvConn) fatal(state string, began time.Time, code, msg, detail, hint, class string) {
	er := &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg, Detail: detail, Hint: hint}
	var e *statelog.Error
	if class != "" {
		e = &statelog.Error{Class: class, Message: msg, SQLState: code, Severity: "FATAL", Detail: detail, Hint: hint}
	}
	if h.emit(state, statelog.StepErrorResponse, began, encode(er), "FATAL "+code+": "+msg, e, map[string]any{"sqlstate": code}) {
		h.end(statelog.OutcomeRefused, e)
	} else if e != nil && h.err == nil {
		h.err = e
	}
}

// commerror is ereport(COMMERROR): logged, nothing sent, connection dropped.
func (h *srvConn) commerror(state, step string, began time.Time, class, code, msg, detail string) {
	e := &statelog.Error{Class: class, Message: msg, SQLState: code, Detail: detail}
	h.record(state, step, began, detail, e, nil)
	h.end(statelog.OutcomeDropped, e)
}

// readFailed explains a read that did not complete.
func (h *srvConn) readFailed(state, step string, began time.Time, err error, waiting, clientLeft string) {
	switch {
	case h.s.isClosed():
		h.stopped(step, began)
	case wire.IsTimeout(err):
		e := &statelog.Error{Class: statelog.ClassTimeout, Message: "timeout expired " + waiting}
		h.record(state, step, began, fmt.Sprintf("nothing from the client for %s", h.s.cfg.Timeout), e, nil)
		h.end(statelog.OutcomeDropped, e)
	case wire.IsEOF(err) || isReset(err):
		e := &statelog.Error{Class: statelog.ClassConnect, Message: "the client closed the connection " + waiting, Errno: wire.ErrnoName(err)}
		h.record(state, step, began, clientLeft, e, nil)
		h.end(statelog.OutcomeClientClosed, e)
	default:
		e := &statelog.Error{Class: statelog.ClassConnect, Message: "could not receive data from client: " + wire.Strerror(err), Errno: wire.ErrnoName(err)}
		h.record(state, step, began, waiting, e, nil)
		h.end(statelog.OutcomeClientClosed, e)
	}
}

func isReset(err error) bool {
	en, ok := wire.Errno(err)
	return ok && (en == syscall.ECONNRESET || en == syscall.EPIPE)
}

// ---- ProcessSSLStartup: PostgreSQL 17's direct TLS ----

// processSSLStartup peeks at the first byte. It returns the byte (or -1
// when direct TLS consumed it) and whether to go on.
func (h *srvConn) processSSLStartup() (int, bool) {
	began := time.Now()
	var b [1]byte
	h.deadline()
	if _, err := io.ReadFull(h.raw, b[:]); err != nil {
		h.readFailed(SrvProcessStartupPacket, statelog.StepStartup, began, err, "without sending anything",
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
		h.commerror(SrvProcessSSLStartup, statelog.StepTLSHandshake, began, statelog.ClassSSL, "",
			"direct SSL connection rejected", "the client began with a TLS ClientHello (sslnegotiation=direct), but "+why)
		return 0, false
	}
	if !h.tlsAccept(SrvProcessSSLStartup, &prefixConn{Conn: h.raw, prefix: b[:]}, began) {
		return 0, false
	}
	if h.sess.TLS.ALPN != "postgresql" {
		h.commerror(SrvProcessSSLStartup, statelog.StepTLSHandshake, time.Now(), statelog.ClassProtocol, "08P01",
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

// ---- secure_open_server ----

func (h *srvConn) tlsAccept(state string, c net.Conn, began time.Time) bool {
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
	detail := fmt.Sprintf("%s %s, SNI %s, ALPN %s", info.Version, info.Cipher, orNoneStr(info.SNI), orNoneStr(info.ALPN))
	h.record(state, statelog.StepTLSHandshake, began, detail, nil, map[string]any{"version": info.Version, "cipher": info.Cipher, "sni": info.SNI, "alpn": info.ALPN})
	return true
}

func orNoneStr(s string) string {
	if s == "" {
		return "none"
	}
	return s
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

// ---- ProcessStartupPacket ----

// processStartupPacket reads packets until the StartupMessage, answering
// SSLRequest and GSSENCRequest on the way, as ProcessStartupPacket's
// recursion does. first is a byte already read, or -1.
func (h *srvConn) processStartupPacket(first int) bool {
	sslDone, gssDone := false, false
	for {
		began := time.Now()
		code, body, ok := h.readStartupPacket(first, sslDone || gssDone, began)
		first = -1
		if !ok {
			return false
		}
		switch {
		case code == cancelRequestCode:
			h.cancelRequest(began, body)
			return false
		case code == sslRequestCode && !sslDone:
			ok, tlsUp := h.sslRequest(began)
			if !ok {
				return false
			}
			sslDone, gssDone = true, gssDone || tlsUp
		case code == gssRequestCode && !gssDone:
			if !h.gssRequest(began) {
				return false
			}
			gssDone = true
		default:
			return h.startupMessage(began, code, body)
		}
	}
}

func (h *srvConn) readStartupPacket(first int, quiet bool, began time.Time) (uint32, []byte, bool) {
	var lb [4]byte
	h.deadline()
	if first >= 0 {
		lb[0] = byte(first)
	} else if _, err := io.ReadFull(h.conn, lb[:1]); err != nil {
		waiting, left := h.leftAfter()
		h.readFailed(SrvProcessStartupPacket, statelog.StepStartup, began, err, waiting, left)
		return 0, nil, false
	}
	if _, err := io.ReadFull(h.conn, lb[1:]); err != nil {
		if quiet || h.s.isClosed() || wire.IsTimeout(err) {
			h.readFailed(SrvProcessStartupPacket, statelog.StepStartup, began, err, "in the middle of a startup packet", "")
		} else {
			h.commerror(SrvProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "incomplete startup packet", "")
		}
		return 0, nil, false
	}
	n := int64(int32(binary.BigEndian.Uint32(lb[:]))) - 4
	if n < 4 || n > maxStartupPacket {
		detail := fmt.Sprintf("length word %d", n+4)
		switch {
		case lb[0] == 0x16:
			detail = "the client began with a TLS ClientHello: it uses sslnegotiation=direct (PostgreSQL 17); pgprobe listen accepts that with --direct-ssl"
		case bytes.HasPrefix(lb[:], []byte("GET ")) || bytes.HasPrefix(lb[:], []byte("POST")) || bytes.HasPrefix(lb[:], []byte("HEAD")):
			detail = "the client speaks HTTP, not the PostgreSQL protocol"
		case bytes.HasPrefix(lb[:], []byte("SSH-")):
			detail = "the client speaks SSH, not the PostgreSQL protocol"
		}
		h.commerror(SrvProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "invalid length of startup packet", detail)
		return 0, nil, false
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(h.conn, body); err != nil {
		if h.s.isClosed() || wire.IsTimeout(err) {
			h.readFailed(SrvProcessStartupPacket, statelog.StepStartup, began, err, "in the middle of a startup packet", "")
		} else {
			h.commerror(SrvProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "incomplete startup packet", "")
		}
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(body[:4]), body, true
}

// leftAfter explains a client that leaves instead of sending a packet.
func (h *srvConn) leftAfter() (waiting, left string) {
	switch h.lastAnswer {
	case "N":
		return "after 'N' to its SSLRequest",
			"the client requires SSL (sslmode=require, verify-ca or verify-full) and gives up on 'N': libpq says \"server does not support SSL, but SSL was required\""
	case "S":
		return "after the TLS handshake, without a startup packet", ""
	case "GN":
		return "after 'N' to its GSSENCRequest", "the client requires GSSAPI encryption (gssencmode=require)"
	case "direct":
		return "after direct TLS, without a startup packet", ""
	}
	return "without sending anything", "the client connected and left without a word (a port check, or a client that gave up)"
}

func (h *srvConn) cancelRequest(began time.Time, body []byte) {
	if len(body) != 12 {
		h.commerror(SrvProcessStartupPacket, statelog.StepCancelRequest, began, statelog.ClassProtocol, "08P01", "invalid length of startup packet",
			fmt.Sprintf("CancelRequest of %d bytes, not 16", len(body)+4))
		return
	}
	pid := binary.BigEndian.Uint32(body[4:8])
	matched := h.s.cancelMatches(pid, body[8:12])
	h.sess.Cancel = &statelog.Cancel{BackendPID: pid, Matched: matched}
	detail := fmt.Sprintf("CancelRequest for backend pid %d: ", pid)
	if matched {
		detail += "a session of this server (nothing runs there to cancel)"
	} else {
		detail += "no session of this server has that pid and key"
	}
	h.record(SrvProcessStartupPacket, statelog.StepCancelRequest, began, detail, nil, map[string]any{"backend_pid": pid, "matched": matched})
	h.end(statelog.OutcomeCancel, nil)
}

// sslRequest answers 'S' or 'N' and, after 'S', runs secure_open_server.
// It reports whether to go on and whether TLS is now up.
func (h *srvConn) sslRequest(began time.Time) (bool, bool) {
	h.sess.SSLRequest = true
	h.record(SrvProcessStartupPacket, statelog.StepSSLRequest, began, "SSLRequest (8 bytes, code 80877103)", nil, nil)
	answer, why := byte('S'), "SSL is on: the TLS handshake follows"
	switch {
	case !h.s.cfg.SSL:
		answer, why = 'N', "SSL is off"
	case h.unix:
		answer, why = 'N', "no SSL on a Unix socket"
	case h.tc != nil:
		answer, why = 'N', "TLS is already in use (direct TLS)"
	}
	// Bytes the client sent after SSLRequest, before any answer: they are
	// in PostgreSQL's input buffer, not in OpenSSL's (CVE-2021-23214).
	extra := 0
	if h.tc == nil {
		extra = wire.PendingBytes(h.raw)
	}
	t := time.Now()
	a, ok := h.write(statelog.StepSSLResponse, t, []byte{answer})
	if !ok {
		return false, false
	}
	sent := answer
	if a.Replace != nil {
		sent = 0
		if len(a.Replace) > 0 {
			sent = a.Replace[0]
		}
		why = "script"
	}
	if sent != 0 {
		h.sess.SSLResponse = statelog.Str(string(sent))
	}
	detail := fmt.Sprintf("'%c': %s", sent, why)
	if sent == 0 {
		detail = "nothing sent"
	} else if sent < 0x20 || sent > 0x7e {
		detail = fmt.Sprintf("byte 0x%02x", sent)
	}
	if note := a.describe(); note != "" {
		detail += " (" + note + ")"
	}
	h.record(SrvProcessStartupPacket, statelog.StepSSLResponse, t, detail, nil, map[string]any{"byte": string(sent)})
	if !h.afterAction(statelog.StepSSLResponse, a) {
		return false, false
	}
	switch sent {
	case 'N':
		h.lastAnswer = "N"
		return true, false
	case 'S':
		if h.s.tlsBase == nil {
			h.commerror(SrvSecureOpenServer, statelog.StepTLSHandshake, time.Now(), statelog.ClassSSL, "", "no certificate to accept TLS with", "the script answered 'S' with SSL off")
			return false, false
		}
	default:
		h.end(statelog.OutcomeDropped, nil)
		return false, false
	}
	if extra > 0 {
		h.sess.UnencryptedAfterSSLRequest = extra
		_, _ = io.ReadFull(h.raw, make([]byte, extra))
	}
	if !h.tlsAccept(SrvSecureOpenServer, h.raw, time.Now()) {
		return false, false
	}
	if extra > 0 {
		h.fatal(SrvProcessStartupPacket, time.Now(), "08P01", "received unencrypted data after SSL request",
			"This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.", "",
			statelog.ClassProtocol)
		return false, false
	}
	h.lastAnswer = "S"
	return true, true
}

func (h *srvConn) gssRequest(began time.Time) bool {
	h.sess.GSSRequest = true
	h.record(SrvProcessStartupPacket, statelog.StepGSSRequest, began, "GSSENCRequest (8 bytes, code 80877104)", nil, nil)
	t := time.Now()
	a, ok := h.write(statelog.StepGSSResponse, t, []byte{'N'})
	if !ok {
		return false
	}
	sent, why := byte('N'), "pgprobe does not do GSSAPI encryption"
	if a.Replace != nil {
		sent, why = 0, "script"
		if len(a.Replace) > 0 {
			sent = a.Replace[0]
		}
	}
	if sent != 0 {
		h.sess.GSSResponse = statelog.Str(string(sent))
	}
	detail := fmt.Sprintf("'%c': %s", sent, why)
	if note := a.describe(); note != "" {
		detail += " (" + note + ")"
	}
	h.record(SrvProcessStartupPacket, statelog.StepGSSResponse, t, detail, nil, map[string]any{"byte": string(sent)})
	if !h.afterAction(statelog.StepGSSResponse, a) {
		return false
	}
	if sent != 'N' {
		h.end(statelog.OutcomeDropped, nil)
		return false
	}
	h.lastAnswer = "GN"
	return true
}

// startupOrderServer puts the parameters people look for first.
var startupOrderServer = []string{"user", "database", "application_name", "options", "replication", "client_encoding"}

func (h *srvConn) startupMessage(began time.Time, code uint32, body []byte) bool {
	major, minor := code>>16, code&0xffff
	version := fmt.Sprintf("%d.%d", major, minor)
	if major != 3 {
		h.record(SrvProcessStartupPacket, statelog.StepStartup, began, "StartupMessage "+version, nil, map[string]any{"protocol_version": version})
		h.fatal(SrvProcessStartupPacket, time.Now(), "0A000",
			fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", major, minor), "", "", statelog.ClassProtocol)
		return false
	}
	params := map[string]string{}
	var pqOptions []string
	off, terminated := 4, false
	for off < len(body) {
		if body[off] == 0 {
			terminated = off == len(body)-1
			break
		}
		name := cString(body[off:])
		valOff := off + len(name) + 1
		if valOff >= len(body) {
			break
		}
		value := cString(body[valOff:])
		params[name] = value
		if strings.HasPrefix(name, "_pq_.") {
			pqOptions = append(pqOptions, name)
		}
		off = valOff + len(value) + 1
	}
	h.params = params
	h.sess.Startup = &statelog.Startup{ProtocolVersion: version, Parameters: params}
	h.record(SrvProcessStartupPacket, statelog.StepStartup, began, "StartupMessage "+version+": "+describeParams(params),
		nil, map[string]any{"protocol_version": version, "parameters": params})
	if !terminated {
		h.fatal(SrvProcessStartupPacket, time.Now(), "08P01", "invalid startup packet layout: expected terminator as last byte", "", "", statelog.ClassProtocol)
		return false
	}
	npv := h.script.NegotiateProtocolVersion
	if npv == nil && (minor > 0 || len(pqOptions) > 0) {
		sort.Strings(pqOptions)
		npv = &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: pqOptions}
	}
	if npv != nil {
		detail := fmt.Sprintf("NegotiateProtocolVersion: newest minor version 3.%d", npv.NewestMinorProtocol)
		if len(npv.UnrecognizedOptions) > 0 {
			detail += ", unrecognized options " + strings.Join(npv.UnrecognizedOptions, ", ")
		}
		if !h.emit(SrvProcessStartupPacket, statelog.StepNegotiate, time.Now(), encode(npv), detail, nil, nil) {
			return false
		}
	}
	h.user = params["user"]
	if h.user == "" {
		h.fatal(SrvProcessStartupPacket, time.Now(), "28000", "no PostgreSQL user name specified in startup packet", "", "", statelog.ClassProtocol)
		return false
	}
	return true
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func describeParams(p map[string]string) string {
	var keys []string
	seen := map[string]bool{}
	for _, k := range startupOrderServer {
		if _, ok := p[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range p {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + p[k]
	}
	if len(out) == 0 {
		return "no parameters"
	}
	return strings.Join(out, " ")
}

// ---- ClientAuthentication ----

func (h *srvConn) authenticate() bool {
	method := h.s.cfg.Auth
	auth := &statelog.SessionAuth{Method: method}
	h.sess.Auth = auth
	switch method {
	case AuthTrust:
		return h.authOK(auth, "")
	case AuthPassword, AuthMD5:
		return h.passwordAuth(auth)
	default:
		return h.scramAuth(auth)
	}
}

func (h *srvConn) authOK(auth *statelog.SessionAuth, note string) bool {
	detail := "AuthenticationOk (method " + auth.Method + ")"
	if note != "" {
		detail += ": " + note
	}
	return h.emit(SrvClientAuthentication, statelog.StepAuthOK, time.Now(), encode(&pgproto3.AuthenticationOk{}), detail, nil, map[string]any{"code": wire.AuthReqOK})
}

func (h *srvConn) passwordFailed(began time.Time) {
	h.fatal(SrvClientAuthentication, began, "28P01", fmt.Sprintf("password authentication failed for user \"%s\"", h.user), "", "", statelog.ClassAuth)
}

// readAuthMessage reads the client's answer to an authentication request.
func (h *srvConn) readAuthMessage(began time.Time, request, kind string) ([]byte, bool) {
	typ, body, err := h.readMessage(maxAuthToken)
	if err != nil {
		if errors.Is(err, errMessageLength) {
			h.commerror(SrvClientAuthentication, statelog.StepAuthResponse, began, statelog.ClassProtocol, "08P01", "invalid message length", err.Error())
			return nil, false
		}
		h.readFailed(SrvClientAuthentication, statelog.StepAuthResponse, began, err, "instead of answering "+request,
			"a client with no password gives up here (libpq: \"fe_sendauth: no password supplied\"), as does one whose require_auth or channel_binding=require forbids "+request)
		return nil, false
	}
	if typ != 'p' {
		h.fatal(SrvClientAuthentication, began, "08P01", fmt.Sprintf("expected %s response, got message type %d", kind, typ), "", "", statelog.ClassProtocol)
		return nil, false
	}
	return body, true
}

func (h *srvConn) passwordAuth(auth *statelog.SessionAuth) bool {
	began := time.Now()
	md5 := auth.Method == AuthMD5
	var salt [4]byte
	var msg pgproto3.BackendMessage = &pgproto3.AuthenticationCleartextPassword{}
	name, code := "AuthenticationCleartextPassword", wire.AuthReqPassword
	if md5 {
		_, _ = rand.Read(salt[:])
		msg = &pgproto3.AuthenticationMD5Password{Salt: salt}
		name, code = "AuthenticationMD5Password", wire.AuthReqMD5
	}
	detail := name
	if md5 {
		detail += " (with a random 4-byte salt)"
	}
	if !h.emit(SrvClientAuthentication, statelog.StepAuthRequest, began, encode(msg), detail, nil, map[string]any{"code": code}) {
		return false
	}
	t := time.Now()
	body, ok := h.readAuthMessage(t, name, "password")
	if !ok {
		return false
	}
	defer clear(body)
	if len(body) == 0 || bytes.IndexByte(body, 0) != len(body)-1 {
		h.fatal(SrvClientAuthentication, t, "08P01", "invalid password packet size", "", "", statelog.ClassProtocol)
		return false
	}
	pw := body[:len(body)-1]
	if len(pw) == 0 {
		h.record(SrvClientAuthentication, statelog.StepAuthResponse, t, "PasswordMessage: an empty password", nil, nil)
		h.passwordFailed(time.Now())
		return false
	}
	auth.PasswordReceived = true
	what := "PasswordMessage: the cleartext password (not recorded)"
	if md5 {
		what = "PasswordMessage: an MD5 hash of the password and the salt (not recorded)"
	}
	h.record(SrvClientAuthentication, statelog.StepAuthResponse, t, what, nil, nil)
	if h.s.known {
		want := []byte(h.s.cfg.Password)
		if md5 {
			want = []byte(wire.MD5Password(h.s.cfg.Password, h.user, salt[:]))
		}
		match := subtle.ConstantTimeCompare(pw, want) == 1
		auth.PasswordVerified = &match
		if !match {
			h.passwordFailed(time.Now())
			return false
		}
		return h.authOK(auth, "the password matches")
	}
	return h.authOK(auth, "pgprobe has no password to check it against and accepts it")
}

const (
	mechSCRAM     = "SCRAM-SHA-256"
	mechSCRAMPlus = "SCRAM-SHA-256-PLUS"
)

func (h *srvConn) scramAuth(auth *statelog.SessionAuth) bool {
	mechs := h.script.SASLMechanisms
	if mechs == nil {
		if h.tc != nil {
			mechs = []string{mechSCRAMPlus, mechSCRAM}
		} else {
			mechs = []string{mechSCRAM}
		}
	}
	auth.Mechanisms = append([]string{}, mechs...)
	plusOffered := false
	for _, m := range mechs {
		if m == mechSCRAMPlus {
			plusOffered = true
		}
	}
	began := time.Now()
	if !h.emit(SrvClientAuthentication, statelog.StepAuthRequest, began, encode(&pgproto3.AuthenticationSASL{AuthMechanisms: mechs}),
		"AuthenticationSASL: "+strings.Join(mechs, ", "), nil, map[string]any{"code": wire.AuthReqSASL, "mechanisms": mechs}) {
		return false
	}

	// SASLInitialResponse: the mechanism and the client-first-message.
	t := time.Now()
	body, ok := h.readAuthMessage(t, "AuthenticationSASL", "SASL")
	if !ok {
		return false
	}
	var init pgproto3.SASLInitialResponse
	if err := init.Decode(body); err != nil {
		h.fatal(SrvClientAuthentication, t, "08P01", "invalid SASLInitialResponse", "", "", statelog.ClassProtocol)
		return false
	}
	mech := init.AuthMechanism
	offered := false
	for _, m := range mechs {
		offered = offered || m == mech
	}
	if !offered || (mech != mechSCRAM && mech != mechSCRAMPlus) {
		h.fatal(SrvClientAuthentication, t, "08P01", "client selected an invalid SASL authentication mechanism", "", "", statelog.ClassProtocol)
		return false
	}
	auth.Mechanism = mech
	clientFirst := string(init.Data)
	flag := ""
	if clientFirst != "" {
		flag = clientFirst[:1]
	}
	auth.ChannelBindingFlag = flag
	if mech == mechSCRAMPlus {
		auth.Method = "scram-sha-256-plus"
	}
	flagWords := map[string]string{"p": "binds the channel (tls-server-end-point)", "y": "could bind the channel, but thinks the server cannot", "n": "does not bind the channel"}
	h.record(SrvClientAuthentication, statelog.StepAuthResponse, t, fmt.Sprintf("SASLInitialResponse: %s, client-first-message: the client %s", mech, orWord(flagWords[flag], "sent GS2 flag "+flag)),
		nil, map[string]any{"mechanism": mech, "gs2_flag": flag})

	switch {
	case mech == mechSCRAMPlus && flag != "p":
		h.fatal(SrvClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.", "", statelog.ClassProtocol)
		return false
	case mech == mechSCRAM && flag == "p":
		h.fatal(SrvClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.", "", statelog.ClassProtocol)
		return false
	case flag == "y" && plusOffered && h.tc != nil:
		h.fatal(SrvClientAuthentication, time.Now(), "28000", "SCRAM channel binding negotiation error",
			"The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.", "", statelog.ClassAuth)
		return false
	}
	var conv *scram.ServerConversation
	if mech == mechSCRAMPlus {
		if h.tc == nil || h.s.leaf == nil {
			h.fatal(SrvClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
				"The client selected SCRAM-SHA-256-PLUS over a connection without TLS.", "", statelog.ClassProtocol)
			return false
		}
		cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{h.s.leaf}}
		cb, err := scram.NewTLSServerEndpointBinding(&cs)
		if err != nil {
			h.fatal(SrvClientAuthentication, time.Now(), "XX000", "could not compute the channel binding data: "+err.Error(), "", "", statelog.ClassServer)
			return false
		}
		conv = h.s.scram.NewConversationWithChannelBinding(cb)
	} else {
		conv = h.s.scram.NewConversation()
	}
	serverFirst, err := conv.Step(clientFirst)
	if err != nil {
		h.fatal(SrvClientAuthentication, time.Now(), "08P01", "malformed SCRAM message", err.Error(), "", statelog.ClassProtocol)
		return false
	}
	t = time.Now()
	if !h.emit(SrvClientAuthentication, statelog.StepAuthRequest, t, encode(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}),
		"AuthenticationSASLContinue: server-first-message (salt, 4096 iterations)", nil, map[string]any{"code": wire.AuthReqSASLCont, "iterations": 4096}) {
		return false
	}

	// SASLResponse: the client-final-message with the proof.
	t = time.Now()
	body, ok = h.readAuthMessage(t, "AuthenticationSASLContinue", "SASL")
	if !ok {
		return false
	}
	defer clear(body)
	auth.PasswordReceived = true
	what := "SASLResponse: client-final-message with the proof (not recorded)"
	if flag == "p" {
		what = "SASLResponse: client-final-message with the channel binding data and the proof (not recorded)"
	}
	h.record(SrvClientAuthentication, statelog.StepAuthResponse, t, what, nil, nil)
	serverFinal, err := conv.Step(string(body))
	t = time.Now()
	switch {
	case err == nil && conv.Valid():
		verified := true
		auth.PasswordVerified = &verified
		auth.ChannelBinding = flag == "p"
		if !h.emit(SrvClientAuthentication, statelog.StepAuthRequest, t, encode(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)}),
			"AuthenticationSASLFinal: server-final-message: the server's signature proves it knows the password", nil, map[string]any{"code": wire.AuthReqSASLFin}) {
			return false
		}
		return h.authOK(auth, "the proof matches")
	case serverFinal == scram.ErrChannelBindingsDontMatch:
		h.fatal(SrvClientAuthentication, t, "08P01", "SCRAM channel binding check failed", "", "", statelog.ClassAuth)
		return false
	case serverFinal == scram.ErrInvalidProof:
		// The channel binding and the nonce were checked before the proof.
		auth.ChannelBinding = flag == "p"
		if h.s.known {
			verified := false
			auth.PasswordVerified = &verified
			h.passwordFailed(t)
			return false
		}
		return h.authOK(auth, "no SASLFinal: pgprobe has no password, so it can neither check the proof nor prove it knows the password (libpq accepts this unless channel_binding=require or require_auth)")
	case err != nil && strings.Contains(err.Error(), "nonce"):
		h.fatal(SrvClientAuthentication, t, "08P01", "invalid SCRAM response (nonce mismatch)", "", "", statelog.ClassProtocol)
		return false
	default:
		// xdg-go's parse errors quote the field they choke on, which may be
		// the proof: say nothing more than PostgreSQL does.
		h.fatal(SrvClientAuthentication, t, "08P01", "malformed SCRAM message", "The client-final-message could not be parsed.", "", statelog.ClassProtocol)
		return false
	}
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// errMessageLength is a message whose length word is out of bounds.
var errMessageLength = errors.New("invalid message length")

// readMessage reads one typed frontend message of at most max body bytes.
func (h *srvConn) readMessage(max int) (byte, []byte, error) {
	if h.r == nil {
		h.r = bufio.NewReaderSize(h.conn, 8192)
	}
	h.deadline()
	var hdr [5]byte
	if _, err := io.ReadFull(h.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	if n < 0 || n > int64(max) {
		return hdr[0], nil, fmt.Errorf("%w: %d-byte %q message", errMessageLength, n+4, hdr[0])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(h.r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// ---- InitPostgres / PostgresMain ----

func (h *srvConn) afterAuthentication() {
	if er := h.script.ThenError; er != nil {
		sev := er.Severity
		h.emit(SrvInitPostgres, statelog.StepErrorResponse, time.Now(), encode(er), sev+" "+er.Code+": "+er.Message, nil, map[string]any{"sqlstate": er.Code})
		h.end(statelog.OutcomeRefused, nil)
		return
	}
	if h.s.cfg.Then == ThenError {
		h.fatal(SrvInitPostgres, time.Now(), "08004", "pgprobe listen is not a database: it recorded this connection and closes it",
			"pgprobe answers the startup as PostgreSQL's ProcessStartupPacket does and records what the client sent (SSL, TLS, SNI, ALPN, startup parameters, authentication).",
			"Run pgprobe listen with --then ok to let clients connect.", "")
		return
	}
	h.ready()
}

// parameterStatus is what BeginReportingGUCOptions sends: every GUC_REPORT
// parameter.
func (h *srvConn) parameterStatus() [][2]string {
	orDefault := func(k, def string) string {
		if v := h.params[k]; v != "" {
			return v
		}
		return def
	}
	return [][2]string{
		{"application_name", h.params["application_name"]},
		{"client_encoding", orDefault("client_encoding", "UTF8")},
		{"DateStyle", orDefault("datestyle", "ISO, MDY")},
		{"default_transaction_read_only", "off"},
		{"in_hot_standby", "off"},
		{"integer_datetimes", "on"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", "off"},
		{"scram_iterations", "4096"},
		{"server_encoding", "UTF8"},
		{"server_version", h.s.cfg.ServerVersion},
		{"session_authorization", h.user},
		{"standard_conforming_strings", "on"},
		{"TimeZone", orDefault("timezone", "UTC")},
	}
}

func (h *srvConn) ready() {
	var msgs []pgproto3.BackendMessage
	params := map[string]string{}
	for _, p := range h.parameterStatus() {
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
		params[p[0]] = p[1]
	}
	detail := fmt.Sprintf("%d ParameterStatus (server_version=%s, session_authorization=%s, client_encoding=%s, …)",
		len(msgs), params["server_version"], params["session_authorization"], params["client_encoding"])
	if !h.emit(SrvPostgresMain, statelog.StepParameter, time.Now(), encode(msgs...), detail, nil, map[string]any{"parameters": params}) {
		return
	}
	h.pid, h.key = h.s.newBackendKey()
	h.sess.BackendPID = h.pid
	if !h.emit(SrvPostgresMain, statelog.StepBackendKeyData, time.Now(), encode(&pgproto3.BackendKeyData{ProcessID: h.pid, SecretKey: h.key[:]}),
		fmt.Sprintf("BackendKeyData: backend pid %d", h.pid), nil, map[string]any{"pid": h.pid}) {
		return
	}
	if !h.emit(SrvPostgresMain, statelog.StepReadyForQuery, time.Now(), encode(&pgproto3.ReadyForQuery{TxStatus: 'I'}), "ReadyForQuery (idle)", nil, nil) {
		return
	}
	h.end(statelog.OutcomeReady, nil)
	h.serveQueries()
}

// notADatabase answers every query.
var notADatabase = &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "0A000",
	Message: "pgprobe is not a database: it does not run queries",
	Hint:    "pgprobe listen records how clients connect; point the client back at the database to run queries."}

// serveQueries is PostgresMain's loop, answering every query with an error.
func (h *srvConn) serveQueries() {
	inError := false
	for {
		t := time.Now()
		typ, body, err := h.readMessage(1 << 20)
		switch {
		case err == nil:
		case h.s.isClosed():
			h.record(SrvPostgresMain, statelog.StepClose, t, "pgprobe is stopping: connection closed", nil, nil)
			return
		case wire.IsTimeout(err):
			h.record(SrvPostgresMain, statelog.StepClose, t, fmt.Sprintf("the client was idle for %s: connection closed", h.s.cfg.Timeout), nil, nil)
			return
		case errors.Is(err, errMessageLength):
			h.record(SrvPostgresMain, statelog.StepClose, t, err.Error()+": connection closed", nil, nil)
			return
		default:
			h.record(SrvPostgresMain, statelog.StepClose, t, "the client closed the connection without Terminate", nil, nil)
			return
		}
		switch typ {
		case 'X':
			h.record(SrvPostgresMain, statelog.StepClose, t, "Terminate: the client said goodbye", nil, nil)
			return
		case 'Q':
			h.sess.Queries++
			n := len(body)
			clear(body) // queries may hold secrets too; they are not recorded
			if !h.emit(SrvPostgresMain, statelog.StepQuery, t, encode(notADatabase, &pgproto3.ReadyForQuery{TxStatus: 'I'}),
				fmt.Sprintf("Query (%d bytes, not recorded): answered ERROR 0A000 and ReadyForQuery", n), nil, nil) {
				return
			}
		case 'S':
			if !h.emit(SrvPostgresMain, statelog.StepReadyForQuery, t, encode(&pgproto3.ReadyForQuery{TxStatus: 'I'}), "Sync: ReadyForQuery (idle)", nil, nil) {
				return
			}
			inError = false
		case 'H':
		case 'P', 'B', 'E', 'D', 'C', 'F', 'd', 'c', 'f':
			if !inError {
				inError = true
				h.sess.Queries++
				if !h.emit(SrvPostgresMain, statelog.StepQuery, t, encode(notADatabase), fmt.Sprintf("extended-protocol message %q: answered ERROR 0A000", typ), nil, nil) {
					return
				}
			}
		default:
			h.fatal(SrvPostgresMain, t, "08P01", fmt.Sprintf("invalid frontend message type %d", typ), "", "", statelog.ClassProtocol)
			return
		}
	}
}
