// Package probe talks to PostgreSQL servers. Its Machine re-enacts libpq's
// PQconnectPoll one state at a time and writes every step into a
// statelog.Log; it never prints anything.
package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/internal/wire"
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
	// machines, e.g. --wait retries, can share one sink).
	Log *statelog.Log
	// Seed drives load_balance_hosts=random's shuffles (--seed); 0 picks a
	// random seed, which the record then shows.
	Seed uint64
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
	cfg      Config
	ctx      context.Context
	cancel   context.CancelFunc
	settings *conninfo.Settings
	log      *statelog.Log
	status   ConnStatusType

	hosts       []conninfo.Host
	whichHost   int
	addrs       []address
	whichAddr   int
	resolved    []string // the addresses a host name resolved to, for each attempt's record
	tryNextHost bool
	tryNextAddr bool
	port        int
	pass2       bool // prefer-standby's second pass
	lb          *loadBalance

	connectTimeout time.Duration
	addrDeadline   time.Time

	// encryption methods for the current address, in libpq's order
	encOrder []encMethod
	encIdx   int

	// the current connection
	raw      net.Conn
	w        *msgConn
	tlsConn  *tls.Conn
	ts       *tlsSetup
	sslState int // 0: SSLRequest sent, 1: 'S' received, handshake next
	att      *statelog.Attempt
	attFresh bool // att exists but no connection was made for it yet
	reason   string

	// authentication
	password        conninfo.Value
	authReqReceived bool
	// clientFinishedAuth: the client sent its password or completed SCRAM
	// (libpq's client_finished_auth, for require_auth).
	clientFinishedAuth bool
	lastSQLState       string
	sasl               *scram.ClientConversation
	saslMech           string
	params             map[string]string
	paramMsgs          int // ParameterStatus messages on this connection
	closing            bool
	tgt                targetState
	sent               bool // written since the last read: the next read is a round trip

	lastErr *statelog.Error
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
		cfg.HomeDir, _ = os.UserHomeDir()
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
	switch m.status {
	case ConnectionNeeded:
		m.stepNeeded()
	case ConnectionStarted:
		m.stepStarted()
	case ConnectionMade:
		m.stepMade()
	case ConnectionSSLStartup:
		m.stepSSLStartup()
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

func (m *Machine) record(step string, began time.Time, detail string, err *statelog.Error, data map[string]any) {
	m.log.Record(m.att, m.status.String(), step, began, detail, err, data)
}

// ---- CONNECTION_NEEDED: pick the host and address, resolve ----

func (m *Machine) stepNeeded() {
	if m.tryNextAddr {
		m.tryNextAddr = false
		m.whichAddr++
		m.encOrder = nil
	}
	if !m.tryNextHost && m.whichAddr >= len(m.addrs) {
		m.tryNextHost = true
	}
	if m.tryNextHost {
		m.tryNextHost = false
		m.whichHost++
		if m.whichHost >= len(m.hosts) {
			if m.settings.Get("target_session_attrs") == "prefer-standby" && !m.pass2 && len(m.hosts) > 0 {
				m.pass2 = true
				m.whichHost = 0
			} else {
				m.finishFailed()
				return
			}
		}
		m.resolveHost()
		return
	}
	if m.encOrder == nil {
		m.startAddress()
		if m.status == ConnectionBad {
			return
		}
	}
	if !m.attFresh {
		m.newAttempt()
	}
	m.status = ConnectionStarted
}

// maxUnixPath is sizeof(sun_path) - 1 on Linux, libpq's limit.
const maxUnixPath = 107

// resolveHost turns the current host into addresses (one Step, state
// CONNECTION_NEEDED), as the try_next_host branch of PQconnectPoll does.
func (m *Machine) resolveHost() {
	h := m.hosts[m.whichHost]
	m.addrs, m.whichAddr, m.resolved = nil, 0, nil
	m.encOrder = nil
	// connect_timeout restarts with each host and address; getaddrinfo is
	// not bounded by it (only -t bounds the lookup).
	m.addrDeadline = time.Time{}
	began := time.Now()
	m.att = m.log.AddAttempt(&statelog.Attempt{Host: displayHost(h), SSLMode: m.settings.Get("sslmode"), Reason: m.hostReason()})
	m.attFresh = true
	m.att.Network = "tcp"
	if h.Type == conninfo.UnixSocket {
		m.att.Network = "unix"
	}
	port, err := conninfo.ParsePort(h.Port)
	if err != nil {
		e := newError(statelog.ClassUsage, err.Error())
		m.record(statelog.StepResolve, began, "", e, nil)
		m.att.Error = e
		if strings.HasPrefix(err.Error(), "invalid integer value") {
			m.bad(e) // libpq gives up on every host here
			return
		}
		m.lastErr = e
		m.tryNextHost = true
		return
	}
	m.port = port
	m.att.Port = port

	switch h.Type {
	case conninfo.UnixSocket:
		path := fmt.Sprintf("%s/.s.PGSQL.%d", strings.TrimRight(h.Host, "/"), port)
		if strings.HasPrefix(h.Host, "@") {
			path = fmt.Sprintf("%s/.s.PGSQL.%d", h.Host, port)
		}
		if len(path) > maxUnixPath {
			e := newError(statelog.ClassUsage, fmt.Sprintf("Unix-domain socket path \"%s\" is too long (maximum %d bytes)", path, maxUnixPath))
			m.record(statelog.StepResolve, began, "", e, nil)
			m.att.Error, m.lastErr, m.tryNextHost = e, e, true
			return
		}
		m.addrs = []address{{network: "unix", addr: path}}
		m.record(statelog.StepResolve, began, "Unix-domain socket "+path, nil, map[string]any{"addresses": []string{path}})
	case conninfo.HostAddress:
		ip, perr := parseNumericHost(h.HostAddr)
		if perr != "" {
			e := newError(statelog.ClassUsage, fmt.Sprintf("could not parse network address \"%s\": %s", h.HostAddr, perr))
			m.record(statelog.StepResolve, began, "", e, nil)
			m.att.Error, m.lastErr, m.tryNextHost = e, e, true
			return
		}
		m.addrs = []address{{network: "tcp", addr: net.JoinHostPort(ip, strconv.Itoa(port)), ip: ip}}
		m.record(statelog.StepResolve, began, "hostaddr "+ip+" (no name lookup)", nil, map[string]any{"addresses": []string{ip}})
	default:
		ips, rerr := m.lookup(h.Host)
		if rerr != nil {
			e := rerr
			m.record(statelog.StepResolve, began, "", e, nil)
			m.att.Error, m.lastErr, m.tryNextHost = e, e, true
			return
		}
		shuffled := m.shuffleAddrs(ips)
		list := make([]string, 0, len(ips))
		for _, ip := range ips {
			m.addrs = append(m.addrs, address{network: "tcp", addr: net.JoinHostPort(ip, strconv.Itoa(port)), ip: ip})
			list = append(list, ip)
		}
		detail := fmt.Sprintf("%s → %s", h.Host, strings.Join(list, ", "))
		data := map[string]any{"addresses": list}
		if shuffled {
			detail += " (load_balance_hosts=random: addresses shuffled)"
			data["shuffled"] = true
		}
		m.record(statelog.StepResolve, began, detail, nil, data)
		m.resolved = list
		m.att.Addresses = list
	}
	m.att.HostAddr = m.addrs[0].ip
	if m.addrs[0].network == "unix" {
		m.att.HostAddr = m.addrs[0].addr
	}
}

func (m *Machine) hostReason() string {
	r := m.hostReason1()
	if m.lb != nil {
		lb := fmt.Sprintf("load_balance_hosts=random (seed %d): host %d of the shuffled list", m.lb.seed, m.whichHost+1)
		if r == "" {
			return lb
		}
		return r + "; " + lb
	}
	return r
}

func (m *Machine) hostReason1() string {
	switch {
	case m.pass2 && m.whichHost == 0:
		return "target_session_attrs=prefer-standby: no standby found, second pass accepts any server"
	case m.whichHost > 0:
		return "next host"
	}
	return ""
}

// lookup resolves a host name as getaddrinfo(AF_UNSPEC) would, with libpq's
// message on failure.
func (m *Machine) lookup(host string) ([]string, *statelog.Error) {
	if ip, perr := parseNumericHost(host); perr == "" {
		return []string{ip}, nil
	}
	r := m.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := m.ioContext()
	defer cancel()
	addrs, err := r.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		reason := "Name or service not known"
		var de *net.DNSError
		if err != nil && asDNSError(err, &de) && (de.IsTemporary || de.IsTimeout) && !de.IsNotFound {
			reason = "Temporary failure in name resolution"
		}
		if err != nil && wire.IsTimeout(err) {
			if m.overallExpired() {
				return nil, m.overallTimeoutError(statelog.StepResolve)
			}
			reason = "Temporary failure in name resolution"
		}
		e := newError(statelog.ClassDNS, fmt.Sprintf("could not translate host name \"%s\" to address: %s", host, reason))
		return nil, e
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.IP.String())
	}
	return out, nil
}

// parseNumericHost accepts what getaddrinfo(AI_NUMERICHOST) accepts.
func parseNumericHost(s string) (string, string) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), "" // keeps an IPv6 zone (fe80::1%lo), as getaddrinfo does
	}
	if a, ok := inetAton(s); ok {
		return net.IP(a[:]).String(), ""
	}
	return "", "Name or service not known"
}

func displayHost(h conninfo.Host) string {
	if h.Host != "" {
		return h.Host
	}
	return h.HostAddr
}

// startAddress resets the per-address state, as libpq's reset of the state
// machine does when it moves to a new address.
func (m *Machine) startAddress() {
	a := m.addrs[m.whichAddr]
	m.encOrder = m.allowedEncryption(a)
	m.encIdx = 0
	if m.connectTimeout > 0 {
		m.addrDeadline = time.Now().Add(m.connectTimeout)
	} else {
		m.addrDeadline = time.Time{}
	}
	if len(m.encOrder) == 0 {
		m.bad(newError(statelog.ClassUsage, "no encryption method is allowed by these settings"))
	}
}

// allowedEncryption is init_allowed_encryption_methods: never SSL on a Unix
// socket; sslmode=allow tries plaintext first, every other mode SSL first.
// This build has no GSSAPI credential cache, so GSS is never tried (libpq
// sends no GSSENCRequest then either).
func (m *Machine) allowedEncryption(a address) []encMethod {
	if a.network == "unix" {
		return []encMethod{encPlaintext}
	}
	switch m.settings.Get("sslmode") {
	case "disable":
		return []encMethod{encPlaintext}
	case "allow":
		return []encMethod{encPlaintext, encSSL}
	case "prefer", "":
		return []encMethod{encSSL, encPlaintext}
	default:
		return []encMethod{encSSL}
	}
}

func (m *Machine) currentEnc() encMethod { return m.encOrder[m.encIdx] }

// newAttempt opens a new record entry for the current address and method.
func (m *Machine) newAttempt() {
	h := m.hosts[m.whichHost]
	a := m.addrs[m.whichAddr]
	m.att = m.log.AddAttempt(&statelog.Attempt{Host: displayHost(h), Port: m.port, SSLMode: m.settings.Get("sslmode"), Reason: m.reason})
	m.att.Network = a.network
	m.att.HostAddr = a.ip
	m.att.Addresses = m.resolved
	if a.network == "unix" {
		m.att.HostAddr = a.addr
	}
	m.attFresh = true
	m.reason = ""
}

// ---- CONNECTION_STARTED: the socket connects ----

func (m *Machine) stepStarted() {
	a := m.addrs[m.whichAddr]
	m.att.Encryption = m.currentEnc().String()
	m.attFresh = false
	m.att.RoundTrips++ // the TCP handshake (or a Unix socket's connect)
	m.resetConnState()
	began := time.Now()
	ctx, cancel := m.ioContext()
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if m.cfg.Dial != nil {
		c, err = m.cfg.Dial(ctx, a.network, a.addr)
	} else {
		d := net.Dialer{}
		c, err = d.DialContext(ctx, a.network, a.addr)
	}
	if err != nil {
		if wire.IsTimeout(err) || ctx.Err() != nil {
			if m.overallExpired() {
				m.record(statelog.StepConnect, began, "", nil, nil)
				m.bad(m.overallTimeoutError(statelog.StepConnect))
				return
			}
			e := m.prefixed(newError(statelog.ClassTimeout, "timeout expired"))
			e.Errno = "ETIMEDOUT"
			m.record(statelog.StepConnect, began, "no answer within connect_timeout", e, nil)
			m.att.Error, m.lastErr = e, e
			m.tryNextAddr = true
			m.status = ConnectionNeeded
			return
		}
		hint := "\n\tIs the server running on that host and accepting TCP/IP connections?"
		if a.network == "unix" {
			hint = "\n\tIs the server running locally and accepting connections on that socket?"
		}
		e := m.prefixed(newError(statelog.ClassConnect, wire.Strerror(err)+hint))
		e.Errno = wire.ErrnoName(err)
		m.record(statelog.StepConnect, began, "", e, map[string]any{"errno": e.Errno})
		m.att.Error, m.lastErr = e, e
		m.tryNextAddr = true
		m.status = ConnectionNeeded
		return
	}
	if a.network == "unix" {
		if want := m.settings.Get("requirepeer"); want != "" {
			if msg := checkPeer(c, want); msg != "" {
				e := m.prefixed(newError(statelog.ClassAuth, msg))
				m.record(statelog.StepConnect, began, "the server process runs as another OS user than requirepeer says", e, nil)
				_ = c.Close()
				m.bad(e)
				return
			}
		}
	}
	m.raw = c
	m.w = newMsgConn(c)
	local := c.LocalAddr().String()
	if a.network == "unix" {
		local = "unix socket"
	} else {
		m.att.LocalAddr = local
	}
	m.record(statelog.StepConnect, began, fmt.Sprintf("%s connected from %s", a.addr, local),
		nil, map[string]any{"remote": a.addr, "local": local})
	m.status = ConnectionMade
}

func (m *Machine) resetConnState() {
	m.closeConn()
	m.sslState = 0
	m.ts = nil
	m.authReqReceived = false
	m.clientFinishedAuth = false
	m.sent = false
	m.lastSQLState = ""
	m.sasl = nil
	m.saslMech = ""
	m.params = map[string]string{}
	m.paramMsgs = 0
	m.tgt = targetState{}
}

func (m *Machine) closeConn() {
	if m.tlsConn != nil {
		_ = m.tlsConn.Close()
		m.tlsConn = nil
	}
	if m.raw != nil {
		_ = m.raw.Close()
		m.raw = nil
	}
	m.w = nil
}

// ---- CONNECTION_MADE: decide what to send ----

func (m *Machine) stepMade() {
	began := time.Now()
	if m.currentEnc() == encSSL && m.tlsConn == nil && m.settings.Get("sslnegotiation") == "direct" {
		// PostgreSQL 17's direct TLS: no SSLRequest, the ClientHello goes first.
		m.att.Direct = true
		m.sslState = 1
		m.status = ConnectionSSLStartup
		return
	}
	if m.currentEnc() == encSSL && m.tlsConn == nil {
		if err := m.send(&pgproto3.SSLRequest{}); err != nil {
			m.sendFailed(statelog.StepSSLRequest, began, "could not send SSL negotiation packet: ", err)
			return
		}
		m.att.SSLResponse = nil
		m.record(statelog.StepSSLRequest, began, "SSLRequest (8 bytes, code 80877103)", nil, nil)
		m.sslState = 0
		m.status = ConnectionSSLStartup
		return
	}
	params := m.startupParameters()
	if err := m.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params}); err != nil {
		m.sendFailed(statelog.StepStartup, began, "could not send startup packet: ", err)
		return
	}
	keys := make([]string, 0, len(params))
	for _, k := range startupOrder {
		if v, ok := params[k]; ok {
			keys = append(keys, k+"="+v)
		}
	}
	data := map[string]any{"protocol_version": "3.0"}
	for k, v := range params {
		data[k] = v
	}
	m.record(statelog.StepStartup, began, "StartupMessage 3.0: "+strings.Join(keys, " "), nil, data)
	m.status = ConnectionAwaitingResponse
}

var startupOrder = []string{"user", "database", "replication", "options", "application_name", "client_encoding", "datestyle", "timezone", "geqo"}

// startupParameters is build_startup_packet's list.
func (m *Machine) startupParameters() map[string]string {
	s := m.settings
	p := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	put("user", s.Get("user"))
	put("database", s.Get("dbname"))
	put("replication", s.Get("replication"))
	put("options", s.Get("options"))
	app := s.Get("application_name")
	if app == "" {
		app = s.Get("fallback_application_name")
	}
	if app == "" {
		app = "pgprobe"
	}
	put("application_name", app)
	enc := s.Get("client_encoding")
	if enc == "auto" {
		enc = localeEncoding(m.cfg.Getenv)
	}
	put("client_encoding", enc)
	for env, guc := range map[string]string{"PGDATESTYLE": "datestyle", "PGTZ": "timezone", "PGGEQO": "geqo"} {
		if v, ok := m.cfg.Getenv(env); ok && v != "" && !strings.EqualFold(v, "default") {
			p[guc] = v
		}
	}
	return p
}

func (m *Machine) send(msg pgproto3.FrontendMessage) error {
	m.setDeadline()
	m.sent = true
	return m.w.send(msg)
}

// awaitReply counts a round trip when the client reads after it wrote:
// round trips are counted by the protocol's exchanges, not by how the
// kernel happens to split the bytes.
func (m *Machine) awaitReply() {
	if m.sent {
		m.att.RoundTrips++
		m.sent = false
	}
}

func (m *Machine) sendFailed(step string, began time.Time, prefix string, err error) {
	if wire.IsTimeout(err) && m.overallExpired() {
		m.record(step, began, "", nil, nil)
		m.bad(m.overallTimeoutError(step))
		return
	}
	e := m.prefixed(newError(statelog.ClassConnect, prefix+wire.Strerror(err)))
	e.Errno = wire.ErrnoName(err)
	m.record(step, began, "", e, nil)
	m.bad(e)
}

// ---- CONNECTION_SSL_STARTUP: the one-byte answer, then the handshake ----

func (m *Machine) stepSSLStartup() {
	if m.sslState == 0 {
		m.readSSLResponse()
		return
	}
	m.tlsHandshake()
}

func (m *Machine) readSSLResponse() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	var b [1]byte
	// Exactly one byte, straight from the socket: what follows belongs to TLS.
	_, err := m.raw.Read(b[:])
	if err != nil {
		if wire.IsTimeout(err) {
			m.timeoutWhile(statelog.StepSSLResponse, began, "no answer to SSLRequest")
			return
		}
		class, msg := readError(err)
		e := m.prefixed(newError(class, msg))
		e.Errno = wire.ErrnoName(err)
		m.record(statelog.StepSSLResponse, began, "", e, nil)
		m.bad(e)
		return
	}
	m.att.SSLResponse = statelog.Str(string(b[0]))
	switch b[0] {
	case 'S':
		m.record(statelog.StepSSLResponse, began, "'S': the server will do TLS", nil, map[string]any{"byte": "S"})
		m.sslState = 1
	case 'N':
		m.record(statelog.StepSSLResponse, began, "'N': the server does not do SSL", nil, map[string]any{"byte": "N"})
		m.encryptionNegotiationFailed("server does not support SSL, but SSL was required")
	case 'E':
		// CVE-2024-10977: the text after 'E' comes from an unauthenticated
		// peer; libpq no longer reads it, and neither do we trust it.
		e := m.prefixed(newError(statelog.ClassSSL, "server sent an error response during SSL exchange"))
		e.Untrusted = m.peekUntrusted()
		m.record(statelog.StepSSLResponse, began, "'E': an error before any encryption", e, map[string]any{"byte": "E"})
		m.bad(e)
	default:
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("received invalid response to SSL negotiation: %c", b[0])))
		m.record(statelog.StepSSLResponse, began, fmt.Sprintf("byte 0x%02x is not S, N or E: is this a PostgreSQL server?", b[0]), e, map[string]any{"byte": string(b[0])})
		m.bad(e)
	}
}

// peekUntrusted reads, briefly and boundedly, what an 'E' answer carried, so
// the record can show it as untrusted bytes.
func (m *Machine) peekUntrusted() string {
	buf := make([]byte, 512)
	_ = m.raw.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, _ := m.raw.Read(buf)
	return strconv.QuoteToASCII(string(buf[:n]))
}

func (m *Machine) tlsHandshake() {
	began := time.Now()
	h := m.hosts[m.whichHost]
	// CVE-2021-23222: bytes that came with or right after 'S' were not
	// encrypted; libpq refuses them once the handshake is done.
	// libpq has them in its input buffer, so OpenSSL never sees them and the
	// handshake goes on; take them off the socket likewise.
	extra := wire.PendingBytes(m.raw)
	if extra > 0 {
		_, _ = io.ReadFull(m.raw, make([]byte, extra))
	}
	ts, cfgErr := m.newTLSSetup(h.Host)
	if cfgErr != nil {
		e := m.prefixed(cfgErr)
		m.record(statelog.StepTLSHandshake, began, "", e, nil)
		m.connectionFailed(e)
		return
	}
	m.ts = ts
	tc := tls.Client(m.raw, ts.cfg)
	m.setDeadline()
	err := tc.HandshakeContext(m.ctx)
	ts.close()
	m.att.TLS = ts.info
	if err != nil {
		if wire.IsTimeout(err) {
			m.timeoutWhile(statelog.StepTLSHandshake, began, "TLS handshake did not complete")
			return
		}
		minV := m.settings.Get("ssl_min_protocol_version")
		if minV == "" {
			minV = "TLSv1"
		}
		maxV := m.settings.Get("ssl_max_protocol_version")
		if maxV == "" {
			maxV = "TLSv1.3"
		}
		msg := tlsHandshakeError(err, ts, minV, maxV)
		if ts.chainErr != nil {
			ts.info.VerifyError = ts.chainErr.Error()
		}
		e := m.prefixed(newError(statelog.ClassTLS, msg))
		detail := err.Error()
		if extra > 0 {
			detail += fmt.Sprintf(" (%d unencrypted bytes had arrived right after 'S')", extra)
		}
		m.record(statelog.StepTLSHandshake, began, detail, e, nil)
		m.connectionFailed(e)
		return
	}
	m.tlsConn = tc
	cs := tc.ConnectionState()
	if cs.Version >= tls.VersionTLS13 {
		m.att.RoundTrips++ // ClientHello → ServerHello … Finished
	} else {
		m.att.RoundTrips += 2 // TLS 1.2 needs a second flight before Finished
	}
	if cs.HelloRetryRequest {
		m.att.RoundTrips++ // the server wanted another key share: a second ClientHello
	}
	ts.info.KeyExchange = wire.GroupName(cs.CurveID)
	ts.info.HelloRetryRequest = cs.HelloRetryRequest
	ts.info.Version = wire.TLSVersionName(cs.Version)
	ts.info.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	ts.info.ALPN = cs.NegotiatedProtocol
	if extra > 0 {
		e := m.prefixed(newError(statelog.ClassSSL, "received unencrypted data after SSL response"))
		m.record(statelog.StepTLSHandshake, began, fmt.Sprintf("%d unencrypted bytes arrived right after 'S'", extra), e, nil)
		m.bad(e)
		return
	}
	if m.att.Direct && cs.NegotiatedProtocol != "postgresql" {
		msg := "direct SSL connection was established without ALPN protocol negotiation extension"
		if cs.NegotiatedProtocol != "" {
			msg = "SSL connection was established with unexpected ALPN protocol"
		}
		e := m.prefixed(newError(statelog.ClassTLS, msg))
		m.record(statelog.StepTLSHandshake, began, fmt.Sprintf("%s %s, ALPN %q", ts.info.Version, ts.info.Cipher, cs.NegotiatedProtocol), e, nil)
		m.connectionFailed(e)
		return
	}
	if ts.verifyName && len(cs.PeerCertificates) > 0 {
		if err := VerifyPeerName(cs.PeerCertificates[0], h.Host); err != nil {
			ts.info.VerifyError = err.Error()
			e := m.prefixed(newError(statelog.ClassTLS, err.Error()))
			m.record(statelog.StepTLSHandshake, began, ts.info.Version+" "+ts.info.Cipher+": the chain is trusted but the name is not", e, nil)
			m.connectionFailed(e)
			return
		}
	}
	ts.info.Verified = ts.verifyChain
	detail := fmt.Sprintf("%s %s", ts.info.Version, ts.info.Cipher)
	if cs.HelloRetryRequest {
		detail += fmt.Sprintf(" (the server asked again for a %s key share: one more round trip)", ts.info.KeyExchange)
	}
	if m.att.Direct {
		detail = "direct TLS (no SSLRequest), ALPN postgresql, " + detail
	}
	switch {
	case ts.verifyName:
		detail += ", chain and host name verified"
	case ts.verifyChain:
		detail += ", chain verified against " + ts.rootFile
	default:
		detail += ", server certificate not verified (sslmode=" + m.settings.Get("sslmode") + ", no root certificate)"
	}
	if ts.keyLogErr != "" {
		detail += "; " + ts.keyLogErr
	} else if ts.cfg.KeyLogWriter != nil {
		detail += "; TLS secrets appended to " + m.settings.Get("sslkeylogfile")
	}
	m.record(statelog.StepTLSHandshake, began, detail, nil, map[string]any{"version": ts.info.Version, "cipher": ts.info.Cipher, "alpn": ts.info.ALPN})
	m.w = newMsgConn(tc)
	m.status = ConnectionMade
}

// ---- CONNECTION_AWAITING_RESPONSE: authentication ----

func (m *Machine) stepAwaitingResponse() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	// One byte first, as libpq's pqGetc: a peer that is not PostgreSQL is
	// recognised at once, not after waiting for a length that never comes.
	typ, err := m.w.r.ReadByte()
	if err != nil {
		waiting := "no answer to the startup message"
		if m.authReqReceived {
			waiting = "no answer to the authentication response"
		}
		m.readFailed(statelog.StepAuthRequest, began, err, waiting)
		return
	}
	switch typ {
	case 'R', 'E', 'v':
	default:
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("expected authentication request from server, but received %c", typ)))
		m.record(statelog.StepAuthRequest, began, fmt.Sprintf("message type 0x%02x: is this a PostgreSQL server?", typ), e, nil)
		m.bad(e)
		return
	}
	length, err := m.w.length()
	if err != nil {
		m.readFailed(statelog.StepAuthRequest, began, err, "a message was cut short")
		return
	}
	if (typ == 'R' || typ == 'v') && (length < 8 || length > 2000) {
		msg := "received invalid authentication request"
		if typ == 'v' {
			msg = "received invalid protocol negotiation message"
		}
		e := m.prefixed(newError(statelog.ClassProtocol, msg))
		m.record(statelog.StepAuthRequest, began, fmt.Sprintf("length %d is outside 8..2000", length), e, nil)
		m.bad(e)
		return
	}
	if typ == 'E' && (length < 8 || length > 30000) {
		// A pre-3.0 server's error: text up to a NUL, which libpq shows.
		m.oldStyleError(began, length)
		return
	}
	body, err := m.w.body(length - 4)
	if err != nil {
		m.readFailed(statelog.StepAuthRequest, began, err, "a message was cut short")
		return
	}
	switch typ {
	case 'E':
		m.handleStartupError(began, body)
	case 'v':
		m.handleNegotiate(began, body)
	case 'R':
		m.handleAuth(began, body)
	}
}

// oldStyleError reads a protocol-2 error (what a postmaster that could not
// fork a backend still sends): the four "length" bytes are already text.
func (m *Machine) oldStyleError(began time.Time, length int) {
	var lb [4]byte
	for i := 0; i < 4; i++ {
		lb[3-i] = byte(length >> (8 * i))
	}
	text := append(make([]byte, 0, 256), lb[:]...)
	if i := indexByte(text, 0); i >= 0 {
		text = text[:i]
	} else {
		for len(text) < 30000 {
			b, err := m.w.r.ReadByte()
			if err != nil || b == 0 {
				break
			}
			text = append(text, b)
		}
	}
	e := m.prefixed(newError(statelog.ClassServer, strings.TrimRight(string(text), "\n")))
	m.record(statelog.StepErrorResponse, began, "an old-style (protocol 2) error message", e, nil)
	m.bad(e)
}

func (m *Machine) handleStartupError(began time.Time, body []byte) {
	var er pgproto3.ErrorResponse
	if err := er.Decode(body); err != nil {
		e := m.prefixed(newError(statelog.ClassProtocol, "received invalid error message"))
		m.record(statelog.StepErrorResponse, began, err.Error(), e, nil)
		m.bad(e)
		return
	}
	e := m.serverError(&er)
	m.lastSQLState = er.Code
	if er.Code == "28P01" && m.password.Source == conninfo.SourcePgpass {
		e.Message += fmt.Sprintf("\npassword retrieved from file \"%s\"", passfileOf(m.password.Origin))
	}
	m.record(statelog.StepErrorResponse, began, er.Severity+": "+er.Message, e, map[string]any{"sqlstate": er.Code})
	if er.Code == "57P03" {
		// cannot_connect_now: libpq moves on to the next host.
		m.att.Error, m.lastErr = e, e
		m.closeConn()
		m.tryNextHost = true
		m.status = ConnectionNeeded
		return
	}
	m.connectionFailed(e)
}

func passfileOf(origin string) string {
	if i := strings.LastIndexByte(origin, ':'); i > 0 {
		return origin[:i]
	}
	return origin
}

func (m *Machine) handleNegotiate(began time.Time, body []byte) {
	var nv pgproto3.NegotiateProtocolVersion
	if err := nv.Decode(body); err != nil {
		e := m.prefixed(newError(statelog.ClassProtocol, "received invalid protocol negotiation message"))
		m.record(statelog.StepNegotiate, began, err.Error(), e, nil)
		m.bad(e)
		return
	}
	var msg string
	if nv.NewestMinorProtocol < 0 {
		msg = "received invalid protocol negotiation message"
	} else if len(nv.UnrecognizedOptions) > 0 {
		msg = "protocol extension(s) not supported by server: " + strings.Join(nv.UnrecognizedOptions, ", ")
	} else {
		msg = fmt.Sprintf("protocol version not supported by server: client uses 3.0, server supports up to 3.%d", nv.NewestMinorProtocol)
	}
	e := m.prefixed(newError(statelog.ClassProtocol, msg))
	m.record(statelog.StepNegotiate, began, fmt.Sprintf("server's newest minor version 3.%d", nv.NewestMinorProtocol), e, nil)
	m.bad(e)
}

// serverError keeps every field of an ErrorResponse.
func (m *Machine) serverError(er *pgproto3.ErrorResponse) *statelog.Error {
	class := statelog.ClassServer
	if strings.HasPrefix(er.Code, "28") {
		class = statelog.ClassAuth
	}
	sev := er.SeverityUnlocalized
	if sev == "" {
		sev = er.Severity
	}
	msg := sev + ":  " + er.Message
	e := m.prefixed(newError(class, msg))
	e.SQLState, e.Severity, e.Detail, e.Hint = er.Code, sev, er.Detail, er.Hint
	return e
}

// ---- CONNECTION_AUTH_OK: ParameterStatus, BackendKeyData, ReadyForQuery ----

func (m *Machine) stepAuthOK() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	typ, length, err := m.w.header()
	if err != nil {
		m.readFailed(statelog.StepReadyForQuery, began, err, "no ReadyForQuery after AuthenticationOk")
		return
	}
	if length < 4 {
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("invalid message length %d from server", length)))
		m.record(statelog.StepReadyForQuery, began, "", e, nil)
		m.bad(e)
		return
	}
	body, err := m.w.body(length - 4)
	if err != nil {
		m.readFailed(statelog.StepReadyForQuery, began, err, "a message was cut short")
		return
	}
	msg, derr := decode(typ, body)
	if derr != nil {
		e := m.prefixed(newError(statelog.ClassProtocol, "unexpected message from server during startup"))
		m.record(statelog.StepReadyForQuery, began, derr.Error(), e, nil)
		m.bad(e)
		return
	}
	switch v := msg.(type) {
	case *pgproto3.ParameterStatus:
		// A hostile server can send ParameterStatus without end: record
		// the first maxParameterEvents, then one event saying the rest are
		// only counted, so that the record stays bounded.
		m.paramMsgs++
		if _, known := m.params[v.Name]; known || len(m.params) < maxParameterEvents {
			m.params[v.Name] = v.Value
			m.serverInfo().Parameters[v.Name] = v.Value
		}
		switch {
		case m.paramMsgs <= maxParameterEvents:
			m.record(statelog.StepParameter, began, v.Name+" = "+v.Value, nil, map[string]any{"name": v.Name, "value": v.Value})
		case m.paramMsgs == maxParameterEvents+1:
			m.record(statelog.StepParameter, began, fmt.Sprintf("more than %d ParameterStatus messages: the rest are not recorded", maxParameterEvents), nil, map[string]any{"truncated": true})
		}
	case *pgproto3.BackendKeyData:
		m.serverInfo().BackendPID = v.ProcessID
		m.record(statelog.StepBackendKeyData, began, fmt.Sprintf("backend pid %d", v.ProcessID), nil, map[string]any{"pid": v.ProcessID})
	case *pgproto3.NoticeResponse:
		m.record(statelog.StepNotice, began, v.Severity+": "+v.Message, nil, nil)
	case *pgproto3.ErrorResponse:
		e := m.serverError((*pgproto3.ErrorResponse)(v))
		m.lastSQLState = v.Code
		m.record(statelog.StepErrorResponse, began, v.Severity+": "+v.Message, e, map[string]any{"sqlstate": v.Code})
		m.bad(e) // after AuthenticationOk: no fallback, no next host
	case *pgproto3.ReadyForQuery:
		m.record(statelog.StepReadyForQuery, began, fmt.Sprintf("ReadyForQuery (transaction status %c)", v.TxStatus), nil, nil)
		m.status = ConnectionCheckTarget
	default:
		e := m.prefixed(newError(statelog.ClassProtocol, "unexpected message from server during startup"))
		m.record(statelog.StepReadyForQuery, began, fmt.Sprintf("message type %c", typ), e, nil)
		m.bad(e)
	}
}

// maxParameterEvents bounds the parameter_status events (and distinct
// parameters) recorded per connection; PostgreSQL sends about 15.
const maxParameterEvents = 1000

func (m *Machine) serverInfo() *statelog.Server {
	if m.att.Server == nil {
		m.att.Server = &statelog.Server{Parameters: map[string]string{}, ProtocolVersion: "3.0"}
	}
	return m.att.Server
}

// ---- CONNECTION_OK: say goodbye ----

func (m *Machine) stepClose() {
	began := time.Now()
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

// ---- failures and fallbacks ----

// prefixed adds emitHostIdentityInfo's prefix, as libpq does to every error
// once an address was chosen.
func (m *Machine) prefixed(e *statelog.Error) *statelog.Error {
	if m.whichHost < 0 || m.whichHost >= len(m.hosts) || len(m.addrs) == 0 || m.whichAddr >= len(m.addrs) {
		return e
	}
	if strings.HasPrefix(e.Message, "connection to server ") {
		return e
	}
	h := m.hosts[m.whichHost]
	a := m.addrs[m.whichAddr]
	var p string
	switch {
	case a.network == "unix":
		p = fmt.Sprintf("connection to server on socket \"%s\" failed: ", a.addr)
	case h.Host != "" && h.HostAddr == "" && h.Host != a.ip:
		p = fmt.Sprintf("connection to server at \"%s\" (%s), port %d failed: ", h.Host, a.ip, m.port)
	default:
		name := h.Host
		if h.HostAddr != "" {
			name = h.HostAddr
		}
		p = fmt.Sprintf("connection to server at \"%s\", port %d failed: ", name, m.port)
	}
	e.Message = p + e.Message
	return e
}

// connectionFailed is libpq's CONNECTION_FAILED(): try the next encryption
// method on a new connection, or give up.
func (m *Machine) connectionFailed(e *statelog.Error) {
	m.att.Error, m.lastErr = e, e
	m.closeConn()
	if m.encIdx+1 < len(m.encOrder) {
		prev := m.currentEnc()
		m.encIdx++
		m.reason = fmt.Sprintf("sslmode=%s: the %s attempt failed, retrying with %s on a new connection",
			m.settings.Get("sslmode"), prev, m.currentEnc())
		m.status = ConnectionNeeded
		return
	}
	m.bad(e)
}

// encryptionNegotiationFailed is ENCRYPTION_NEGOTIATION_FAILED(): the server
// said 'N'; the next method may reuse this very connection.
func (m *Machine) encryptionNegotiationFailed(msg string) {
	if m.encIdx+1 < len(m.encOrder) {
		m.encIdx++
		m.att.Encryption = m.currentEnc().String()
		m.status = ConnectionMade
		return
	}
	e := m.prefixed(newError(statelog.ClassSSL, msg))
	m.att.Error = e
	m.att.Events[len(m.att.Events)-1].Error = e
	if prev := m.lastErr; prev != nil && prev.SQLState != "" && m.encIdx > 0 {
		// sslmode=allow: plaintext was refused by the server, then SSL was
		// refused too. libpq reports both; the server's refusal is the one
		// to act on, so it decides the verdict.
		m.bad(prev)
		return
	}
	m.bad(e)
}

func (m *Machine) readFailed(step string, began time.Time, err error, waiting string) {
	if wire.IsTimeout(err) {
		m.timeoutWhile(step, began, waiting)
		return
	}
	var e *statelog.Error
	if strings.Contains(err.Error(), "exceeds the") {
		e = m.prefixed(newError(statelog.ClassProtocol, "server sent a message too long to be real: "+err.Error()))
	} else if m.tlsConn != nil && wire.IsEOF(err) {
		e = m.prefixed(newError(statelog.ClassConnect, "SSL connection has been closed unexpectedly"))
	} else {
		class, msg := readError(err)
		e = m.prefixed(newError(class, msg))
		e.Errno = wire.ErrnoName(err)
	}
	m.record(step, began, waiting, e, nil)
	m.bad(e)
}

// timeoutWhile handles a deadline that passed while a step waited: the whole
// probe's (-t) ends everything; connect_timeout moves to the next address.
func (m *Machine) timeoutWhile(step string, began time.Time, waiting string) {
	waited := time.Since(began).Round(time.Millisecond)
	if m.overallExpired() {
		e := m.overallTimeoutError(step)
		e.Message = m.prefixed(e).Message
		m.record(step, began, fmt.Sprintf("%s after %s", waiting, waited), e, nil)
		m.att.Error = e
		m.bad(e)
		return
	}
	e := m.prefixed(newError(statelog.ClassTimeout, "timeout expired"))
	m.record(step, began, fmt.Sprintf("%s after %s (connect_timeout)", waiting, waited), e, nil)
	m.att.Error, m.lastErr = e, e
	m.closeConn()
	m.tryNextAddr = true
	m.status = ConnectionNeeded
}

func (m *Machine) overallTimeoutError(step string) *statelog.Error {
	e := newError(statelog.ClassTimeout, "timeout expired")
	e.Step = step
	return e
}

func (m *Machine) overallExpired() bool {
	d, ok := m.ctx.Deadline()
	return (ok && !time.Now().Before(d)) || m.ctx.Err() != nil
}

// bad is error_return: CONNECTION_BAD, the probe ends.
func (m *Machine) bad(e *statelog.Error) {
	m.closeConn()
	if m.att != nil && m.att.Error == nil {
		m.att.Error = e
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
		c.Detail = fmt.Sprintf("no server fits target_session_attrs=%s (%d host(s) tried)", m.settings.Get("target_session_attrs"), len(m.hosts))
		e = &c
	}
	m.status = ConnectionBad
	m.finish(e)
}

func (m *Machine) finish(e *statelog.Error) {
	m.cancel()
	m.log.Finish(e)
	if m.cfg.Ping {
		m.pingVerdict(e)
	}
}

// pingVerdict is internal_ping: an authentication request, or any SQLSTATE
// but 57P03, means the server is up.
func (m *Machine) pingVerdict(e *statelog.Error) {
	switch {
	case e == nil || m.authReqReceived:
		m.log.Ping, m.log.ExitCode = "accepting connections", statelog.ExitOK
	case e.Class == statelog.ClassUsage && len(m.log.Attempts) == 0:
		m.log.Ping, m.log.ExitCode = "no attempt", statelog.ExitNoAttempt
	case m.lastSQLState == "57P03":
		m.log.Ping, m.log.ExitCode = "rejecting connections", statelog.ExitRejected
	case m.lastSQLState != "":
		m.log.Ping, m.log.ExitCode = "accepting connections", statelog.ExitOK
	default:
		m.log.Ping, m.log.ExitCode = "no response", statelog.ExitNoAnswer
	}
	m.log.OK = m.log.ExitCode == statelog.ExitOK
}

// ---- deadlines ----

// deadline is the earlier of the probe's and the address's deadlines.
func (m *Machine) deadline() time.Time {
	d, ok := m.ctx.Deadline()
	if !ok {
		d = time.Time{}
	}
	if !m.addrDeadline.IsZero() && (d.IsZero() || m.addrDeadline.Before(d)) {
		d = m.addrDeadline
	}
	return d
}

func (m *Machine) setDeadline() {
	c := m.raw
	if m.tlsConn != nil {
		c = m.tlsConn
	}
	if c != nil {
		_ = c.SetDeadline(m.deadline())
	}
}

func (m *Machine) ioContext() (context.Context, context.CancelFunc) {
	if d := m.deadline(); !d.IsZero() {
		return context.WithDeadline(m.ctx, d)
	}
	return context.WithCancel(m.ctx)
}

func netIPString(b []byte) string { return net.IP(b).String() }
