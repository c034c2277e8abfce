package scan

import (
	"context"
	"crypto/x509"
	"slices"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// Encryptions of a ScanAuth.
const (
	encSSL       = "ssl"
	encPlaintext = "plaintext"
)

// pingSettings are a ping's settings for encryption enc: libpq's own
// state machine (probe) stops at the first authentication request, so no
// password ever leaves; max_protocol_version=3.2 asks for protocol 3.2.
// noRoot is an sslrootcert that does not exist, so that sslmode=require
// does not verify the chain (a root.crt in the home directory would make
// libpq verify it): here the question is pg_hba.conf's, not the
// certificate's.
func pingSettings(enc, noRoot string) map[string]string {
	o := map[string]string{"gssencmode": "disable", "sslnegotiation": "postgres",
		"min_protocol_version": "3.0", "max_protocol_version": "3.2"}
	if enc == encSSL {
		o["sslmode"], o["sslrootcert"] = "require", noRoot
	} else {
		o["sslmode"] = "disable"
	}
	return o
}

// authTry is one user's ping over one encryption.
type authTry struct {
	auth     statelog.ScanAuth
	protocol string // the protocol version the server granted, "" when it did not answer
	answered bool   // the server answered the StartupMessage
}

// authPing reads user's first authentication request over enc.
func (s *scanner) authPing(ctx context.Context, user, enc string) authTry {
	l := probe.Probe(ctx, probe.Request{Input: s.t.input(user, pingSettings(enc, s.noRoot)), Ping: true, Timeout: s.opts.Timeout})
	s.counted(l)
	out := authTry{auth: statelog.ScanAuth{User: user, Encryption: enc, Mechanisms: []string{}}}
	if l.Error != nil {
		out.auth.Error = l.Error.Message
	}
	if len(l.Attempts) == 0 {
		return out
	}
	a := l.Attempts[len(l.Attempts)-1]
	if a.Protocol != nil {
		out.protocol = a.Protocol.Granted
	}
	for _, e := range a.Events {
		switch e.Step {
		case statelog.StepAuthRequest:
			out.answered = true
			code, _ := e.Data["code"].(uint32)
			var mechs []string
			if a.Auth != nil {
				mechs = a.Auth.Mechanisms
			}
			clientCert := a.TLS != nil && a.TLS.ClientCertSent
			out.auth.Method = methodName(code, mechs, clientCert)
			out.auth.Mechanisms = append(out.auth.Mechanisms, mechs...)
		case statelog.StepErrorResponse, statelog.StepNegotiate:
			out.answered = true
		}
	}
	return out
}

// methodName names the method as pg_hba.conf does, from the request code.
func methodName(code uint32, mechs []string, clientCert bool) string {
	switch code {
	case wire.AuthReqOK:
		if clientCert {
			return "cert" // or trust: the certificate may have been all it took
		}
		return "trust"
	case wire.AuthReqPassword:
		return "password"
	case wire.AuthReqMD5:
		return "md5"
	case wire.AuthReqGSS:
		return "gss"
	case wire.AuthReqSSPI:
		return "sspi"
	case wire.AuthReqSASL:
		switch {
		case slices.Contains(mechs, "SCRAM-SHA-256"), slices.Contains(mechs, "SCRAM-SHA-256-PLUS"):
			return "scram-sha-256"
		case slices.Contains(mechs, "OAUTHBEARER"):
			return "oauth"
		}
		return "sasl"
	}
	return wire.AuthReqName(code)
}

// serverVersion logs in as a user the server trusts, with require_auth=none
// so that libpq refuses to go on if a password is asked after all, and
// reads server_version. Nothing is queried.
func (s *scanner) serverVersion(ctx context.Context, user, enc string) string {
	o := pingSettings(enc, s.noRoot)
	o["require_auth"] = "none"
	if s.t.dbname == "" {
		// The user's own database (libpq's default) may not exist, and
		// the server tells its version only once a database is open.
		o["dbname"] = "postgres"
	}
	l := probe.Probe(ctx, probe.Request{Input: s.t.input(user, o), Timeout: s.opts.Timeout})
	s.counted(l)
	for _, a := range l.Attempts {
		if a.Server != nil && a.Server.Parameters["server_version"] != "" {
			return a.Server.Parameters["server_version"]
		}
	}
	return ""
}

// verifyChain pings with sslmode=verify-ca against sslrootcert, so that
// the chain is judged by libpq's rules (a root file's intermediates, its
// CRLs), or checks it against the system's store when there is no
// sslrootcert (libpq allows sslrootcert=system with verify-full only,
// which would mix the name check in).
func (s *scanner) verifyChain(ctx context.Context, chain []*x509.Certificate) (verified bool, with, verifyErr string) {
	with = s.t.rootFile
	if with == "" || with == "system" {
		return systemVerify(chain)
	}
	o := pingSettings(encSSL, s.noRoot)
	o["sslmode"], o["sslrootcert"] = "verify-ca", with
	l := probe.Probe(ctx, probe.Request{Input: s.t.input(s.t.user, o), Ping: true, Timeout: s.opts.Timeout})
	s.counted(l)
	for _, a := range l.Attempts {
		if a.TLS != nil && len(a.TLS.PeerCertificates) > 0 {
			if a.TLS.Verified {
				return true, with, ""
			}
			if a.TLS.VerifyError != "" {
				return false, with, a.TLS.VerifyError
			}
		}
	}
	if l.Error != nil {
		return false, with, l.Error.Message
	}
	return false, with, "the handshake did not get as far as the certificate"
}

// counted adds a probe's connections to the scan's count.
func (s *scanner) counted(l *statelog.Log) {
	for _, a := range l.Attempts {
		if a.LocalAddr != "" {
			s.count()
		}
	}
}

// now is the scan's clock.
func (s *scanner) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// systemVerify checks chain against the system's trusted roots, as
// OpenSSL's default verify paths do for sslrootcert=system.
func systemVerify(chain []*x509.Certificate) (bool, string, string) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return false, "system", "could not load system root certificate paths: " + err.Error()
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return false, "system", err.Error()
	}
	return true, "system", ""
}
