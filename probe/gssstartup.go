package probe

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// startGSS is CONNECTION_MADE's GSSAPI branch: send GSSENCRequest.
func (m *Machine) startGSS() {
	began := time.Now()
	if err := m.send(&pgproto3.GSSEncRequest{}); err != nil {
		m.sendFailed(statelog.StepGSSRequest, began, "could not send GSSAPI negotiation packet: ", err)
		return
	}
	m.attempt.GSSResponse = nil
	m.attempt.GSSEncryption = "GSSENCRequest sent: a Kerberos credential cache exists (" + m.krb.cacheName + ")"
	m.record(statelog.StepGSSRequest, began, "GSSENCRequest (8 bytes, code 80877104)", nil, nil)
	m.conn.gssInUse = false
	m.status = ConnectionGSSStartup
}

// stepGSSStartup is CONNECTION_GSS_STARTUP: the server's one-byte answer
// to GSSENCRequest, then (on 'G') the GSSAPI handshake.
func (m *Machine) stepGSSStartup() {
	if !m.conn.gssInUse {
		m.readGSSResponse()
		return
	}
	m.gssHandshake()
}

// readGSSResponse reads 'G', 'N' or 'E', exactly one byte.
func (m *Machine) readGSSResponse() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	var b [1]byte
	if _, err := m.conn.raw.Read(b[:]); err != nil {
		if wire.IsTimeout(err) {
			m.timeoutWhile(statelog.StepGSSResponse, began, "no answer to GSSENCRequest")
			return
		}
		class, msg := readError(err)
		e := m.prefixed(newError(class, msg))
		e.Errno = wire.ErrnoName(err)
		m.record(statelog.StepGSSResponse, began, "", e, nil)
		m.bad(e)
		return
	}
	m.attempt.GSSResponse = statelog.Str(string(b[0]))
	data := map[string]any{"byte": string(b[0])}
	switch b[0] {
	case 'G':
		m.record(statelog.StepGSSResponse, began, "'G': the server will do GSSAPI encryption", nil, data)
		m.conn.gssInUse = true
	case 'N':
		m.record(statelog.StepGSSResponse, began, "'N': the server does not do GSSAPI encryption (no keytab, or built without GSSAPI)", nil, data)
		m.attempt.GSSEncryption = "refused by the server ('N')"
		m.encryptionNegotiationFailed("server doesn't support GSSAPI encryption, but it was required")
	case 'E':
		// A server older than 12 takes GSSENCRequest for an unknown protocol
		// version; libpq does not read what follows and moves on.
		e := m.prefixed(newError(statelog.ClassSSL, "server sent an error response during GSS encryption exchange"))
		e.Untrusted = m.peekUntrusted()
		m.record(statelog.StepGSSResponse, began, "'E': an error before any encryption (a server older than PostgreSQL 12?)", e, data)
		m.connectionFailedEnc(e, "the server answered GSSENCRequest with an error")
	default:
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("received invalid response to GSSAPI negotiation: %c", b[0])))
		m.record(statelog.StepGSSResponse, began, fmt.Sprintf("byte 0x%02x is not G, N or E: is this a PostgreSQL server?", b[0]), e, data)
		m.bad(e)
	}
}

// gssHandshake is pqsecure_open_gss: gss_init_sec_context's tokens, each
// sent and received with a 4-byte length, until the context is complete;
// then the session is encrypted and CONNECTION_MADE sends the startup
// packet inside it.
func (m *Machine) gssHandshake() {
	began := time.Now()
	if extra := wire.PendingBytes(m.conn.raw); extra > 0 {
		e := m.prefixed(newError(statelog.ClassProtocol, "received unencrypted data after GSSAPI encryption response"))
		m.record(statelog.StepGSSHandshake, began, fmt.Sprintf("%d bytes arrived with 'G'", extra), e, nil)
		m.bad(e)
		return
	}
	srvname, host := m.gssService()
	flags := m.gssFlags(true)
	ctx, cancel := m.ioContext()
	g, token, kerr := initContext(ctx, m.krb, srvname, host, flags)
	cancel()
	rec := m.gssRecord(g.service, flags)
	m.conn.gss = g
	if kerr != nil {
		m.gssEncFailed(began, gssErrorText("could not initiate GSSAPI security context", kerr), kerr, "")
		return
	}
	rec.ServiceTicketExpires = timePtr(g.ticketEnd)
	m.setDeadline()
	m.conn.wroteSinceRead = true
	if _, err := m.conn.raw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(token)))); err == nil {
		_, err = m.conn.raw.Write(token)
	}
	m.awaitReply()
	reply, serverErr, err := m.readGSSPacket()
	switch {
	case err != nil && wire.IsTimeout(err):
		m.timeoutWhile(statelog.StepGSSHandshake, began, "no answer to the GSSAPI token")
		return
	case err != nil:
		// The server gave up on the context without a word (its log says
		// why: "could not accept GSSAPI security context"); libpq adds no
		// text of its own and moves on to the next method.
		m.gssEncFailed(began, "server closed the connection during the GSSAPI handshake (the server could not accept the security context)", &krbError{Reason: krbNotInKeytab}, "the server's log says why: \"could not accept GSSAPI security context\"")
		return
	case serverErr != "":
		m.gssEncFailed(began, serverErr, &krbError{Reason: krbOther}, "")
		return
	}
	if kerr := g.step(reply); kerr != nil {
		m.gssEncFailed(began, gssErrorText("could not initiate GSSAPI security context", kerr), kerr, "")
		return
	}
	rec.Established, rec.Encrypted = true, true
	m.conn.gssConn = &gssConn{Conn: m.conn.raw, ctx: g}
	m.conn.msgs = newMsgConn(m.conn.gssConn)
	m.attempt.GSSEncryption = "established: the session is encrypted with GSSAPI (Kerberos)"
	detail := fmt.Sprintf("Kerberos context with %s as %s: mutual authentication done, session encrypted (sealed wrap tokens)", g.service, m.krb.principal())
	m.record(statelog.StepGSSHandshake, began, detail, nil, map[string]any{"service_principal": g.service, "client_principal": m.krb.principal()})
	m.status = ConnectionMade
}

// readGSSPacket reads one handshake packet: a 4-byte length and a token,
// or an ErrorResponse the server sent in clear instead (libpq shows its
// text).
func (m *Machine) readGSSPacket() (token []byte, serverErr string, err error) {
	var lb [4]byte
	if _, err := io.ReadFull(m.conn.raw, lb[:1]); err != nil {
		return nil, "", err
	}
	if lb[0] == 'E' {
		buf := make([]byte, 4096)
		n, _ := io.ReadAtLeast(m.conn.raw, buf, 4)
		body := buf[:n]
		var er pgproto3.ErrorResponse
		if n > 4 && er.Decode(body[4:]) == nil && er.Message != "" {
			return nil, m.serverError(&er).Message, nil
		}
		return nil, m.prefixed(newError(statelog.ClassServer, strings.TrimRight(string(body), "\x00\n"))).Message, nil
	}
	if _, err := io.ReadFull(m.conn.raw, lb[1:]); err != nil {
		return nil, "", err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > gssMaxPacket-4 {
		return nil, fmt.Sprintf("oversize GSSAPI packet sent by the server (%d > %d)", n, gssMaxPacket-4), nil
	}
	token = make([]byte, n)
	if _, err = io.ReadFull(m.conn.raw, token); err == io.ErrUnexpectedEOF {
		err = io.EOF // the server went away in the middle of the packet
	}
	return token, "", err
}

// gssEncFailed ends the GSSAPI encryption attempt: CONNECTION_FAILED, so
// gssencmode=prefer goes on with SSL or plaintext on a new connection.
func (m *Machine) gssEncFailed(began time.Time, msg string, kerr *krbError, detail string) {
	e := m.prefixed(newError(statelog.ClassAuth, msg))
	e.Cause = kerr.Reason
	m.attempt.GSSEncryption = "failed: " + msg
	m.record(statelog.StepGSSHandshake, began, detail, e, nil)
	m.connectionFailedEnc(e, "GSSAPI encryption failed")
}

// connectionFailedEnc is CONNECTION_FAILED with the reason the next
// attempt is made.
func (m *Machine) connectionFailedEnc(e *statelog.Error, why string) {
	if m.whichEnc+1 < len(m.allowedEnc) {
		m.attempt.Error, m.lastErr = e, e
		m.closeConn()
		m.whichEnc++
		m.nextReason = fmt.Sprintf("gssencmode=%s: %s, retrying with %s on a new connection", m.settings.Get("gssencmode"), why, m.currentEnc())
		m.status = ConnectionNeeded
		return
	}
	m.connectionFailed(e)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
