package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/gsswrap"
	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// secureOpenGSSAPI is be-secure-gssapi.c's secure_open_gssapi after 'G':
// the client's initial context token in a length-framed packet, the
// AP-REP back in one, then every byte of the session in sealed wrap
// tokens. PostgreSQL logs why it could not accept the context and closes
// the connection without a word (COMMERROR); so does this server.
// extra counts the bytes that came with GSSENCRequest, before 'G'.
func (h *backend) secureOpenGSSAPI(extra int) bool {
	began := time.Now()
	rec := &statelog.SessionGSS{Encryption: true}
	h.sess.GSS = rec
	if extra > 0 {
		h.fatal(StateProcessStartupPacket, began, "08P01", "received unencrypted data after GSSAPI encryption request",
			"This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.", "", statelog.ClassProtocol)
		return false
	}
	token, ok := h.readGSSPacket(began)
	if !ok {
		return false
	}
	g, reply, rej := h.s.acceptContext(token, rec)
	h.recordToken(began, rec)
	if rej != nil {
		rec.Error = rej.Minor
		h.commerror(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, time.Now(), statelog.ClassAuth, "", "could not accept GSSAPI security context", rej.Minor)
		return false
	}
	t := time.Now()
	if len(reply) > 0 {
		rec.ReplyBytes = len(reply)
		a, ok := h.write(statelog.StepGSSHandshake, t, append(binary.BigEndian.AppendUint32(nil, uint32(len(reply))), reply...))
		if !ok {
			return false
		}
		detail := fmt.Sprintf("AP-REP: %d bytes (mutual authentication, an acceptor subkey for the wrap tokens)", len(reply))
		if note := a.describe(); note != "" {
			detail += " (" + note + ")"
		}
		h.record(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, t, detail, nil, map[string]any{"token_bytes": len(reply)})
		if !h.afterAction(statelog.StepGSSHandshake, a) {
			return false
		}
	}
	rec.Established = true
	h.gss = g
	h.conn = &gssConn{Conn: h.raw, g: g, rec: rec, fault: h.script.GSSFault, onFault: func(what string) {
		h.record(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, time.Now(), what, nil, nil)
	}}
	h.record(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, time.Now(), "GSSAPI encryption is on: every message from now on travels in sealed wrap tokens", nil, nil)
	return true
}

// readGSSPacket reads one handshake packet: a 4-byte length and a token.
func (h *backend) readGSSPacket(began time.Time) ([]byte, bool) {
	h.deadline()
	var lb [4]byte
	if _, err := io.ReadFull(h.raw, lb[:]); err != nil {
		h.readFailed(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, began, err, "after 'G' to its GSSENCRequest, without a context token",
			"the client could not make a Kerberos context (libpq: \"could not initiate GSSAPI security context\": no ticket for the service, wrong krbsrvname?) and, with gssencmode=prefer, tries again without GSS")
		return nil, false
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > gsswrap.MaxPacket-4 {
		h.commerror(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, began, statelog.ClassProtocol, "08P01",
			fmt.Sprintf("oversize GSSAPI packet sent by the client (%d > %d)", n, gsswrap.MaxPacket-4), "")
		return nil, false
	}
	tok := make([]byte, n)
	if _, err := io.ReadFull(h.raw, tok); err != nil {
		h.readFailed(StateSecureOpenGSSAPI, statelog.StepGSSHandshake, began, err, "in the middle of its GSSAPI context token", "")
		return nil, false
	}
	return tok, true
}

// recordToken records what the client's initial context token showed.
func (h *backend) recordToken(began time.Time, rec *statelog.SessionGSS) {
	what := fmt.Sprintf("initial context token: %d bytes, %s", rec.TokenBytes, rec.Mechanism)
	if rec.ServicePrincipal != "" {
		what += ", AP-REQ for " + rec.ServicePrincipal
	}
	if rec.ClientPrincipal != "" {
		what += " from " + rec.ClientPrincipal
	}
	if len(rec.Flags) > 0 {
		what += " (" + strings.Join(rec.Flags, ", ") + ")"
	}
	what += "; ticket not shown"
	data := map[string]any{"token_bytes": rec.TokenBytes, "mechanism": rec.Mechanism}
	if rec.ClientPrincipal != "" {
		data["client_principal"] = rec.ClientPrincipal
	}
	if rec.ServicePrincipal != "" {
		data["service_principal"] = rec.ServicePrincipal
	}
	state := StateSecureOpenGSSAPI
	if !rec.Encryption {
		state = StateClientAuthentication
	}
	step := statelog.StepGSSHandshake
	if !rec.Encryption {
		step = statelog.StepAuthResponse
	}
	h.record(state, step, began, what, nil, data)
}

// gssAuth is pg_GSS_recvauth: AuthenticationGSS, the client's
// GSSResponse, AuthenticationGSSContinue with the AP-REP, then the
// principal checked against the user name (pg_GSS_checkauth). Over GSSAPI
// encryption the context is there already: no request, only the check,
// as PostgreSQL does.
func (h *backend) gssAuth(auth *statelog.SessionAuth) bool {
	auth.Mechanisms = []string{"kerberos_v5"}
	if h.gss != nil {
		return h.gssCheckAuth(auth, "the GSSAPI encryption context authenticated "+h.gss.client+": no AuthenticationGSS")
	}
	began := time.Now()
	if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, began, encode(&pgproto3.AuthenticationGSS{}), "AuthenticationGSS", nil, map[string]any{"code": wire.AuthReqGSS}) {
		return false
	}
	t := time.Now()
	token, ok := h.readAuthMessage(t, "AuthenticationGSS", "GSS")
	if !ok {
		return false
	}
	rec := &statelog.SessionGSS{}
	h.sess.GSS = rec
	g, reply, rej := h.s.acceptContext(token, rec)
	h.recordToken(t, rec)
	if rej != nil {
		rec.Error = rej.Minor
		if tok := errorToken(rej, rec.ServicePrincipal); tok != nil {
			if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, time.Now(), encode(&pgproto3.AuthenticationGSSContinue{Data: tok}),
				fmt.Sprintf("AuthenticationGSSContinue: a KRB-ERROR (%d bytes): %s", len(tok), rej.Minor), nil, map[string]any{"code": wire.AuthReqGSSCont}) {
				return false
			}
		}
		h.fatal(StateClientAuthentication, time.Now(), "28000", fmt.Sprintf("GSSAPI authentication failed for user \"%s\"", h.user), "", "", statelog.ClassAuth)
		return false
	}
	if len(reply) > 0 {
		rec.ReplyBytes = len(reply)
		if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, time.Now(), encode(&pgproto3.AuthenticationGSSContinue{Data: reply}),
			fmt.Sprintf("AuthenticationGSSContinue: AP-REP, %d bytes (mutual authentication)", len(reply)), nil, map[string]any{"code": wire.AuthReqGSSCont, "token_bytes": len(reply)}) {
			return false
		}
	}
	rec.Established = true
	h.gss = g
	return h.gssCheckAuth(auth, "the Kerberos context authenticated "+g.client)
}

// gssCheckAuth is pg_GSS_checkauth: the principal (without its realm,
// unless IncludeRealm) must be the user name.
func (h *backend) gssCheckAuth(auth *statelog.SessionAuth, note string) bool {
	name := h.gss.client
	if !h.s.cfg.GSS.IncludeRealm {
		name, _, _ = strings.Cut(name, "@")
	}
	if name != h.user {
		h.record(StateClientAuthentication, statelog.StepAuthResponse, time.Now(), fmt.Sprintf("the principal %s is not the user %q", h.gss.client, h.user), nil, nil)
		h.fatal(StateClientAuthentication, time.Now(), "28000", fmt.Sprintf("GSSAPI authentication failed for user \"%s\"", h.user),
			"", "", statelog.ClassAuth)
		return false
	}
	return h.authOK(auth, note)
}
