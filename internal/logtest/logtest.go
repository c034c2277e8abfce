// Package logtest holds hand-written records of probes, with the clock and
// the shapes of real ones, for the tests of the packages that diagnose and
// render records.
package logtest

import (
	"fmt"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// T0 is when every record here starts.
var T0 = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)

// builder makes hand-written logs with a clock that advances by each
// step's duration, so elapsed times add up as in a real probe.
type builder struct {
	l       *statelog.Log
	elapsed float64
}

func newLog(target string) *builder {
	return &builder{l: &statelog.Log{Schema: statelog.Schema, Target: target, StartedAt: T0, Attempts: []*statelog.Attempt{}}}
}

func (b *builder) attempt(a *statelog.Attempt) *statelog.Attempt {
	a.Index = len(b.l.Attempts)
	if a.Events == nil {
		a.Events = []statelog.Event{}
	}
	b.l.Attempts = append(b.l.Attempts, a)
	return a
}

func (b *builder) ev(a *statelog.Attempt, state, step string, dur float64, detail string, err *statelog.Error) {
	b.elapsed += dur
	if err != nil && err.Step == "" {
		err.Step = step
	}
	a.Events = append(a.Events, statelog.Event{
		Seq: len(a.Events) + 1 + b.seqBase(), State: state, Step: step,
		At:        T0.Add(time.Duration(b.elapsed * float64(time.Millisecond))),
		ElapsedMS: round3(b.elapsed), DurationMS: dur, Detail: detail, Error: err,
	})
}

func (b *builder) seqBase() int {
	n := 0
	for _, a := range b.l.Attempts[:len(b.l.Attempts)-1] {
		n += len(a.Events)
	}
	return n
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func (b *builder) finish(e *statelog.Error) *statelog.Log {
	b.l.DurationMS = round3(b.elapsed + 0.05)
	b.l.Error = e
	b.l.OK = e == nil
	b.l.ExitCode = statelog.ExitCode("")
	if e != nil {
		b.l.ExitCode = statelog.ExitCode(e.Class)
	}
	return b.l
}

var params13 = [][2]string{
	{"application_name", "pgprobe"}, {"client_encoding", "UTF8"}, {"DateStyle", "ISO, MDY"},
	{"default_transaction_read_only", "off"}, {"in_hot_standby", "off"}, {"integer_datetimes", "on"},
	{"IntervalStyle", "postgres"}, {"is_superuser", "off"}, {"server_encoding", "UTF8"},
	{"server_version", "15.18 (Debian 15.18-1.pgdg120+1)"}, {"session_authorization", "app"},
	{"standard_conforming_strings", "on"}, {"TimeZone", "Etc/UTC"},
}

func (b *builder) serverTail(a *statelog.Attempt) {
	a.Server = &statelog.Server{Parameters: map[string]string{}, BackendPID: 48213, ProtocolVersion: "3.0"}
	for _, p := range params13 {
		a.Server.Parameters[p[0]] = p[1]
		b.ev(a, "CONNECTION_AUTH_OK", statelog.StepParameter, 0.011, p[0]+" = "+p[1], nil)
	}
	b.ev(a, "CONNECTION_AUTH_OK", statelog.StepBackendKeyData, 0.009, "backend pid 48213", nil)
	b.ev(a, "CONNECTION_AUTH_OK", statelog.StepReadyForQuery, 0.012, "ReadyForQuery (transaction status I)", nil)
	b.ev(a, "CONNECTION_CHECK_TARGET", statelog.StepCheckTarget, 0.004, "target_session_attrs=any (in_hot_standby=off, default_transaction_read_only=off)", nil)
	a.OK = true
	b.ev(a, "CONNECTION_OK", statelog.StepClose, 0.031, "Terminate sent, connection closed", nil)
}

const prefixDB = `connection to server at "db.example.com" (10.0.0.5), port 5432 failed: `

// OKTLSScram: verify-full, TLS 1.3, SCRAM-SHA-256-PLUS.
func OKTLSScram() *statelog.Log {
	b := newLog("host=db.example.com dbname=shop user=app sslmode=verify-full")
	a := b.attempt(&statelog.Attempt{Host: "db.example.com", Port: 5432, Network: "tcp", SSLMode: "verify-full"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 1.204, "db.example.com → 10.0.0.5", nil)
	a.HostAddr, a.Encryption, a.LocalAddr = "10.0.0.5", "ssl", "10.0.0.9:51234"
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.812, "10.0.0.5:5432 connected from 10.0.0.9:51234", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepSSLRequest, 0.021, "SSLRequest (8 bytes, code 80877103)", nil)
	a.SSLResponse = statelog.Str("S")
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse, 0.402, "'S': the server will do TLS", nil)
	a.TLS = &statelog.TLS{Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "postgresql", SNI: "db.example.com",
		Verified: true, Verification: "chain+name", RootCert: "/home/app/.postgresql/root.crt",
		PeerCertificates: []statelog.Cert{
			{Subject: "CN=db.example.com", Issuer: "CN=Example Internal CA,O=Example", SANs: []string{"db.example.com", "10.0.0.5"},
				NotBefore: T0.AddDate(0, -11, 0), NotAfter: T0.AddDate(0, 0, 21), DaysLeft: 21,
				SHA256:  "3f:8a:11:02:9c:4e:aa:7b:00:19:de:45:6c:2b:90:f1:3f:8a:11:02:9c:4e:aa:7b:00:19:de:45:6c:2b:90:f1",
				KeyType: "ECDSA", KeyBits: 256, SignatureAlgorithm: "ECDSA-SHA256"},
			{Subject: "CN=Example Internal CA,O=Example", Issuer: "CN=Example Root CA,O=Example",
				NotBefore: T0.AddDate(-2, 0, 0), NotAfter: T0.AddDate(3, 0, 0), DaysLeft: 1095, SHA256: "aa:bb", IsCA: true},
		}}
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepTLSHandshake, 4.318, "TLSv1.3 TLS_AES_128_GCM_SHA256, chain and host name verified", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepStartup, 0.044, "StartupMessage 3.0: user=app database=shop application_name=pgprobe", nil)
	a.Auth = &statelog.Auth{Method: "scram-sha-256-plus", Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, ChannelBinding: true, ChannelBindingVerified: true, PasswordSource: "pgpass", Iterations: 4096}
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 1.533, "AuthenticationSASL: SCRAM-SHA-256-PLUS, SCRAM-SHA-256 → SCRAM-SHA-256-PLUS", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, 0.051, "SASLInitialResponse: SCRAM-SHA-256-PLUS client-first-message", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 0.687, "AuthenticationSASLContinue: salt and 4096 iterations", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, 3.902, "SASLResponse: client-final-message with proof (not shown)", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 0.733, "AuthenticationSASLFinal: the server's signature is valid, it knows the password", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthOK, 0.015, "AuthenticationOk (method scram-sha-256-plus)", nil)
	b.serverTail(a)
	return b.finish(nil)
}

// PreferFallback: sslmode=prefer, SSL accepted, hostnossl-only pg_hba →
// 28000 on the SSL attempt, then plaintext with MD5 succeeds.
func PreferFallback() *statelog.Log {
	b := newLog("postgresql://app:****@db.example.com/shop")
	a := b.attempt(&statelog.Attempt{Host: "db.example.com", Port: 5432, Network: "tcp", SSLMode: "prefer"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.95, "db.example.com → 10.0.0.5", nil)
	a.HostAddr, a.Encryption = "10.0.0.5", "ssl"
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.7, "10.0.0.5:5432 connected from 10.0.0.9:51234", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepSSLRequest, 0.02, "SSLRequest (8 bytes, code 80877103)", nil)
	a.SSLResponse = statelog.Str("S")
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse, 0.3, "'S': the server will do TLS", nil)
	a.TLS = &statelog.TLS{Version: "TLSv1.3", Cipher: "TLS_AES_256_GCM_SHA384", ALPN: "postgresql", SNI: "db.example.com", Verification: "none",
		PeerCertificates: []statelog.Cert{{Subject: "CN=db.example.com", Issuer: "CN=db.example.com", SANs: []string{"db.example.com"},
			NotBefore: T0.AddDate(-1, 0, 0), NotAfter: T0.AddDate(0, 0, 3), DaysLeft: 3, SHA256: "01:02:03"}}}
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepTLSHandshake, 3.9, "TLSv1.3 TLS_AES_256_GCM_SHA384, server certificate not verified (sslmode=prefer, no root certificate)", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepStartup, 0.04, "StartupMessage 3.0: user=app database=shop application_name=pgprobe", nil)
	e1 := &statelog.Error{Class: statelog.ClassAuth, Severity: "FATAL", SQLState: "28000",
		Message: prefixDB + `FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption`}
	a.Error = e1
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepErrorResponse, 0.9, `FATAL: no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption`, e1)

	a2 := b.attempt(&statelog.Attempt{Host: "db.example.com", HostAddr: "10.0.0.5", Port: 5432, Network: "tcp", SSLMode: "prefer", Encryption: "plaintext",
		Reason: "sslmode=prefer: the ssl attempt failed, retrying with plaintext on a new connection"})
	b.ev(a2, "CONNECTION_STARTED", statelog.StepConnect, 0.65, "10.0.0.5:5432 connected from 10.0.0.9:51236", nil)
	b.ev(a2, "CONNECTION_MADE", statelog.StepStartup, 0.03, "StartupMessage 3.0: user=app database=shop application_name=pgprobe", nil)
	a2.Auth = &statelog.Auth{Method: "md5", Mechanisms: []string{}, PasswordSource: "conninfo"}
	b.ev(a2, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 0.8, "AuthenticationMD5Password", nil)
	b.ev(a2, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, 0.02, "PasswordMessage: MD5 hash sent (not shown)", nil)
	b.ev(a2, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthOK, 1.1, "AuthenticationOk (method md5)", nil)
	b.serverTail(a2)
	return b.finish(nil)
}

// Refused: localhost resolves to ::1 and 127.0.0.1; both refuse.
func Refused() *statelog.Log {
	b := newLog("host=localhost port=5433")
	a := b.attempt(&statelog.Attempt{Host: "localhost", Port: 5433, Network: "tcp", SSLMode: "prefer"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.3, "localhost → ::1, 127.0.0.1", nil)
	a.HostAddr, a.Encryption = "::1", "ssl"
	e1 := &statelog.Error{Class: statelog.ClassConnect, Errno: "ECONNREFUSED",
		Message: "connection to server at \"localhost\" (::1), port 5433 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"}
	a.Error = e1
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.12, "", e1)
	a2 := b.attempt(&statelog.Attempt{Host: "localhost", HostAddr: "127.0.0.1", Port: 5433, Network: "tcp", SSLMode: "prefer", Encryption: "ssl", Reason: "next address"})
	e2 := &statelog.Error{Class: statelog.ClassConnect, Errno: "ECONNREFUSED",
		Message: "connection to server at \"localhost\" (127.0.0.1), port 5433 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"}
	a2.Error = e2
	b.ev(a2, "CONNECTION_STARTED", statelog.StepConnect, 0.09, "", e2)
	return b.finish(e2)
}

// HBA28000: sslmode=require, no hostssl line.
func HBA28000() *statelog.Log {
	b := newLog("host=db.example.com dbname=shop user=app sslmode=require")
	a := b.attempt(&statelog.Attempt{Host: "db.example.com", HostAddr: "10.0.0.5", Port: 5432, Network: "tcp", SSLMode: "require", Encryption: "ssl"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.9, "db.example.com → 10.0.0.5", nil)
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.6, "10.0.0.5:5432 connected from 10.0.0.9:40000", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepSSLRequest, 0.02, "SSLRequest (8 bytes, code 80877103)", nil)
	a.SSLResponse = statelog.Str("S")
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse, 0.3, "'S': the server will do TLS", nil)
	a.TLS = &statelog.TLS{Version: "TLSv1.3", Cipher: "TLS_AES_256_GCM_SHA384", ALPN: "postgresql", SNI: "db.example.com", Verification: "none",
		PeerCertificates: []statelog.Cert{{Subject: "CN=db.example.com", Issuer: "CN=db.example.com",
			NotBefore: T0.AddDate(-1, 0, 0), NotAfter: T0.AddDate(0, 0, -2), DaysLeft: -2, SHA256: "ff:ee"}}}
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepTLSHandshake, 3.1, "TLSv1.3 TLS_AES_256_GCM_SHA384, server certificate not verified (sslmode=require, no root certificate)", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepStartup, 0.04, "StartupMessage 3.0: user=app database=shop application_name=pgprobe", nil)
	e := &statelog.Error{Class: statelog.ClassAuth, Severity: "FATAL", SQLState: "28000",
		Message: prefixDB + `FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption`}
	a.Error = e
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepErrorResponse, 0.8, `FATAL: no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption`, e)
	return b.finish(e)
}

// TimeoutSSL: the peer accepts TCP and never answers SSLRequest (-t 3s).
func TimeoutSSL() *statelog.Log {
	b := newLog("host=db.example.com connect_timeout=3")
	a := b.attempt(&statelog.Attempt{Host: "db.example.com", HostAddr: "10.0.0.5", Port: 5432, Network: "tcp", SSLMode: "prefer", Encryption: "ssl"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.9, "db.example.com → 10.0.0.5", nil)
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.6, "10.0.0.5:5432 connected from 10.0.0.9:40002", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepSSLRequest, 0.02, "SSLRequest (8 bytes, code 80877103)", nil)
	e := &statelog.Error{Class: statelog.ClassTimeout, Message: prefixDB + "timeout expired"}
	a.Error = e
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse, 3000.4, "no answer to SSLRequest after 3s (connect_timeout)", e)
	return b.finish(e)
}

// SSLE: the server answers 'E' to SSLRequest, with bytes a terminal must
// never interpret.
func SSLE() *statelog.Log {
	b := newLog("host=10.0.0.5 sslmode=require")
	a := b.attempt(&statelog.Attempt{Host: "10.0.0.5", HostAddr: "10.0.0.5", Port: 5432, Network: "tcp", SSLMode: "require", Encryption: "ssl"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.01, "hostaddr 10.0.0.5 (no name lookup)", nil)
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.5, "10.0.0.5:5432 connected from 10.0.0.9:40004", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepSSLRequest, 0.02, "SSLRequest (8 bytes, code 80877103)", nil)
	a.SSLResponse = statelog.Str("E")
	e := &statelog.Error{Class: statelog.ClassSSL, Message: `connection to server at "10.0.0.5", port 5432 failed: server sent an error response during SSL exchange`,
		Untrusted: fmt.Sprintf("%q", "\x00\x00\x00\x50SFATAL\x00M\x1b[31msorry, too many clients already\x00")}
	a.Error = e
	b.ev(a, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse, 0.4, "'E': an error before any encryption", e)
	return b.finish(e)
}

// WrongPassword: 28P01 with the password from .pgpass.
func WrongPassword() *statelog.Log {
	b := newLog("host=db.example.com user=app dbname=shop sslmode=disable")
	a := b.attempt(&statelog.Attempt{Host: "db.example.com", HostAddr: "10.0.0.5", Port: 5432, Network: "tcp", SSLMode: "disable", Encryption: "plaintext"})
	b.ev(a, "CONNECTION_NEEDED", statelog.StepResolve, 0.9, "db.example.com → 10.0.0.5", nil)
	b.ev(a, "CONNECTION_STARTED", statelog.StepConnect, 0.6, "10.0.0.5:5432 connected from 10.0.0.9:40006", nil)
	b.ev(a, "CONNECTION_MADE", statelog.StepStartup, 0.04, "StartupMessage 3.0: user=app database=shop application_name=pgprobe", nil)
	a.Auth = &statelog.Auth{Method: "scram-sha-256", Mechanisms: []string{"SCRAM-SHA-256"}, PasswordSource: "pgpass", Iterations: 4096}
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 0.7, "AuthenticationSASL: SCRAM-SHA-256 → SCRAM-SHA-256", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, 0.05, "SASLInitialResponse: SCRAM-SHA-256 client-first-message", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest, 0.6, "AuthenticationSASLContinue: salt and 4096 iterations", nil)
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, 3.8, "SASLResponse: client-final-message with proof (not shown)", nil)
	e := &statelog.Error{Class: statelog.ClassAuth, Severity: "FATAL", SQLState: "28P01",
		Message: prefixDB + "FATAL:  password authentication failed for user \"app\"\npassword retrieved from file \"/home/app/.pgpass\""}
	a.Error = e
	b.ev(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepErrorResponse, 0.5, `FATAL: password authentication failed for user "app"`, e)
	return b.finish(e)
}

// Usage: a bad conninfo, no attempt.
func Usage() *statelog.Log {
	b := newLog("host=db.example.com sslmode=bogus")
	return b.finish(&statelog.Error{Class: statelog.ClassUsage, Message: `invalid sslmode value: "bogus"`})
}

// Fixture is one record, by name; Log makes a fresh copy.
type Fixture struct {
	Name string
	Log  func() *statelog.Log
}

// Fixtures are the records, each named as its golden files are.
var Fixtures = []Fixture{
	{"ok_tls_scram", OKTLSScram},
	{"prefer_fallback", PreferFallback},
	{"refused", Refused},
	{"hba_28000", HBA28000},
	{"timeout_ssl", TimeoutSSL},
	{"ssl_e_untrusted", SSLE},
	{"wrong_password", WrongPassword},
	{"usage", Usage},
}
