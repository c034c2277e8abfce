package probe

import (
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// gssAuth is pg_GSS_startup: AuthenticationGSS, and AuthenticationSSPI
// too, which libpq built without SSPI (every Unix build) answers with
// GSSAPI and the Kerberos mechanism (fe-auth.c: "no native SSPI, so use
// GSSAPI library for it"). A Windows server's SSPI "Negotiate" package
// accepts the raw Kerberos token.
func (m *Machine) gssAuth(began time.Time, name string, code uint32) {
	auth := m.attempt.Auth
	auth.Method = "gss"
	if code == wire.AuthReqSSPI {
		auth.Method = "sspi"
	}
	auth.Mechanisms = []string{"kerberos_v5"}
	if m.conn.gss != nil && !m.conn.gssAuthDone() {
		m.authFail(began, name, "duplicate GSS authentication request")
		return
	}
	srvname, host := m.gssService()
	if host == "" {
		m.authFail(began, name, "host name must be specified")
		return
	}
	m.record(statelog.StepAuthRequest, began, name, nil, map[string]any{"code": code})
	t := time.Now()
	flags := m.gssFlags(false)
	creds, kerr := loadCreds(m.cfg.Getenv)
	m.krb = creds
	if creds.cfg == nil {
		// The service principal's realm is named even without
		// credentials, for the record and libpq's message.
		creds.cfg, creds.cfgNote = krb5Config(m.cfg.Getenv)
	}
	g := &gssContext{service: srvname + "/" + host + "@" + creds.serviceRealm(host), flags: flags}
	var token []byte
	if kerr == nil {
		ctx, cancel := m.ioContext()
		g, token, kerr = initContext(ctx, creds, srvname, host, flags)
		cancel()
	}
	rec := m.gssRecord(g.service, flags)
	rec.ServiceTicketExpires = timePtr(g.ticketEnd)
	if kerr != nil {
		m.gssAuthFail(t, kerr)
		return
	}
	m.conn.gss = g
	if err := m.send(&pgproto3.GSSResponse{Data: token}); err != nil {
		m.sendFailed(statelog.StepAuthResponse, t, "could not send data to server: ", err)
		return
	}
	m.record(statelog.StepAuthResponse, t, "GSSResponse: Kerberos AP-REQ for "+g.service+" (ticket not shown)", nil, map[string]any{"service_principal": g.service})
}

// gssContinue is pg_GSS_continue with AuthenticationGSSContinue's token:
// the server's AP-REP (mutual authentication) or its KRB-ERROR.
func (m *Machine) gssContinue(began time.Time, name string, data []byte) {
	g := m.conn.gss
	if g == nil || g.established {
		m.authFail(began, name, "GSSAPI continuation error: no GSSAPI authentication in progress")
		return
	}
	if kerr := g.step(data); kerr != nil {
		m.gssAuthFail(began, kerr)
		return
	}
	m.conn.clientFinishedAuth = true
	if m.attempt.GSS != nil {
		m.attempt.GSS.Established = true
	}
	m.record(statelog.StepAuthRequest, began, name+": the server's AP-REP proves it holds the service key (mutual authentication)", nil, map[string]any{"code": wire.AuthReqGSSCont})
}

// gssAuthFail is pg_GSS_error("GSSAPI continuation error"): no fallback.
func (m *Machine) gssAuthFail(began time.Time, kerr *krbError) {
	e := m.prefixed(newError(statelog.ClassAuth, gssErrorText("GSSAPI continuation error", kerr)))
	e.Cause = kerr.Reason
	m.record(statelog.StepAuthResponse, began, "", e, nil)
	m.bad(e)
}

// gssAuthDone: the context belongs to GSSAPI encryption, not to an
// earlier authentication request.
func (c *connState) gssAuthDone() bool { return c.gssConn != nil }
