package probe

import (
	"fmt"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// GSSAPI encryption as libpq 17/18 built with GSSAPI (the distributions')
// decides it in init_allowed_encryption_methods and
// select_next_encryption_method, before it connects: over a Unix socket
// never; over TCP only when pg_GSS_have_cred_cache finds Kerberos
// credentials (gss_acquire_cred). Then GSS comes first, before SSL and
// plaintext.

// The messages of libpq 17 and 18 (libpq 15 says "GSSAPI encryption
// required but was impossible (possibly no credential cache, no server
// support, or using a local socket)" after connecting).
const (
	gssLocalSocket = "GSSAPI encryption required but it is not supported over a local socket"
	gssNoCCache    = "GSSAPI encryption required but no credential cache"
)

// gssEncryption decides GSSAPI encryption for address a, as libpq does
// before connecting to it, and puts GSS first in m.allowedEnc when it is
// to be tried (alone with gssencmode=require). It returns the error that
// ends the probe, if any.
func (m *Machine) gssEncryption(a address) *statelog.Error {
	mode := m.settings.Get("gssencmode")
	if mode == "disable" {
		return nil
	}
	if a.network == "unix" {
		if mode == "require" {
			return newError(statelog.ClassSSL, gssLocalSocket)
		}
		return nil
	}
	creds, kerr := loadCreds(m.cfg.Getenv)
	m.krb = creds
	if kerr != nil {
		if mode == "require" {
			m.attempt.GSSEncryption = "no Kerberos credentials (" + kerr.Minor + "): libpq cannot request GSSAPI encryption"
			e := newError(statelog.ClassSSL, gssNoCCache)
			e.Hint = "get a Kerberos ticket first: kinit"
			return e
		}
		m.attempt.GSSEncryption = "gssencmode=prefer: no Kerberos credential cache (" + creds.cacheName + "), so no GSSENCRequest, as libpq"
		return nil
	}
	if creds.cfgNote != "" {
		m.warnOnce("krb5.conf: " + creds.cfgNote)
	}
	if mode == "require" {
		m.allowedEnc = []encMethod{encGSS}
		return nil
	}
	m.allowedEnc = append([]encMethod{encGSS}, m.allowedEnc...)
	return nil
}

// gssRecord starts the record of a GSS-API context for this attempt.
func (m *Machine) gssRecord(service string, flags uint32) *statelog.GSS {
	g := &statelog.GSS{CredentialCache: m.krb.cacheName, ServicePrincipal: service,
		Mechanism: "kerberos_v5", MechanismOID: mechKerberos, Flags: gssFlagNames(flags)}
	if m.krb.ccache != nil {
		g.ClientPrincipal = m.krb.principal()
	}
	if t := m.krb.tgt; t != nil {
		end := t.EndTime.UTC()
		g.TicketExpires = &end
		g.TicketHoursLeft = float64(int(time.Until(end).Hours()*10)) / 10
	}
	if m.settings.Get("gssdelegation") == "1" {
		g.Delegation = true
		g.Note = "gssdelegation=1: libpq would forward the credentials if the ticket-granting ticket is forwardable; pgprobe does not forward them"
	}
	m.attempt.GSS = g
	return g
}

// gssFlags are the context flags libpq asks for: GSSAPI encryption wants
// confidentiality and ordering, authentication only mutual authentication
// (fe-secure-gssapi.c, fe-auth.c), each with GSS_C_DELEG_FLAG when
// gssdelegation=1.
func (m *Machine) gssFlags(encrypt bool) uint32 {
	f := uint32(gssMutualFlag)
	if encrypt {
		f |= gssReplayFlag | gssSequenceFlag | gssConfFlag | gssIntegFlag
	}
	if m.settings.Get("gssdelegation") == "1" {
		f |= gssDelegFlag
	}
	return f
}

// gssService is the service principal libpq asks for: krbsrvname and the
// host name (never hostaddr) — a CNAME or an address names another one.
func (m *Machine) gssService() (srvname, host string) {
	srvname = m.settings.Get("krbsrvname")
	if srvname == "" {
		srvname = "postgres"
	}
	return srvname, m.hosts[m.whichHost].Host
}

// gssErrorText is pg_GSS_error's text: libpq's frame, the major status,
// the minor one.
func gssErrorText(frame string, e *krbError) string {
	return fmt.Sprintf("%s: %s", frame, e.Error())
}

// warnOnce adds a warning to the record unless it is there already.
func (m *Machine) warnOnce(w string) {
	for _, x := range m.log.Warnings {
		if x == w {
			return
		}
	}
	m.log.Warnings = append(m.log.Warnings, w)
}
