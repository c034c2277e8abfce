// Package probe is the client side of pgprobe. Its Machine re-enacts libpq's
// PQconnectPoll one state at a time and writes every step into a
// statelog.Log; it never prints anything.
//
// The files follow PQconnectPoll's states: connect.go (CONNECTION_NEEDED,
// CONNECTION_STARTED), sslstartup.go (CONNECTION_SSL_STARTUP), tls.go and
// tlshandshake.go (initialize_SSL and the handshake), startup.go
// (CONNECTION_MADE, CONNECTION_AWAITING_RESPONSE, CONNECTION_AUTH_OK),
// auth.go (pg_fe_sendauth), target.go (CONNECTION_CHECK_TARGET and its
// queries); fail.go and deadline.go hold the failures and timeouts every
// state shares, messages.go the framing of backend messages.
package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// Config is one probe of one target.
type Config struct {
	Settings *conninfo.Settings
	Target   string // as the user gave it, passwords already redacted
	// Ping stops at the server's first answer to the startup message and
	// gives pg_isready's verdict.
	Ping bool
	// Timeout bounds the whole probe (0: no bound beyond connect_timeout).
	Timeout time.Duration
	HomeDir string
	Getenv  func(string) (string, bool)
	Sink    statelog.Sink
	// Dial and Resolver replace the network for tests; nil means the real one.
	Dial     func(ctx context.Context, network, address string) (net.Conn, error)
	Resolver *net.Resolver
	// Log, when set, is written into instead of a new record (several
	// machines, e.g. retries until a deadline, can share one sink).
	Log *statelog.Log
	// Seed drives load_balance_hosts=random's shuffles; 0 picks a
	// random seed, which the record then shows.
	Seed uint64
	// OnPeerChain, when set, gets the certificates (DER, leaf first) of
	// each TLS handshake that received any, whether or not they verified.
	OnPeerChain func(chain [][]byte)
}

// address is one resolved address of a host.
type address struct {
	network string // tcp or unix
	addr    string // dial address: "ip:port" or a socket path
	ip      string // the numeric address ("" for Unix sockets)
}

// Machine is libpq's connection state machine. Call Step until it returns
// false; Log then holds the whole story.
type Machine struct {
	cfg            Config
	ctx            context.Context
	cancel         context.CancelFunc
	settings       *conninfo.Settings
	log            *statelog.Log
	status         ConnStatusType
	connectTimeout time.Duration // connect_timeout, per host and address

	// Where to connect next: libpq's connhost[whichhost] and addr[whichaddr].
	hosts              []conninfo.Host
	whichHost          int
	addrs              []address
	whichAddr          int
	resolvedIPs        []string // what the host name resolved to, for each attempt's record
	tryNextHost        bool
	tryNextAddr        bool
	port               int
	preferStandbyPass2 bool // target_session_attrs=prefer-standby's second pass over the hosts
	loadBalance        *loadBalance
	addrDeadline       time.Time // connect_timeout's deadline for the current address

	// The encryption methods allowed for the current address, in libpq's
	// order (allowed_enc_methods), and the one being tried (current_enc_method).
	allowedEnc []encMethod
	whichEnc   int

	krb           *krbCreds         // the Kerberos credentials, once looked for
	attempt       *statelog.Attempt // the record entry being written
	attemptUnused bool              // attempt exists but no connection was made for it yet
	nextReason    string            // why the next attempt is made, for its record
	password      conninfo.Value    // the host's password, once the server asked for one
	lastErr       *statelog.Error
	closing       bool // CONNECTION_OK reached; Terminate is still to be sent
	finished      bool // the record has its verdict
	watch         watch

	conn connState
}

// connState is what belongs to one connection; a new connection starts
// from a fresh one.
type connState struct {
	raw      net.Conn
	msgs     *msgConn
	tlsConn  *tls.Conn // set once the handshake succeeded
	tlsSetup *tlsSetup
	// sslInUse is libpq's ssl_in_use as CONNECTION_SSL_STARTUP tests it:
	// 'S' was received (or direct TLS chosen), the handshake comes next.
	sslInUse bool
	// gssInUse: 'G' was received, the GSSAPI handshake comes next; gss is
	// the context (of GSSAPI encryption or of gss authentication) and
	// gssConn the encrypted session once established.
	gssInUse bool
	gss      *gssContext
	gssConn  *gssConn

	authReqReceived bool
	// clientFinishedAuth: the client sent its password or completed SCRAM
	// (libpq's client_finished_auth, for require_auth).
	clientFinishedAuth bool
	lastSQLState       string
	sasl               *scram.ClientConversation
	saslMech           string
	params             map[string]string
	paramMsgs          int // ParameterStatus messages on this connection
	target             targetState
	wroteSinceRead     bool // the next read completes a round trip
	// pversion is libpq's conn->pversion: the version asked for in the
	// StartupMessage, then the one NegotiateProtocolVersion settled on;
	// minPversion is min_protocol_version.
	pversion, minPversion uint32
	pversionNegotiated    bool
}

// Run probes once and returns the record.
func Run(ctx context.Context, cfg Config) *statelog.Log {
	m := New(ctx, cfg)
	for m.Step() {
	}
	return m.Log()
}

// New prepares a machine in CONNECTION_NEEDED.
func New(ctx context.Context, cfg Config) *Machine {
	if cfg.Getenv == nil {
		cfg.Getenv = os.LookupEnv
	}
	if cfg.HomeDir == "" {
		cfg.HomeDir = conninfo.HomeDir(cfg.Getenv)
	}
	var cancel context.CancelFunc = func() {}
	if cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
	}
	log := cfg.Log
	if log == nil {
		log = statelog.New(cfg.Target, cfg.Sink)
	}
	m := &Machine{cfg: cfg, ctx: ctx, cancel: cancel, settings: cfg.Settings, log: log,
		status: ConnectionNeeded, whichHost: -1, tryNextHost: true}
	m.watch.stop = context.AfterFunc(ctx, m.watch.ctxDone)
	hosts, err := cfg.Settings.Hosts()
	if err != nil {
		m.bad(newError(statelog.ClassUsage, err.Error()))
		return m
	}
	m.hosts = hosts
	m.initLoadBalance()
	if v := cfg.Settings.Get("connect_timeout"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			m.connectTimeout = time.Duration(n) * time.Second
		}
	}
	return m
}

// Log is the record so far (complete once Step has returned false).
func (m *Machine) Log() *statelog.Log { return m.log }

// Status is the current libpq state.
func (m *Machine) Status() ConnStatusType { return m.status }

// Step advances the machine by one state, as one call of PQconnectPoll
// does, and reports whether there is more to do.
func (m *Machine) Step() bool {
	if m.status == ConnectionBad || (m.status == ConnectionOK && !m.closing) {
		return false
	}
	// Interrupted with a socket open, the step runs: its next wait ends at
	// once (watch) and records what it was waiting for.
	if it, ok := m.interruption(); ok && m.conn.raw == nil {
		m.interrupt(it, "", time.Now(), "")
		return false
	}
	switch m.status {
	case ConnectionNeeded:
		m.stepNeeded()
	case ConnectionStarted:
		m.stepStarted()
	case ConnectionMade:
		m.stepMade()
	case ConnectionSSLStartup:
		m.stepSSLStartup()
	case ConnectionGSSStartup:
		m.stepGSSStartup()
	case ConnectionAwaitingResponse:
		m.stepAwaitingResponse()
	case ConnectionAuthOK:
		m.stepAuthOK()
	case ConnectionCheckTarget:
		m.stepCheckTarget()
	case ConnectionCheckWritable, ConnectionCheckStandby:
		m.stepCheckQuery()
	case ConnectionConsume:
		m.stepConsume()
	case ConnectionOK:
		m.stepClose()
	default:
		m.bad(newError(statelog.ClassProtocol, "invalid connection state, probably indicative of memory corruption"))
	}
	return m.status != ConnectionBad && !(m.status == ConnectionOK && !m.closing)
}

// record writes one event of the current attempt, in the current state.
func (m *Machine) record(step string, began time.Time, detail string, err *statelog.Error, data map[string]any) {
	m.log.Record(m.attempt, m.status.String(), step, began, detail, err, data)
}

// closeGrace is how long an interrupted probe gives its last Terminate.
const closeGrace = 100 * time.Millisecond

// stepClose follows CONNECTION_OK: the probe says goodbye (Terminate) and
// closes, as PQfinish does, also when interrupted: the connection is
// established, so the server is owed its Terminate.
func (m *Machine) stepClose() {
	began := time.Now()
	if _, ok := m.interruption(); ok {
		m.watch.finalDeadline(m.conn.raw, began.Add(closeGrace))
	}
	m.setDeadline()
	err := m.send(&pgproto3.Terminate{})
	m.closeConn()
	detail := "Terminate sent, connection closed"
	if err != nil {
		detail = "connection closed (Terminate not sent: " + err.Error() + ")"
	}
	m.record(statelog.StepClose, began, detail, nil, nil)
	m.closing = false
	m.finish(nil)
}

// bad is error_return: CONNECTION_BAD, the probe ends.
func (m *Machine) bad(e *statelog.Error) {
	m.closeConn()
	if m.attempt != nil && m.attempt.Error == nil {
		m.attempt.Error = e
	}
	m.status = ConnectionBad
	m.finish(e)
}

// finishFailed ends after every host was tried.
func (m *Machine) finishFailed() {
	e := m.lastErr
	if e == nil {
		e = newError(statelog.ClassUsage, "no host to connect to")
	}
	if e.Class == statelog.ClassTarget && e.Detail == "" {
		c := *e
		tried := "the only host was tried"
		if len(m.hosts) > 1 {
			tried = fmt.Sprintf("%d hosts tried", len(m.hosts))
		}
		c.Detail = fmt.Sprintf("no server fits target_session_attrs=%s (%s)", m.settings.Get("target_session_attrs"), tried)
		e = &c
	}
	m.status = ConnectionBad
	m.finish(e)
}

// finish closes the record (and, for a ping, gives pg_isready's verdict).
func (m *Machine) finish(e *statelog.Error) {
	m.finished = true
	m.watch.stop()
	m.cancel()
	m.log.Finish(m.accumulated(e))
	if m.cfg.Ping {
		m.pingVerdict(e)
	}
}

// pingVerdict is internal_ping: an authentication request, or any SQLSTATE
// but 57P03, means the server is up.
func (m *Machine) pingVerdict(e *statelog.Error) {
	switch {
	case e != nil && e.Class == statelog.ClassInterrupted:
		m.log.Ping, m.log.ExitCode = "interrupted", statelog.ExitInterrupted
	case e == nil || m.conn.authReqReceived:
		m.log.Ping, m.log.ExitCode = "accepting connections", statelog.ExitOK
	case e.Class == statelog.ClassUsage && len(m.log.Attempts) == 0:
		m.log.Ping, m.log.ExitCode = "no attempt", statelog.ExitNoAttempt
	case m.conn.lastSQLState == "57P03":
		m.log.Ping, m.log.ExitCode = "rejecting connections", statelog.ExitRejected
	case m.conn.lastSQLState != "":
		m.log.Ping, m.log.ExitCode = "accepting connections", statelog.ExitOK
	default:
		m.log.Ping, m.log.ExitCode = "no response", statelog.ExitNoAnswer
	}
	m.log.OK = m.log.ExitCode == statelog.ExitOK
}
