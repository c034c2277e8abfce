package statelog

import (
	"sync"
	"time"
)

// The server side (pgprobe listen, pgprobe demo, the test server) records one
// Session per client connection: what the client asked for and sent, and
// each step the server took, named after the PostgreSQL server function that
// takes it (see package server for the list).

// SessionType is the "type" of a session document.
const SessionType = "session"

// Session outcomes.
const (
	// OutcomeReady: the startup completed (AuthenticationOk, ParameterStatus,
	// BackendKeyData, ReadyForQuery) and the client later left.
	OutcomeReady = "ready"
	// OutcomeRefused: the server ended the startup with a FATAL
	// ErrorResponse (--then error, a wrong password, a protocol violation).
	OutcomeRefused = "refused"
	// OutcomeCancel: the connection carried a CancelRequest.
	OutcomeCancel = "cancel"
	// OutcomeClientClosed: the client closed the connection before the
	// startup was over (e.g. after 'N' when it requires SSL).
	OutcomeClientClosed = "client_closed"
	// OutcomeDropped: the server closed the connection without an
	// ErrorResponse, as PostgreSQL does after a COMMERROR (an invalid
	// startup packet, a failed TLS handshake, direct TLS without ALPN).
	OutcomeDropped = "dropped"
)

// SessionTLS is what the client offered in its ClientHello and what the
// handshake settled on.
type SessionTLS struct {
	Version         string   `json:"version"` // "TLSv1.3"
	Cipher          string   `json:"cipher"`  // IANA name
	SNI             string   `json:"sni"`     // the server name the client asked for, "" when none
	ALPN            string   `json:"alpn"`    // the protocol agreed, "" when none
	ALPNOffered     []string `json:"alpn_offered"`
	VersionsOffered []string `json:"versions_offered"`
	CiphersOffered  []string `json:"ciphers_offered"`
	// Extensions.
	GroupsOffered []string `json:"groups_offered,omitempty"` // key-exchange groups (curves)
}

// Startup is the client's StartupMessage.
type Startup struct {
	ProtocolVersion string `json:"protocol_version"` // "3.0"
	// Parameters holds every name/value pair the client sent, _pq_.
	// protocol options included.
	Parameters map[string]string `json:"parameters"`
	// ProtocolOptions are the _pq_ protocol options the client asked for
	// (also among Parameters); ProtocolGranted is the version the session
	// speaks, and Negotiated says NegotiateProtocolVersion told the client.
	ProtocolOptions []string `json:"protocol_options,omitempty"`
	ProtocolGranted string   `json:"protocol_granted,omitempty"`
	Negotiated      bool     `json:"negotiated,omitempty"`
}

// SessionAuth is the authentication the server asked for and how the client
// answered. It can hold no secret: whether a password (or hash, or SCRAM
// proof) arrived is a bool, never the value.
type SessionAuth struct {
	// Method in effect: trust, password, md5, scram-sha-256,
	// scram-sha-256-plus (SCRAM with channel binding, the client's choice)
	// or gss (Kerberos: AuthenticationGSS, or GSSAPI encryption's context).
	Method           string `json:"method"`
	PasswordReceived bool   `json:"password_received"`
	// Extensions.
	Mechanisms []string `json:"mechanisms,omitempty"` // SASL mechanisms offered
	Mechanism  string   `json:"mechanism,omitempty"`  // the SASL mechanism the client chose
	// ChannelBindingFlag is the client's GS2 flag: "p" (binds the channel),
	// "y" (could, but the server did not offer -PLUS), "n" (does not).
	ChannelBindingFlag string `json:"channel_binding_flag,omitempty"`
	// ChannelBinding: the client bound the channel and its
	// tls-server-end-point data matched this server's certificate.
	ChannelBinding bool `json:"channel_binding"`
	// PasswordVerified is null when the server had no password to check
	// against (pgprobe listen accepts any), else whether it matched.
	PasswordVerified *bool `json:"password_verified"`
}

// SessionGSS is the GSS-API (Kerberos) context a client offered: what
// the server saw of its tokens. It holds no key, no ticket and no
// authenticator: only their sizes and the names they carry.
type SessionGSS struct {
	// Encryption: the context came after GSSENCRequest's 'G' and encrypts
	// the session; otherwise it is gss authentication (AuthenticationGSS).
	Encryption   bool   `json:"encryption"`
	Mechanism    string `json:"mechanism"`     // "kerberos_v5", or what the token said instead
	MechanismOID string `json:"mechanism_oid"` // 1.2.840.113554.1.2.2
	// ServicePrincipal is the one the ticket is for (krbsrvname/host@REALM),
	// read from the ticket's clear part.
	ServicePrincipal string `json:"service_principal,omitempty"`
	// ClientPrincipal comes from the authenticator, once the keytab
	// decrypted the ticket; empty when it could not.
	ClientPrincipal string `json:"client_principal,omitempty"`
	// Etype is the ticket's encryption type (aes256-cts-hmac-sha1-96…).
	Etype string `json:"etype,omitempty"`
	// Flags are the context flags the client asked for (from the
	// authenticator's checksum): mutual, confidentiality…
	Flags []string `json:"flags,omitempty"`
	// TokenBytes is the size of the client's initial context token (the
	// AP-REQ), ReplyBytes of the server's answer (the AP-REP).
	TokenBytes int `json:"token_bytes"`
	ReplyBytes int `json:"reply_bytes,omitempty"`
	// Established: the server accepted the context; Error says why not.
	Established bool   `json:"established"`
	Error       string `json:"error,omitempty"`
	// Packets counts the wrap tokens each way once encrypted.
	PacketsReceived int `json:"packets_received,omitempty"`
	PacketsSent     int `json:"packets_sent,omitempty"`
}

// Cancel is a CancelRequest.
type Cancel struct {
	BackendPID uint32 `json:"backend_pid"`
	// Matched: the pid and secret key are those of a session of this server.
	Matched bool `json:"matched"`
}

// Session is the record of one client connection to the server side.
type Session struct {
	Schema      string    `json:"schema"` // "pgprobe/v1"
	Type        string    `json:"type"`   // "session"
	Index       int       `json:"index"`  // 1 for the first client the server accepted
	Client      string    `json:"client"` // "127.0.0.1:53412", or "[local]" for a Unix socket
	Network     string    `json:"network"`
	Listen      string    `json:"listen"` // the server address the client reached
	StartedAt   time.Time `json:"started_at"`
	DurationMS  float64   `json:"duration_ms"`
	Outcome     string    `json:"outcome"`
	SSLRequest  bool      `json:"ssl_request"`
	SSLResponse *string   `json:"ssl_response"` // what the server answered: "S", "N", or the first byte a script sent
	GSSRequest  bool      `json:"gss_request"`
	GSSResponse *string   `json:"gss_response"`
	DirectTLS   bool      `json:"direct_tls"`
	// UnencryptedAfterSSLRequest counts bytes the client sent after its
	// SSLRequest and before the TLS handshake (CVE-2021-23214).
	UnencryptedAfterSSLRequest int          `json:"unencrypted_after_ssl_request,omitempty"`
	TLS                        *SessionTLS  `json:"tls"`
	Startup                    *Startup     `json:"startup"`
	Auth                       *SessionAuth `json:"auth"`
	Cancel                     *Cancel      `json:"cancel"`
	// GSS is the client's GSS-API context, when the server does GSSAPI.
	GSS        *SessionGSS `json:"gss,omitempty"`
	BackendPID uint32      `json:"backend_pid,omitempty"` // sent in BackendKeyData
	Queries    int         `json:"queries,omitempty"`     // Query messages answered after ReadyForQuery
	// Error is null when the session went as the server was configured to
	// let it go (including a --then error FATAL), else what went wrong.
	Error  *Error  `json:"error"`
	Events []Event `json:"events"`

	mu    sync.Mutex
	start time.Time
	seq   int
}

// NewSession starts the record of client connection number index.
func NewSession(index int, client, network, listen string) *Session {
	now := time.Now()
	return &Session{Schema: Schema, Type: SessionType, Index: index, Client: client, Network: network,
		Listen: listen, StartedAt: now, start: now, Events: []Event{}}
}

// Record appends an event: state is the server function, step what
// happened, began when the step started.
func (s *Session) Record(state, step string, began time.Time, detail string, err *Error, data map[string]any) Event {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if err != nil && err.Step == "" {
		err.Step = step
	}
	e := Event{Seq: s.seq, State: state, Step: step, At: now.UTC(), ElapsedMS: ms(now.Sub(s.start)),
		DurationMS: ms(now.Sub(began)), Detail: detail, Error: err, Data: data}
	s.Events = append(s.Events, e)
	return e
}

// Finish closes the record: err nil means the session went as configured.
func (s *Session) Finish(outcome string, err *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.DurationMS = ms(time.Since(s.start))
	s.Outcome = outcome
	s.Error = err
}
