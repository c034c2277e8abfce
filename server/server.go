// Package server is the server half of the handshake: what PostgreSQL's
// postmaster and backend do with a new connection before the first query
// (BackendInitialize, ProcessSSLStartup, ProcessStartupPacket,
// secure_open_server, ClientAuthentication, then InitPostgres or
// PostgresMain), re-enacted so that a client can be pointed at pgprobe
// instead of a database (pgprobe listen), so that the probe can be shown on a
// machine with no database (pgprobe demo), and so that tests can make a
// server do what PostgreSQL will not (Script).
//
// Each client connection is recorded into a statelog.Session. Its events
// reuse the client's step names (statelog.Step*); their State is the
// PostgreSQL server function that takes the step, so that a reader of
// src/backend/tcop/backend_startup.c and src/backend/libpq/auth.c
// recognises every line:
//
//	BackendInitialize     connect: the connection was accepted ("connection received: host=… port=…")
//	ProcessSSLStartup     tls_handshake: PostgreSQL 17's direct TLS (the first byte is 0x16), ALPN "postgresql" required
//	ProcessStartupPacket  ssl_request, ssl_response ('S' or 'N'), gss_request, gss_response ('G' or 'N'),
//	                      cancel_request, startup (the StartupMessage), negotiate_protocol_version
//	secure_open_server    tls_handshake after 'S'
//	secure_open_gssapi    gss_handshake after 'G': the client's Kerberos token, the AP-REP, wrap tokens from then on
//	ClientAuthentication  auth_request (AuthenticationCleartextPassword, MD5Password, SASL, SASLContinue,
//	                      SASLFinal, GSS, GSSContinue), auth_response (what came back, never its content),
//	                      auth_ok, error_response
//	InitPostgres          error_response: ThenError's FATAL (where PostgreSQL checks the database)
//	PostgresMain          parameter_status, backend_key_data, ready_for_query, query, close (Terminate)
//	proc_exit             close: the connection ends
//
// The server never prints. It never records a password, an MD5 hash or a
// SCRAM proof: only whether one arrived (auth.password_received); of a
// Kerberos token, only its size and the names it carries (gss).
//
// The files follow PostgreSQL's backend: server.go is the postmaster
// (listening, cancel keys), conn.go a backend's life and its writes,
// tls.go secure_open_server and direct TLS, gss.go the Kerberos acceptor
// and gssopen.go secure_open_gssapi and pg_GSS_recvauth, startup.go
// ProcessStartupPacket, auth.go ClientAuthentication, postgres.go
// InitPostgres and PostgresMain.
package server

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/statelog"
)

// Server-side state names (statelog.Event.State of a Session).
const (
	StateBackendInitialize    = "BackendInitialize"
	StateProcessSSLStartup    = "ProcessSSLStartup"
	StateProcessStartupPacket = "ProcessStartupPacket"
	StateSecureOpenServer     = "secure_open_server"
	StateSecureOpenGSSAPI     = "secure_open_gssapi"
	StateClientAuthentication = "ClientAuthentication"
	StateInitPostgres         = "InitPostgres"
	StatePostgresMain         = "PostgresMain"
	StateProcExit             = "proc_exit"
)

// Authentication methods the server can ask for.
const (
	AuthTrust       = "trust"
	AuthPassword    = "password"
	AuthMD5         = "md5"
	AuthSCRAMSHA256 = "scram-sha-256"
	// AuthGSS asks for Kerberos (AuthenticationGSS); it needs Config.GSS.
	AuthGSS = "gss"
)

// Protocol versions the server can speak up to (Config.MaxProtocol).
const (
	Protocol30 = "3.0"
	Protocol32 = "3.2"
)

// What the server does once the client is authenticated.
const (
	// ThenError ends the startup with a FATAL ErrorResponse saying this is
	// pgprobe and not a database.
	ThenError = "error"
	// ThenOK completes the startup (AuthenticationOk, ParameterStatus,
	// BackendKeyData, ReadyForQuery) and answers any query with an error.
	ThenOK = "ok"
)

// Wire codes of the special startup packets (pqcomm.h).
const (
	cancelRequestCode = 80877102
	sslRequestCode    = 80877103
	gssRequestCode    = 80877104
	// maxStartupPacket is MAX_STARTUP_PACKET_LENGTH.
	maxStartupPacket = 10000
	// maxAuthToken is PG_MAX_AUTH_TOKEN_LENGTH: the longest password
	// message the server reads.
	maxAuthToken = 65535
)

// Config is what the server is.
type Config struct {
	// SSL answers SSLRequest with 'S' and accepts TLS (PostgreSQL's ssl=on),
	// except on Unix sockets, where the answer is always 'N'.
	SSL bool
	// Certificate is the server's certificate and key. With SSL and no
	// Certificate, New makes a self-signed one for CertificateHosts.
	Certificate *tls.Certificate
	// CertificateHosts are the names a generated certificate is for
	// (default: localhost and the loopback addresses).
	CertificateHosts []string
	// DirectSSL also accepts PostgreSQL 17's direct TLS (sslnegotiation=direct):
	// a ClientHello as the very first bytes, ALPN "postgresql" required.
	// Without it a ClientHello is an invalid startup packet, as before 17.
	DirectSSL bool
	// MinTLSVersion is ssl_min_protocol_version (a crypto/tls version;
	// 0 means TLS 1.2, PostgreSQL's default): tls.VersionTLS10 makes a
	// server that accepts TLS 1.0, which PostgreSQL on OpenSSL 3 will not.
	MinTLSVersion uint16
	// AcceptUnencryptedAfterSSLRequest behaves as servers before the fix
	// of CVE-2021-23214: bytes that came with the SSLRequest, before the
	// TLS handshake, are read afterwards as if they had come through TLS.
	AcceptUnencryptedAfterSSLRequest bool
	// Auth is the method asked of every client: trust, password, md5,
	// scram-sha-256 (the default) or gss (which needs GSS).
	Auth string
	// Password, when set, is checked as PostgreSQL checks a role's password
	// (FATAL 28P01 when wrong, SASLFinal proving the server knows it). When
	// empty, the server cannot check anything: it accepts whatever arrives
	// and, for SCRAM, sends AuthenticationOk without SASLFinal.
	Password string
	// Then is what follows authentication: ThenError (the default) or ThenOK.
	Then string
	// ServerVersion is the server_version ParameterStatus (default "17.0 (pgprobe)").
	ServerVersion string
	// MaxProtocol is the newest protocol version the server speaks:
	// Protocol30 (the default), as PostgreSQL 15 to 17, which answer a 3.2
	// StartupMessage with NegotiateProtocolVersion 3.0; or Protocol32, as
	// PostgreSQL 18, which accepts 3.2 and sends a 32-byte cancel key.
	MaxProtocol string
	// SASLMechanisms is what AuthenticationSASL offers (scram-sha-256):
	// nil for PostgreSQL's list (SCRAM-SHA-256-PLUS over TLS, then
	// SCRAM-SHA-256); PostgreSQL 18 with an OAuth validator offers
	// OAUTHBEARER. Only the SCRAM mechanisms can complete; a Script's list
	// wins over this one.
	SASLMechanisms []string
	// Timeout bounds every read and write of a connection, as
	// authentication_timeout does (default one minute); after
	// ReadyForQuery it is the idle time allowed between messages.
	Timeout time.Duration
	// GSS, when set, makes the server a Kerberos acceptor with a keytab:
	// GSSENCRequest gets 'G' (unless GSS.NoEncryption) and Auth may be gss.
	GSS *GSSConfig
	// Script, when set, is asked for the script of each connection (index
	// counts from 1). A nil Script means PostgreSQL's behaviour.
	Script func(index int) *Script
	// OnSession receives each connection's record when the connection ends,
	// from the connection's goroutine. It must not call Close.
	OnSession func(*statelog.Session)
}

// Server answers clients as PostgreSQL's ProcessStartupPacket does.
type Server struct {
	cfg     Config
	tlsBase *tls.Config
	leaf    *x509.Certificate
	scram   *scram.Server
	known   bool // a password is configured
	keytab  *keytab.Keytab

	mu        sync.Mutex
	closed    bool
	done      chan struct{}
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	keys      map[uint32][]byte // live backends' cancel keys
	n         int
	wg        sync.WaitGroup
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("pgprobe server closed")

// ConfigError is a Config that New refuses. It names the Config field, so
// that a caller can word it in its own terms (a command-line flag, say).
type ConfigError struct {
	// Field is the Config field at fault: "Auth", "Then", "MaxProtocol",
	// "DirectSSL" or "GSS.Keytab".
	Field string
	// Value is the field's value, when the value is wrong.
	Value string
	// Valid lists the values the field takes ("error or ok").
	Valid string
	// Needs is the boolean field this one needs on ("SSL"), when the
	// field is right but the other is missing.
	Needs string
}

func (e *ConfigError) Error() string {
	if e.Needs != "" {
		return e.Field + " needs " + e.Needs + " on"
	}
	return fmt.Sprintf("invalid %s %q: use %s", e.Field, e.Value, e.Valid)
}

// Validate checks c as it stands: an empty Auth or Then is refused here,
// where New first takes it for the default. A caller can so check the
// values it means to use before it does anything else (pgprobe listen
// checks its flags before it listens). The error is a *ConfigError.
func (c Config) Validate() error {
	switch c.Auth {
	case AuthTrust, AuthPassword, AuthMD5, AuthSCRAMSHA256:
	case AuthGSS:
		if c.GSS == nil {
			// Without a keytab, gss is no method at all.
			return &ConfigError{Field: "Auth", Value: c.Auth, Valid: "trust, password, md5 or scram-sha-256"}
		}
	default:
		valid := "trust, password, md5 or scram-sha-256"
		if c.GSS != nil {
			valid = "trust, password, md5, scram-sha-256 or gss"
		}
		return &ConfigError{Field: "Auth", Value: c.Auth, Valid: valid}
	}
	switch c.Then {
	case ThenError, ThenOK:
	default:
		return &ConfigError{Field: "Then", Value: c.Then, Valid: "error or ok"}
	}
	switch c.MaxProtocol {
	case "", Protocol30, Protocol32: // "": the default
	default:
		return &ConfigError{Field: "MaxProtocol", Value: c.MaxProtocol, Valid: "3.0 or 3.2"}
	}
	if c.DirectSSL && !c.SSL {
		return &ConfigError{Field: "DirectSSL", Needs: "SSL"}
	}
	if c.GSS != nil && c.GSS.Keytab == "" {
		return &ConfigError{Field: "GSS.Keytab", Value: "", Valid: "the path of a keytab file"}
	}
	return nil
}

// withDefaults fills in the fields left empty.
func (c Config) withDefaults() Config {
	if c.Auth == "" {
		c.Auth = AuthSCRAMSHA256
	}
	if c.Then == "" {
		c.Then = ThenError
	}
	if c.MaxProtocol == "" {
		c.MaxProtocol = Protocol30
	}
	if c.ServerVersion == "" {
		c.ServerVersion = "17.0 (pgprobe)"
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	return c
}

// New prepares a server for cfg, its empty fields filled with the defaults
// (generating a certificate when SSL needs one). A configuration New
// refuses gives a *ConfigError.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, done: make(chan struct{}), listeners: map[net.Listener]struct{}{},
		conns: map[net.Conn]struct{}{}, keys: map[uint32][]byte{}, known: cfg.Password != ""}
	if cfg.SSL {
		if err := s.setupTLS(); err != nil {
			return nil, err
		}
	}
	if cfg.GSS != nil {
		kt, err := loadKeytab(cfg.GSS)
		if err != nil {
			return nil, err
		}
		s.keytab = kt
	}
	creds, err := s.storedCredentials()
	if err != nil {
		return nil, err
	}
	s.scram, err = scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// setupTLS is what secure_initialize does at start: load (here, perhaps
// make) the certificate and fix the TLS settings every handshake starts from.
func (s *Server) setupTLS() error {
	if s.cfg.Certificate == nil {
		hosts := s.cfg.CertificateHosts
		if len(hosts) == 0 {
			hosts = []string{"localhost", "127.0.0.1", "::1"}
		}
		c, err := SelfSignedCertificate(hosts, 0)
		if err != nil {
			return err
		}
		s.cfg.Certificate = &c
	}
	cert := s.cfg.Certificate
	if len(cert.Certificate) == 0 {
		return errors.New("the certificate is empty")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("parsing the certificate: %w", err)
		}
	}
	s.leaf = leaf
	s.tlsBase = &tls.Config{
		Certificates: []tls.Certificate{*cert},
		// PostgreSQL 17 offers ALPN "postgresql" and refuses any other.
		NextProtos: []string{"postgresql"},
		// ssl_min_protocol_version's default.
		MinVersion: tls.VersionTLS12,
	}
	if s.cfg.MinTLSVersion != 0 {
		s.tlsBase.MinVersion = s.cfg.MinTLSVersion
		// crypto/tls's defaults have no suite older clients share.
		for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			s.tlsBase.CipherSuites = append(s.tlsBase.CipherSuites, c.ID)
		}
	}
	return nil
}

// storedCredentials is the role's SCRAM secret, as pg_authid would hold it:
// made from the password (SASLprep'd when possible, as PostgreSQL does) with
// a random salt and 4096 iterations; without a password, random keys that
// no proof matches (PostgreSQL's "mock" authentication).
func (s *Server) storedCredentials() (scram.StoredCredentials, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return scram.StoredCredentials{}, err
	}
	kf := scram.KeyFactors{Salt: string(salt), Iters: 4096}
	if !s.known {
		sk, svk := make([]byte, 32), make([]byte, 32)
		_, _ = rand.Read(sk)
		_, _ = rand.Read(svk)
		return scram.StoredCredentials{KeyFactors: kf, StoredKey: sk, ServerKey: svk}, nil
	}
	c, err := scram.SHA256.NewClient("", s.cfg.Password, "")
	if err != nil {
		if c, err = scram.SHA256.NewClientUnprepped("", s.cfg.Password, ""); err != nil {
			return scram.StoredCredentials{}, err
		}
	}
	return c.GetStoredCredentialsWithError(kf)
}

// Certificate is the certificate the server presents (nil without SSL).
func (s *Server) Certificate() *x509.Certificate { return s.leaf }

// Serve accepts connections on ln until Close; each is handled in its own
// goroutine. It returns nil after Close, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-s.done:
				return nil
			}
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return nil
		}
		s.n++
		index := s.n
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c, index, ln.Addr())
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every open connection and waits until every
// connection's goroutine (and its OnSession call) has finished.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		for ln := range s.listeners {
			_ = ln.Close()
		}
		for c := range s.conns {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) handle(c net.Conn, index int, laddr net.Addr) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	h := newBackend(s, c, index, laddr)
	h.run()
	if s.cfg.OnSession != nil {
		s.cfg.OnSession(h.sess)
	}
}

// newBackendKey registers a backend pid and a cancel key of keyLen bytes
// for a session.
func (s *Server) newBackendKey(keyLen int) (uint32, []byte) {
	b := make([]byte, 4+keyLen)
	_, _ = rand.Read(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	pid := 10000 + binary.BigEndian.Uint32(b[:4])%4_000_000
	for {
		if _, taken := s.keys[pid]; !taken {
			break
		}
		pid++
	}
	key := b[4:]
	s.keys[pid] = key
	return pid, key
}

func (s *Server) dropBackendKey(pid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, pid)
}

func (s *Server) cancelMatches(pid uint32, key []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[pid]
	return ok && subtle.ConstantTimeCompare(key, k) == 1
}

// encode concatenates backend messages on the wire.
func encode(msgs ...pgproto3.BackendMessage) []byte {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			panic("pgprobe: encoding " + fmt.Sprintf("%T", m) + ": " + err.Error())
		}
	}
	return buf
}
