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
)

// Exit codes: pg_isready's 0–3, plus 4 for a failed check.
const (
	ExitOK        = 0
	ExitRejected  = 1
	ExitNoAnswer  = 2
	ExitNoAttempt = 3
	ExitCheck     = 4
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
	Method         string   `json:"method"` // trust password md5 scram-sha-256 scram-sha-256-plus gss sspi cert
	Mechanisms     []string `json:"mechanisms"`
	ChannelBinding bool     `json:"channel_binding"`
	// Extensions.
	PasswordSource string `json:"password_source,omitempty"` // where the password came from: conninfo, env, pgpass, prompt
	Iterations     int    `json:"scram_iterations,omitempty"`
}

// Server is what the server told about itself after authentication.
type Server struct {
	Parameters      map[string]string `json:"parameters"`
	BackendPID      uint32            `json:"backend_pid"`
	ProtocolVersion string            `json:"protocol_version"`
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
	if err == nil {
		l.OK = true
		l.ExitCode = ExitOK
		return
	}
	l.OK = false
	l.ExitCode = ExitCode(err.Class)
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
