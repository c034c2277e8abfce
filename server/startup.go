package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// processStartupPacket reads packets until the StartupMessage, answering
// SSLRequest and GSSENCRequest on the way, as ProcessStartupPacket's
// recursion does. first is a byte already read, or -1.
func (h *backend) processStartupPacket(first int) bool {
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
			ok, gssUp := h.gssRequest(began)
			if !ok {
				return false
			}
			gssDone, sslDone = true, sslDone || gssUp
		default:
			return h.startupMessage(began, code, body)
		}
	}
}

func (h *backend) readStartupPacket(first int, quiet bool, began time.Time) (uint32, []byte, bool) {
	var lb [4]byte
	h.deadline()
	if first >= 0 {
		lb[0] = byte(first)
	} else if _, err := io.ReadFull(h.conn, lb[:1]); err != nil {
		waiting, left := h.leftAfter()
		h.readFailed(StateProcessStartupPacket, statelog.StepStartup, began, err, waiting, left)
		return 0, nil, false
	}
	if _, err := io.ReadFull(h.conn, lb[1:]); err != nil {
		if quiet || h.s.isClosed() || wire.IsTimeout(err) {
			h.readFailed(StateProcessStartupPacket, statelog.StepStartup, began, err, "in the middle of a startup packet", "")
		} else {
			h.commerror(StateProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "incomplete startup packet", "")
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
		h.commerror(StateProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "invalid length of startup packet", detail)
		return 0, nil, false
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(h.conn, body); err != nil {
		if h.s.isClosed() || wire.IsTimeout(err) {
			h.readFailed(StateProcessStartupPacket, statelog.StepStartup, began, err, "in the middle of a startup packet", "")
		} else {
			h.commerror(StateProcessStartupPacket, statelog.StepStartup, began, statelog.ClassProtocol, "08P01", "incomplete startup packet", "")
		}
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(body[:4]), body, true
}

// leftAfter explains a client that leaves instead of sending a packet.
func (h *backend) leftAfter() (waiting, left string) {
	switch h.lastAnswer {
	case "N":
		return "after 'N' to its SSLRequest",
			"the client requires SSL (sslmode=require, verify-ca or verify-full) and gives up on 'N': libpq says \"server does not support SSL, but SSL was required\""
	case "S":
		return "after the TLS handshake, without a startup packet", ""
	case "GN":
		return "after 'N' to its GSSENCRequest", "the client requires GSSAPI encryption (gssencmode=require)"
	case "G":
		return "after GSSAPI encryption was set up, without a startup packet", ""
	case "direct":
		return "after direct TLS, without a startup packet", ""
	}
	return "without sending anything", "the client connected and left without a word (a port check, or a client that gave up)"
}

func (h *backend) cancelRequest(began time.Time, body []byte) {
	// Protocol 3.2's cancel keys are up to 256 bytes (PostgreSQL 18).
	if len(body) < 12 || len(body) > 8+256 {
		h.commerror(StateProcessStartupPacket, statelog.StepCancelRequest, began, statelog.ClassProtocol, "08P01", "invalid length of startup packet",
			fmt.Sprintf("CancelRequest of %d bytes, not 16 to 268", len(body)+4))
		return
	}
	pid := binary.BigEndian.Uint32(body[4:8])
	matched := h.s.cancelMatches(pid, body[8:])
	h.sess.Cancel = &statelog.Cancel{BackendPID: pid, Matched: matched}
	detail := fmt.Sprintf("CancelRequest for backend pid %d: ", pid)
	if matched {
		detail += "a session of this server (nothing runs there to cancel)"
	} else {
		detail += "no session of this server has that pid and key"
	}
	h.record(StateProcessStartupPacket, statelog.StepCancelRequest, began, detail, nil, map[string]any{"backend_pid": pid, "matched": matched})
	h.end(statelog.OutcomeCancel, nil)
}

// sslRequest answers 'S' or 'N' and, after 'S', runs secure_open_server.
// It reports whether to go on and whether TLS is now up.
func (h *backend) sslRequest(began time.Time) (bool, bool) {
	h.sess.SSLRequest = true
	h.record(StateProcessStartupPacket, statelog.StepSSLRequest, began, "SSLRequest (8 bytes, code 80877103)", nil, nil)
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
	h.record(StateProcessStartupPacket, statelog.StepSSLResponse, t, detail, nil, map[string]any{"byte": string(sent)})
	if !h.afterAction(statelog.StepSSLResponse, a) {
		return false, false
	}
	switch sent {
	case 'N':
		h.lastAnswer = "N"
		return true, false
	case 'S':
		if h.s.tlsBase == nil {
			h.commerror(StateSecureOpenServer, statelog.StepTLSHandshake, time.Now(), statelog.ClassSSL, "", "no certificate to accept TLS with", "the script answered 'S' with SSL off")
			return false, false
		}
	default:
		h.end(statelog.OutcomeDropped, nil)
		return false, false
	}
	var early []byte
	if extra > 0 {
		h.sess.UnencryptedAfterSSLRequest = extra
		early = make([]byte, extra)
		_, _ = io.ReadFull(h.raw, early)
	}
	if !h.tlsAccept(StateSecureOpenServer, h.raw, time.Now()) {
		return false, false
	}
	if extra > 0 && h.s.cfg.AcceptUnencryptedAfterSSLRequest {
		// The unfixed server's input buffer still held them: they are
		// read next, as if they had come through TLS.
		h.conn = &prefixConn{Conn: h.conn, prefix: early}
		extra = 0
	}
	if extra > 0 {
		h.fatal(StateProcessStartupPacket, time.Now(), "08P01", "received unencrypted data after SSL request",
			"This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.", "",
			statelog.ClassProtocol)
		return false, false
	}
	h.lastAnswer = "S"
	return true, true
}

// gssRequest answers GSSENCRequest: 'G' with a keytab (then
// secure_open_gssapi), else 'N'. It reports whether to go on and whether
// GSSAPI encryption is now up.
func (h *backend) gssRequest(began time.Time) (bool, bool) {
	h.sess.GSSRequest = true
	h.record(StateProcessStartupPacket, statelog.StepGSSRequest, began, "GSSENCRequest (8 bytes, code 80877104)", nil, nil)
	answer, why := byte('N'), "pgprobe does not do GSSAPI encryption (no keytab)"
	switch gss := h.s.cfg.GSS; {
	case gss == nil:
	case gss.NoEncryption:
		why = "GSSAPI encryption is off (gss authentication only)"
	case h.unix:
		why = "no GSSAPI encryption on a Unix socket"
	case h.tc != nil:
		why = "TLS is already in use (direct TLS)"
	default:
		answer, why = 'G', "GSSAPI encryption: the client's Kerberos context follows"
	}
	// Bytes the client sent with GSSENCRequest, before any answer (once
	// 'G' is out, the client's token may arrive at any time).
	extra := wire.PendingBytes(h.raw)
	t := time.Now()
	a, ok := h.write(statelog.StepGSSResponse, t, []byte{answer})
	if !ok {
		return false, false
	}
	sent := answer
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
	h.record(StateProcessStartupPacket, statelog.StepGSSResponse, t, detail, nil, map[string]any{"byte": string(sent)})
	if !h.afterAction(statelog.StepGSSResponse, a) {
		return false, false
	}
	switch {
	case sent == 'N':
		h.lastAnswer = "GN"
		return true, false
	case sent == 'G' && h.s.keytab != nil:
		if !h.secureOpenGSSAPI(extra) {
			return false, false
		}
		h.lastAnswer = "G"
		return true, true
	}
	h.end(statelog.OutcomeDropped, nil)
	return false, false
}

// startupOrderServer puts the parameters people look for first.
var startupOrderServer = []string{"user", "database", "application_name", "options", "replication", "client_encoding"}

func (h *backend) startupMessage(began time.Time, code uint32, body []byte) bool {
	major, minor := code>>16, code&0xffff
	version := fmt.Sprintf("%d.%d", major, minor)
	latest := uint32(3 << 16)
	if h.s.cfg.MaxProtocol == Protocol32 {
		latest |= 2
	}
	if major != 3 {
		h.record(StateProcessStartupPacket, statelog.StepStartup, began, "StartupMessage "+version, nil, map[string]any{"protocol_version": version})
		h.fatal(StateProcessStartupPacket, time.Now(), "0A000",
			fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.%d", major, minor, latest&0xffff), "", "", statelog.ClassProtocol)
		return false
	}
	h.protocol = min(code, latest)
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
	h.record(StateProcessStartupPacket, statelog.StepStartup, began, "StartupMessage "+version+": "+describeParams(params),
		nil, map[string]any{"protocol_version": version, "parameters": params})
	if !terminated {
		h.fatal(StateProcessStartupPacket, time.Now(), "08P01", "invalid startup packet layout: expected terminator as last byte", "", "", statelog.ClassProtocol)
		return false
	}
	h.sess.Startup.ProtocolOptions = pqOptions
	if !h.negotiate(minor, latest, pqOptions) {
		return false
	}
	h.user = params["user"]
	if h.user == "" {
		h.fatal(StateProcessStartupPacket, time.Now(), "28000", "no PostgreSQL user name specified in startup packet", "", "", statelog.ClassProtocol)
		return false
	}
	return true
}

// negotiate is the end of ProcessStartupPacket: a client that asked for a
// newer minor version than the server's newest, or for _pq_ options (the
// server knows none), gets NegotiateProtocolVersion with the version the
// session will speak and the options' names; a Script's message replaces it.
func (h *backend) negotiate(minor, latest uint32, pqOptions []string) bool {
	npv := h.script.NegotiateProtocolVersion
	if npv == nil && (minor > latest&0xffff || len(pqOptions) > 0) {
		sort.Strings(pqOptions)
		// PostgreSQL sends the whole version number (FrontendProtocol,
		// 0x00030000 for 3.0), not the bare minor version pgproto3's
		// field name suggests; libpq reads it so.
		npv = &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: h.protocol, UnrecognizedOptions: pqOptions}
	}
	h.sess.Startup.ProtocolGranted = fmt.Sprintf("%d.%d", h.protocol>>16, h.protocol&0xffff)
	if npv == nil {
		return true
	}
	v := npv.NewestMinorProtocol
	h.sess.Startup.Negotiated = true
	detail := fmt.Sprintf("NegotiateProtocolVersion: the server speaks up to %d.%d", v>>16, v&0xffff)
	if len(npv.UnrecognizedOptions) > 0 {
		detail += ", does not recognise " + strings.Join(npv.UnrecognizedOptions, ", ")
	}
	return h.emit(StateProcessStartupPacket, statelog.StepNegotiate, time.Now(), encode(npv), detail, nil,
		map[string]any{"version": fmt.Sprintf("%d.%d", v>>16, v&0xffff), "unrecognized_options": npv.UnrecognizedOptions})
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
