// Package statelog is the record of a probe: the events of every step, one
// Attempt per host, address and encryption try, and the Log that holds them.
// It defines the JSON contract (schema "pgprobe/v1") and a sink that streams
// events as NDJSON while they happen. It knows nothing about terminals.
package statelog

import (
	"sync"
	"time"
)

// Schema names the JSON document format. Field names never change within it.
const Schema = "pgprobe/v1"

// Error classes, as the contract lists them.
const (
	ClassUsage    = "usage"    // bad flags, conninfo, URI or files: no attempt was made
	ClassDNS      = "dns"      // a host name did not resolve
	ClassConnect  = "connect"  // the socket could not be connected
	ClassTimeout  = "timeout"  // a deadline passed while a step was waiting
	ClassSSL      = "ssl"      // SSL negotiation: refused when required, invalid answer
	ClassTLS      = "tls"      // the TLS handshake or certificate verification
	ClassProtocol = "protocol" // the peer broke the protocol (or is not PostgreSQL)
	ClassServer   = "server"   // an ErrorResponse that is not about authentication
	ClassAuth     = "auth"     // authentication refused, or forbidden by the client's settings
	ClassTarget   = "target"   // target_session_attrs did not match
	ClassCheck    = "check"    // connected, but a --min-* check failed
	// ClassInterrupted: the user stopped the probe (SIGINT, SIGTERM) before
	// it had a verdict; the record holds what happened until then.
	ClassInterrupted = "interrupted"
)

// Exit codes: pg_isready's 0–3, plus 4 for a failed check.
const (
	ExitOK        = 0
	ExitRejected  = 1
	ExitNoAnswer  = 2
	ExitNoAttempt = 3
	ExitCheck     = 4
	// ExitInterrupted and ExitTerminated are what a shell reports for a
	// process that SIGINT or SIGTERM ended (128 + the signal's number).
	ExitInterrupted = 130
	ExitTerminated  = 143
)

// ExitCode maps an error class to the contract's exit code.
func ExitCode(class string) int {
	switch class {
	case "":
		return ExitOK
	case ClassUsage:
		return ExitNoAttempt
	case ClassServer, ClassAuth, ClassTarget:
		return ExitRejected
	case ClassCheck:
		return ExitCheck
	case ClassInterrupted:
		return ExitInterrupted
	default:
		return ExitNoAnswer
	}
}

// Error is a classified failure. Message is libpq's wording where libpq has
// one; SQLState, Severity, Detail and Hint are the server's ErrorResponse
// fields when the server sent one. Advice is filled in by the report package.
type Error struct {
	Class    string `json:"class"`
	Message  string `json:"message"`
	SQLState string `json:"sqlstate"`
	Severity string `json:"severity"`
	Detail   string `json:"detail"`
	Hint     string `json:"hint"`
	Advice   string `json:"advice"`
	// Extensions to the contract.
	Step  string `json:"step,omitempty"`  // the step that failed or was waiting
	Errno string `json:"errno,omitempty"` // ECONNREFUSED, ETIMEDOUT, … for socket errors
	// Untrusted is text the peer sent before it was authenticated (an 'E'
	// answer to SSLRequest). It is shown only as untrusted bytes.
	Untrusted string `json:"untrusted,omitempty"`
	// Cause names a failure the client understood better than its message
	// says (kerberos_no_ccache, kerberos_ticket_expired, …), for advice.
	Cause string `json:"cause,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Event is one step of libpq's state machine.
type Event struct {
	Seq        int       `json:"seq"`
	State      string    `json:"state"` // libpq's ConnStatusType name
	Step       string    `json:"step"`
	At         time.Time `json:"at"`
	ElapsedMS  float64   `json:"elapsed_ms"`  // since the probe started, at the end of the step
	DurationMS float64   `json:"duration_ms"` // how long the step took
	Detail     string    `json:"detail"`
	Error      *Error    `json:"error"`
	// Data holds structured facts of the step (the message fields, the
	// socket addresses, …) for consumers that want more than Detail.
	Data map[string]any `json:"data,omitempty"`
}

// Cert describes one certificate of the peer's chain.
type Cert struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	SANs               []string  `json:"sans"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysLeft           int       `json:"days_left"`
	SHA256             string    `json:"sha256"`
	Serial             string    `json:"serial,omitempty"` // hexadecimal, as blackbox_exporter's serialnumber label
	KeyType            string    `json:"key_type,omitempty"`
	KeyBits            int       `json:"key_bits,omitempty"`
	SignatureAlgorithm string    `json:"signature_algorithm,omitempty"`
	IsCA               bool      `json:"is_ca,omitempty"`
}

// TLS is what the handshake negotiated and what verification concluded.
type TLS struct {
	Version          string `json:"version"` // "TLSv1.3", as libpq's PQsslAttribute names it
	Cipher           string `json:"cipher"`  // IANA name
	ALPN             string `json:"alpn"`
	SNI              string `json:"sni"`
	Verified         bool   `json:"verified"`
	VerifyError      string `json:"verify_error"`
	PeerCertificates []Cert `json:"peer_certificates"`
	// Extensions.
	Verification string `json:"verification,omitempty"` // none, chain (verify-ca), chain+name (verify-full)
	RootCert     string `json:"root_cert,omitempty"`    // the root file used, when one was
	// The client certificate: its subject when one was loaded, whether the
	// server asked for one (sslcertmode) and whether it was sent.
	ClientCertificate   string `json:"client_certificate,omitempty"`
	ClientCertRequested bool   `json:"client_cert_requested"`
	ClientCertSent      bool   `json:"client_cert_sent"`
	// KeyExchange is the group agreed on (X25519MLKEM768, X25519, P256…);
	// HelloRetryRequest says the server asked for another key share, which
	// costs a round trip (PostgreSQL before 18 offers only ssl_ecdh_curve,
	// prime256v1 by default).
	KeyExchange       string `json:"key_exchange,omitempty"`
	HelloRetryRequest bool   `json:"hello_retry_request,omitempty"`
}

// Auth is the authentication the server asked for. It never holds a secret.
type Auth struct {
	Method     string   `json:"method"` // trust password md5 scram-sha-256 scram-sha-256-plus gss sspi cert
	Mechanisms []string `json:"mechanisms"`
	// ChannelBinding: the client bound the exchange to the TLS channel
	// (it chose SCRAM-SHA-256-PLUS and sent its binding data), whatever the
	// outcome; ChannelBindingVerified: the server's final signature proved
	// it saw the same channel.
	ChannelBinding bool `json:"channel_binding"`
	// Extensions.
	PasswordSource string `json:"password_source,omitempty"` // where the password came from: conninfo, env, pgpass, prompt
	Iterations     int    `json:"scram_iterations,omitempty"`
	// ChannelBindingVerified is described with ChannelBinding.
	ChannelBindingVerified bool `json:"channel_binding_verified,omitempty"`
}

// GSS is a Kerberos GSS-API context: who asked for what, and how long the
// credentials last. It never holds a key or a ticket.
type GSS struct {
	ClientPrincipal  string `json:"client_principal"`  // the credential cache's: gssuser@EXAMPLE.COM
	ServicePrincipal string `json:"service_principal"` // asked for: krbsrvname/host@REALM
	CredentialCache  string `json:"credential_cache"`  // KRB5CCNAME, or libkrb5's default
	Mechanism        string `json:"mechanism"`         // "kerberos_v5"
	MechanismOID     string `json:"mechanism_oid"`     // 1.2.840.113554.1.2.2
	// TicketExpires is when the ticket-granting ticket ends (after that,
	// kinit again); TicketHoursLeft counts from the probe (negative once
	// expired). ServiceTicketExpires is the service ticket's end.
	TicketExpires        *time.Time `json:"ticket_expires,omitempty"`
	TicketHoursLeft      float64    `json:"ticket_hours_left"`
	ServiceTicketExpires *time.Time `json:"service_ticket_expires,omitempty"`
	Flags                []string   `json:"flags"` // the context flags asked for: mutual, confidentiality…
	// Established: the server's AP-REP completed the context; Encrypted:
	// the session runs inside it (GSSAPI encryption, GSSENCRequest's G).
	Established bool `json:"established"`
	Encrypted   bool `json:"encrypted"`
	// Delegation: gssdelegation=1 asked to forward the credentials;
	// pgprobe never forwards them (Note says so).
	Delegation bool   `json:"delegation,omitempty"`
	Note       string `json:"note,omitempty"`
	// Packets counts the wrap tokens each way once encrypted.
	PacketsSent     int `json:"packets_sent,omitempty"`
	PacketsReceived int `json:"packets_received,omitempty"`
}

// Server is what the server told about itself after authentication.
type Server struct {
	Parameters      map[string]string `json:"parameters"`
	BackendPID      uint32            `json:"backend_pid"`
	ProtocolVersion string            `json:"protocol_version"`
	// CancelKeyLength is the length in bytes of BackendKeyData's cancel
	// key (4 in protocol 3.0, up to 256 in 3.2; PostgreSQL 18 sends 32).
	// The key itself is a secret and is never recorded.
	CancelKeyLength int `json:"cancel_key_length,omitempty"`
}

// Protocol is libpq 18's protocol version negotiation for one connection.
type Protocol struct {
	// Requested is the version the StartupMessage asked for
	// (max_protocol_version, "3.0" or "3.2"); Min is min_protocol_version.
	Requested string `json:"requested"`
	Min       string `json:"min"`
	// Granted is the version the connection speaks once the server
	// answered: Requested when the server accepted it silently, the
	// server's version after a NegotiateProtocolVersion that the client
	// accepted; "" while the server has not answered or when the client
	// refused the server's version.
	Granted string `json:"granted"`
	// Negotiated: the server sent NegotiateProtocolVersion; ServerVersion
	// is the newest version it offered there, UnsupportedOptions the
	// _pq_ options it did not recognise.
	Negotiated         bool     `json:"negotiated"`
	ServerVersion      string   `json:"server_version,omitempty"`
	UnsupportedOptions []string `json:"unsupported_options,omitempty"`
	// Reason says why Requested and Granted are what they are.
	Reason string `json:"reason"`
}

// Attempt is one try: one host, one address, one encryption method.
type Attempt struct {
	Host        string  `json:"host"`
	HostAddr    string  `json:"hostaddr"` // the address connected to (IP, or socket path)
	Port        int     `json:"port"`
	Network     string  `json:"network"` // tcp or unix
	SSLMode     string  `json:"sslmode"`
	OK          bool    `json:"ok"`
	Error       *Error  `json:"error"`
	SSLResponse *string `json:"ssl_response"`
	GSSResponse *string `json:"gss_response"`
	TLS         *TLS    `json:"tls"`
	Auth        *Auth   `json:"auth"`
	Server      *Server `json:"server"`
	Events      []Event `json:"events"`
	// Extensions.
	Index      int    `json:"index"`                // position in .attempts
	Encryption string `json:"encryption"`           // ssl or plaintext: what this try asked for
	Direct     bool   `json:"direct_tls,omitempty"` // sslnegotiation=direct: TLS without SSLRequest
	LocalAddr  string `json:"local_addr,omitempty"` // the client's address once connected
	// Addresses is every address the host name resolved to, in the order
	// libpq tries them (getaddrinfo's); absent for hostaddr and sockets.
	Addresses []string `json:"addresses,omitempty"`
	Reason    string   `json:"reason,omitempty"` // why this attempt was made (fallback, next address…)
	Role      string   `json:"role,omitempty"`   // "primary" or "standby" when the server told (in_hot_standby, pg_is_in_recovery())
	// Protocol is the protocol version negotiation: what the
	// StartupMessage asked for, what the server granted, and why.
	Protocol *Protocol `json:"protocol,omitempty"`
	// GSSEncryption says what became of GSSAPI encryption for this try
	// (gssencmode): why no GSSENCRequest was sent, as libpq decides it.
	GSSEncryption string `json:"gss_encryption,omitempty"`
	// GSS is the Kerberos GSS-API context of this try (GSSAPI encryption
	// or gss authentication), when one was started.
	GSS *GSS `json:"gss,omitempty"`
	// RoundTrips counts the protocol's exchanges in which the client waited
	// for the server: the TCP handshake, SSLRequest, the TLS handshake (one
	// for TLS 1.3, two for 1.2), the startup message, each authentication
	// response, each target_session_attrs query.
	RoundTrips int `json:"round_trips"`
}

// Log is the whole record of one probe of one target.
type Log struct {
	Schema     string     `json:"schema"`
	OK         bool       `json:"ok"`
	ExitCode   int        `json:"exit_code"`
	Target     string     `json:"target"`
	DurationMS float64    `json:"duration_ms"`
	Error      *Error     `json:"error"`
	Attempts   []*Attempt `json:"attempts"`
	// Extensions.
	StartedAt time.Time `json:"started_at"`
	Ping      string    `json:"ping,omitempty"` // with --ping: accepting, rejecting, no response, no attempt
	// Warnings are what libpq would print as WARNING before connecting
	// (a .pgpass file with group or world access, …).
	Warnings []string `json:"warnings,omitempty"`
	// Tries is how many times --wait probed the target; this record is the
	// last try's. Zero (absent) without --wait.
	Tries int `json:"tries,omitempty"`
	// With -n/--count: Runs is how many times the target was probed,
	// RunExitCodes each run's exit code in order, and Stats the timing of
	// each step and of the whole probe over the runs; this record is the
	// last run's. ExitCode is then the highest of the runs'.
	Runs         int              `json:"runs,omitempty"`
	RunExitCodes []int            `json:"run_exit_codes,omitempty"`
	Stats        map[string]Stats `json:"stats,omitempty"`
	// RunsFailed is how many of the Runs did not exit 0 (set with Runs).
	RunsFailed *int `json:"runs_failed,omitempty"`
	// EarlierFailures are the attempts before the last one that failed:
	// the hosts, addresses and encryption tries libpq gave up on before
	// the attempt that decided the verdict.
	EarlierFailures []Failure `json:"earlier_failures,omitempty"`
	// Checks are the checks asked for (--min-cert-days, --min-tls-version)
	// and how each went; absent when none was asked for or none could run
	// (no connection was made).
	Checks []Check `json:"checks,omitempty"`

	mu    sync.Mutex
	start time.Time
	seq   int
	sink  Sink
}

// Sink receives every event as it is recorded, for streaming output.
type Sink interface {
	Event(l *Log, a *Attempt, e Event)
}

// New starts a record for target (already redacted by the caller).
func New(target string, sink Sink) *Log {
	now := time.Now()
	return &Log{Schema: Schema, Target: target, StartedAt: now, start: now, sink: sink, Attempts: []*Attempt{}}
}

// Start is when the probe began.
func (l *Log) Start() time.Time { return l.start }

// AddAttempt appends a to the log and returns it.
func (l *Log) AddAttempt(a *Attempt) *Attempt {
	l.mu.Lock()
	a.Index = len(l.Attempts)
	if a.Events == nil {
		a.Events = []Event{}
	}
	l.Attempts = append(l.Attempts, a)
	l.mu.Unlock()
	return a
}

// Record appends an event to a. began is when the step started; the event's
// duration runs from began to now. The event is passed to the sink.
func (l *Log) Record(a *Attempt, state, step string, began time.Time, detail string, err *Error, data map[string]any) Event {
	now := time.Now()
	l.mu.Lock()
	l.seq++
	e := Event{
		Seq:        l.seq,
		State:      state,
		Step:       step,
		At:         now.UTC(),
		ElapsedMS:  ms(now.Sub(l.start)),
		DurationMS: ms(now.Sub(began)),
		Detail:     detail,
		Error:      err,
		Data:       data,
	}
	if err != nil && err.Step == "" {
		err.Step = step
	}
	a.Events = append(a.Events, e)
	sink := l.sink
	l.mu.Unlock()
	if sink != nil {
		sink.Event(l, a, e)
	}
	return e
}

// Finish sets the verdict: err nil means connected.
func (l *Log) Finish(err *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.DurationMS = ms(time.Since(l.start))
	l.Error = err
	l.EarlierFailures = earlierFailures(l.Attempts)
	if err == nil {
		l.OK = true
		l.ExitCode = ExitOK
		return
	}
	l.OK = false
	l.ExitCode = ExitCode(err.Class)
}

// Interrupt turns a finished record's verdict into err (class
// interrupted) with exit code code (ExitInterrupted or ExitTerminated):
// the run stopped it between probes, after the record was finished. The
// attempts keep their own errors.
func (l *Log) Interrupt(err *Error, code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Error, l.OK, l.ExitCode = err, false, code
}

// LastAttempt is the most recent attempt, or nil.
func (l *Log) LastAttempt() *Attempt {
	if len(l.Attempts) == 0 {
		return nil
	}
	return l.Attempts[len(l.Attempts)-1]
}

// Str returns a pointer to s, for the optional one-byte answers.
func Str(s string) *string { return &s }

func ms(d time.Duration) float64 {
	// Three decimals: microsecond resolution is what the clock gives us.
	return float64(d.Round(time.Microsecond).Microseconds()) / 1000
}

// MS converts a duration to the milliseconds used throughout the record.
func MS(d time.Duration) float64 { return ms(d) }
