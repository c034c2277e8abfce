package probe

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// handleAuth is pg_fe_sendauth: answer one authentication request.
func (m *Machine) handleAuth(began time.Time, body []byte) {
	code, ok := authCode(body)
	if !ok {
		e := m.prefixed(newError(statelog.ClassProtocol, "received invalid authentication request"))
		m.record(statelog.StepAuthRequest, began, "", e, nil)
		m.bad(e)
		return
	}
	m.conn.authReqReceived = true
	if m.attempt.Auth == nil {
		m.attempt.Auth = &statelog.Auth{Mechanisms: []string{}}
	}
	name := wire.AuthReqName(code)
	if name == "" {
		name = fmt.Sprintf("authentication request %d", code)
	}
	data := body[4:]

	if m.cfg.Ping {
		// pg_isready's verdict is in: any authentication request means the
		// server accepts connections. Stop here, as PQping does in effect.
		// What SASL offered is kept (pgprobe scan reads SCRAM-SHA-256-PLUS).
		if code == wire.AuthReqSASL {
			if mechs, err := saslMechanisms(data); err == nil {
				m.attempt.Auth.Mechanisms = append([]string{}, mechs...)
			}
		}
		m.record(statelog.StepAuthRequest, began, name+": the server is accepting connections (a ping stops here)", nil, map[string]any{"code": code})
		m.pingStop()
		return
	}
	if reason := m.checkExpectedAreq(code); reason != "" {
		m.authFail(began, name, reason)
		return
	}

	switch code {
	case wire.AuthReqOK:
		m.authOK(began, name, code)
	case wire.AuthReqPassword, wire.AuthReqMD5:
		m.sendPassword(began, name, code, data)
	case wire.AuthReqSASL:
		m.startSASL(began, name, data)
	case wire.AuthReqSASLCont, wire.AuthReqSASLFin:
		m.continueSASL(began, name, code, data)
	case wire.AuthReqGSS, wire.AuthReqSSPI:
		m.gssAuth(began, name, code)
	case wire.AuthReqGSSCont:
		m.gssContinue(began, name, data)
	case wire.AuthReqKrb4:
		m.authFail(began, name, "Kerberos 4 authentication not supported")
	case wire.AuthReqKrb5:
		m.authFail(began, name, "Kerberos 5 authentication not supported")
	case wire.AuthReqCrypt:
		m.authFail(began, name, "Crypt authentication not supported")
	default:
		m.authFail(began, name, fmt.Sprintf("authentication method %d not supported", code))
	}
}

// checkExpectedAreq is fe-auth.c's check_expected_areq: require_auth and
// channel_binding=require are enforced when the request arrives, before any
// secret leaves the client. It returns libpq's message, or "".
func (m *Machine) checkExpectedAreq(code uint32) string {
	if raw := m.settings.Get("require_auth"); raw != "" {
		ra, err := conninfo.ParseRequireAuth(raw)
		if err != nil {
			return err.Error()
		}
		authRequired := !ra.Negated
		for _, meth := range ra.Methods {
			if meth == "none" {
				authRequired = ra.Negated
			}
		}
		var reason string
		switch code {
		case wire.AuthReqOK:
			// GSSAPI encryption authenticated both sides already.
			gssEnc := m.conn.gssConn != nil && ra.Allows("gss")
			if authRequired && !m.conn.clientFinishedAuth && !gssEnc {
				reason = "server did not complete authentication"
			}
		case wire.AuthReqPassword:
			if !ra.Allows("password") {
				reason = "server requested a cleartext password"
			}
		case wire.AuthReqMD5:
			if !ra.Allows("md5") {
				reason = "server requested a hashed password"
			}
		case wire.AuthReqGSS, wire.AuthReqGSSCont:
			if !ra.Allows("gss") {
				reason = "server requested GSSAPI authentication"
			}
		case wire.AuthReqSSPI:
			if !ra.Allows("sspi") {
				reason = "server requested SSPI authentication"
			}
		case wire.AuthReqSASL, wire.AuthReqSASLCont, wire.AuthReqSASLFin:
			// libpq 18: SASL is allowed while one of its mechanisms is;
			// pg_SASL_init then checks the one it picks (saslRequirement).
			if !ra.Allows("scram-sha-256") && !ra.Allows("oauth") {
				reason = "server requested SASL authentication"
			}
		default:
			reason = "server requested an unknown authentication type"
		}
		if reason != "" {
			return fmt.Sprintf("authentication method requirement \"%s\" failed: %s", raw, reason)
		}
	}
	if m.settings.Get("channel_binding") == "require" {
		switch code {
		case wire.AuthReqSASL, wire.AuthReqSASLCont, wire.AuthReqSASLFin:
		case wire.AuthReqOK:
			if m.conn.sasl == nil || !m.conn.sasl.Valid() || m.conn.saslMech != "SCRAM-SHA-256-PLUS" {
				return "channel binding required, but server authenticated client without channel binding"
			}
		default:
			return "channel binding required but not supported by server's authentication request"
		}
	}
	return ""
}

// authOK is AuthenticationOk: name the method that was used, and enforce
// sslcertmode=require (libpq checks it here, once the server is done).
func (m *Machine) authOK(began time.Time, name string, code uint32) {
	auth := m.attempt.Auth
	var clientTLS *statelog.TLS
	if m.conn.tlsSetup != nil {
		clientTLS = m.conn.tlsSetup.info
	}
	if auth.Method == "" && m.conn.gssConn != nil {
		// Over GSSAPI encryption a gss line asks for nothing more: the
		// context already proved who the client is.
		auth.Method = "gss"
		auth.Mechanisms = []string{"kerberos_v5"}
	}
	if auth.Method == "" {
		auth.Method = "trust"
		if clientTLS != nil && clientTLS.ClientCertSent {
			auth.Method = "cert"
		}
	}
	if m.settings.Get("sslcertmode") == "require" {
		switch {
		case clientTLS == nil || !clientTLS.ClientCertRequested:
			m.authFail(began, name, "server did not request an SSL certificate")
			return
		case !clientTLS.ClientCertSent:
			m.authFail(began, name, "server accepted connection without a valid SSL certificate")
			return
		}
	}
	detail := name + " (method " + auth.Method + ")"
	if m.conn.sasl != nil && !m.conn.sasl.Valid() {
		// libpq accepts this (unless require_auth or channel_binding=require
		// says otherwise), so the verdict stays; the record says it.
		detail += ": the SCRAM exchange was cut short, the server never proved it knows the password"
	}
	m.record(statelog.StepAuthOK, began, detail, nil, map[string]any{"code": code})
	m.status = ConnectionAuthOK
}

// sendPassword is pg_password_sendauth: the password in clear, or MD5
// hashed with the user name and the server's salt.
func (m *Machine) sendPassword(began time.Time, name string, code uint32, data []byte) {
	auth := m.attempt.Auth
	auth.Method = "password"
	if code == wire.AuthReqMD5 {
		auth.Method = "md5"
	}
	m.record(statelog.StepAuthRequest, began, name, nil, map[string]any{"code": code})
	pw, ok := m.needPassword(began)
	if !ok {
		return
	}
	sent := pw
	if code == wire.AuthReqMD5 {
		if len(data) < 4 {
			m.authFail(time.Now(), name, "received invalid authentication request")
			return
		}
		sent = wire.MD5Password(pw, m.settings.Get("user"), data[:4])
	}
	t := time.Now()
	if err := m.send(&pgproto3.PasswordMessage{Password: sent}); err != nil {
		m.sendFailed(statelog.StepAuthResponse, t, "could not send data to server: ", err)
		return
	}
	what := "cleartext password"
	if code == wire.AuthReqMD5 {
		what = "MD5 hash of the password with the server's salt"
	}
	m.conn.clientFinishedAuth = true
	m.record(statelog.StepAuthResponse, t, "PasswordMessage: "+what+" sent (not shown)", nil, nil)
}

// startSASL is pg_SASL_init: pick the mechanism, then send the
// client-first-message.
func (m *Machine) startSASL(began time.Time, name string, data []byte) {
	auth := m.attempt.Auth
	mechs, err := saslMechanisms(data)
	if err != nil {
		m.authFail(began, name, "received invalid authentication request")
		return
	}
	auth.Mechanisms = append([]string{}, mechs...)
	if m.conn.sasl != nil {
		m.authFail(began, name, "duplicate SASL authentication request")
		return
	}
	mech, refusal := m.chooseSASLMechanism(mechs)
	if refusal == "" {
		refusal = m.saslRequirement(mech)
	}
	if refusal != "" {
		m.authFail(began, name, refusal)
		return
	}
	if mech == mechOAuth {
		m.oauthBearer(began, name, mechs)
		return
	}
	auth.Method = strings.ToLower(mech)
	m.record(statelog.StepAuthRequest, began, name+": "+strings.Join(mechs, ", ")+" → "+mech, nil, map[string]any{"code": wire.AuthReqSASL, "mechanisms": mechs})
	pw, ok := m.needPassword(began)
	if !ok {
		return
	}
	conv, refusal := m.newSCRAMConversation(pw, mech)
	if refusal != "" {
		m.authFail(time.Now(), name, refusal)
		return
	}
	first, err := conv.Step("")
	if err != nil {
		m.authFail(time.Now(), name, "fe_sendauth: error in SASL authentication")
		return
	}
	m.conn.sasl, m.conn.saslMech = conv, mech
	t := time.Now()
	if err := m.send(&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(first)}); err != nil {
		m.sendFailed(statelog.StepAuthResponse, t, "could not send data to server: ", err)
		return
	}
	// The client bound the exchange to the channel from here on, whether
	// or not the server goes on to accept it.
	auth.ChannelBinding = mech == "SCRAM-SHA-256-PLUS"
	m.record(statelog.StepAuthResponse, t, "SASLInitialResponse: "+mech+" client-first-message", nil, nil)
}

// chooseSASLMechanism applies channel_binding to what the server offered:
// SCRAM-SHA-256-PLUS over TLS unless channel_binding=disable, else
// SCRAM-SHA-256. It returns the mechanism, or libpq's reason to refuse.
func (m *Machine) chooseSASLMechanism(mechs []string) (mech, refusal string) {
	cb := m.settings.Get("channel_binding")
	inTLS := m.conn.tlsConn != nil
	if cb == "require" && !inTLS {
		return "", "channel binding required, but SSL not in use"
	}
	// libpq's loop: -PLUS wins when usable, otherwise the first of
	// SCRAM-SHA-256 and OAUTHBEARER (libpq 18) in the server's order.
	for _, offered := range mechs {
		switch {
		case offered == "SCRAM-SHA-256-PLUS" && !inTLS:
			return "", "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection"
		case offered == "SCRAM-SHA-256-PLUS" && cb != "disable":
			mech = offered
		case (offered == "SCRAM-SHA-256" || offered == mechOAuth) && mech == "":
			mech = offered
		}
	}
	if mech == "" {
		return "", "none of the server's SASL authentication mechanisms are supported"
	}
	if cb == "require" && mech != "SCRAM-SHA-256-PLUS" {
		return "", "channel binding is required, but server did not offer an authentication method that supports channel binding"
	}
	return mech, ""
}

// newSCRAMConversation starts the client side of SCRAM: with channel
// binding for -PLUS, advertising that the client could bind when it is in
// TLS (the "y" flag), or without.
func (m *Machine) newSCRAMConversation(pw, mech string) (*scram.ClientConversation, string) {
	client, err := scram.SHA256.NewClient("", pw, "")
	if err != nil {
		// PostgreSQL uses the raw password when SASLprep fails; so do libpq and pgx.
		client, err = scram.SHA256.NewClientUnprepped("", pw, "")
		if err != nil {
			return nil, "fe_sendauth: error in SASL authentication"
		}
	}
	client = client.WithMinIterations(1)
	switch {
	case mech == "SCRAM-SHA-256-PLUS":
		cs := m.conn.tlsConn.ConnectionState()
		binding, err := scram.NewTLSServerEndpointBinding(&cs)
		if err != nil {
			return nil, "could not compute channel binding data: " + err.Error()
		}
		return client.NewConversationWithChannelBinding(binding), ""
	case m.conn.tlsConn != nil && m.settings.Get("channel_binding") != "disable":
		return client.NewConversationAdvertisingChannelBinding(), ""
	default:
		return client.NewConversation(), ""
	}
}

// continueSASL is pg_SASL_continue: AuthenticationSASLContinue gets the
// client-final-message; AuthenticationSASLFinal's server signature is
// checked.
func (m *Machine) continueSASL(began time.Time, name string, code uint32, data []byte) {
	auth := m.attempt.Auth
	if m.conn.sasl == nil {
		m.authFail(began, name, "fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL")
		return
	}
	resp, err := m.conn.sasl.Step(string(data))
	if code == wire.AuthReqSASLCont {
		if it := scramIterations(string(data)); it > 0 {
			auth.Iterations = it
		}
	}
	if err != nil {
		m.authFail(began, name, scramError(err))
		return
	}
	if code == wire.AuthReqSASLFin {
		m.conn.clientFinishedAuth = true
		if auth.Method == "scram-sha-256-plus" {
			auth.ChannelBindingVerified = true
		}
		m.record(statelog.StepAuthRequest, began, name+": the server's signature is valid, it knows the password", nil, map[string]any{"code": code})
		return
	}
	m.record(statelog.StepAuthRequest, began, fmt.Sprintf("%s: salt and %d iterations", name, auth.Iterations), nil, map[string]any{"code": code, "iterations": auth.Iterations})
	t := time.Now()
	if err := m.send(&pgproto3.SASLResponse{Data: []byte(resp)}); err != nil {
		m.sendFailed(statelog.StepAuthResponse, t, "could not send data to server: ", err)
		return
	}
	m.record(statelog.StepAuthResponse, t, "SASLResponse: client-final-message with proof (not shown)", nil, nil)
}

// needPassword returns the password for this host, or fails as libpq does.
func (m *Machine) needPassword(began time.Time) (string, bool) {
	m.password = m.hosts[m.whichHost].Password
	if m.password.Value == "" {
		e := m.prefixed(newError(statelog.ClassAuth, "fe_sendauth: no password supplied"))
		m.record(statelog.StepAuthResponse, began, "the server wants a password and none was given (password=, PGPASSWORD, .pgpass or a prompt)", e, nil)
		m.bad(e)
		return "", false
	}
	m.attempt.Auth.PasswordSource = string(m.password.Source)
	if m.password.Origin == PromptOrigin {
		m.attempt.Auth.PasswordSource = "prompt"
	}
	return m.password.Value, true
}

// authFail ends the probe with an authentication failure.
func (m *Machine) authFail(began time.Time, detail, msg string) {
	e := m.prefixed(newError(statelog.ClassAuth, msg))
	m.record(statelog.StepAuthRequest, began, detail, e, nil)
	m.bad(e)
}

// pingStop ends a ping at the first authentication request. It closes
// the socket without Terminate, as libpq does on every path but an
// established connection (sendTerminateConn: the protocol does not allow
// Terminate during the startup phase): a Terminate here makes the server
// log "FATAL: expected password response, got message type 88", while a
// client that just hangs up while asked for a password is not logged.
func (m *Machine) pingStop() {
	t := time.Now()
	m.closeConn()
	m.record(statelog.StepClose, t, "connection closed before authenticating (no Terminate during startup, as libpq)", nil, nil)
	m.status = ConnectionBad
	m.finish(nil)
}

// scramIterations reads i= from a server-first-message, for the record.
func scramIterations(serverFirst string) int {
	for _, f := range strings.Split(serverFirst, ",") {
		if strings.HasPrefix(f, "i=") {
			n := 0
			for _, c := range f[2:] {
				if c < '0' || c > '9' {
					return 0
				}
				n = n*10 + int(c-'0')
				if n > 1<<30 {
					return 0
				}
			}
			return n
		}
	}
	return 0
}

// scramError words a failed SCRAM step as libpq's fe-auth-scram.c does.
func scramError(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "nonce"):
		return "invalid SCRAM response (nonce mismatch)"
	case strings.Contains(s, "iteration"):
		return "malformed SCRAM message (invalid iteration count)"
	case strings.Contains(s, "server validation failed"):
		return "incorrect server signature"
	case strings.Contains(s, "server error"):
		return "error received from server in SCRAM exchange: " + strings.TrimPrefix(s, "server error: ")
	}
	return "malformed SCRAM message (" + s + ")"
}
