package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// stepNeeded is CONNECTION_NEEDED: move to the next address or host (the
// try_next_addr and try_next_host labels), resolve a new host, and open
// the record's attempt for the address about to be connected.
func (m *Machine) stepNeeded() {
	if m.tryNextAddr {
		m.tryNextAddr = false
		m.whichAddr++
		m.allowedEnc = nil
	}
	if !m.tryNextHost && m.whichAddr >= len(m.addrs) {
		m.tryNextHost = true
	}
	if m.tryNextHost {
		m.tryNextHost = false
		m.whichHost++
		if m.whichHost >= len(m.hosts) {
			if m.settings.Get("target_session_attrs") == "prefer-standby" && !m.preferStandbyPass2 && len(m.hosts) > 0 {
				m.preferStandbyPass2 = true
				m.whichHost = 0
			} else {
				m.finishFailed()
				return
			}
		}
		m.resolveHost()
		return
	}
	if m.allowedEnc == nil {
		m.startAddress()
		if m.status == ConnectionBad {
			return
		}
	}
	if !m.attemptUnused {
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
	m.addrs, m.whichAddr, m.resolvedIPs = nil, 0, nil
	m.allowedEnc = nil
	// connect_timeout restarts with each host and address; getaddrinfo is
	// not bounded by it (only the probe's Timeout bounds the lookup).
	m.addrDeadline = time.Time{}
	began := time.Now()
	m.attempt = m.log.AddAttempt(&statelog.Attempt{Host: displayHost(h), SSLMode: m.settings.Get("sslmode"), Reason: m.hostReason()})
	m.attemptUnused = true
	m.attempt.Network = "tcp"
	if h.Type == conninfo.UnixSocket {
		m.attempt.Network = "unix"
	}
	port, err := conninfo.ParsePort(h.Port)
	if err != nil {
		e := newError(statelog.ClassUsage, err.Error())
		if strings.HasPrefix(err.Error(), "invalid integer value") {
			m.record(statelog.StepResolve, began, "", e, nil)
			m.attempt.Error = e
			m.bad(e) // libpq gives up on every host here
			return
		}
		m.resolveFailed(began, e)
		return
	}
	m.port = port
	m.attempt.Port = port

	var ok bool
	switch h.Type {
	case conninfo.UnixSocket:
		ok = m.resolveUnixSocket(began, h.Host)
	case conninfo.HostAddress:
		ok = m.resolveHostAddr(began, h.HostAddr)
	default:
		ok = m.resolveName(began, h.Host)
	}
	if !ok {
		return
	}
	m.attempt.HostAddr = m.addrs[0].ip
	if m.addrs[0].network == "unix" {
		m.attempt.HostAddr = m.addrs[0].addr
	}
}

// resolveFailed records why the current host gave no address and moves on
// to the next host.
func (m *Machine) resolveFailed(began time.Time, e *statelog.Error) {
	m.record(statelog.StepResolve, began, "", e, nil)
	m.attempt.Error, m.lastErr, m.tryNextHost = e, e, true
}

// resolveUnixSocket is a host that is a directory: the socket file in it.
func (m *Machine) resolveUnixSocket(began time.Time, dir string) bool {
	path := fmt.Sprintf("%s/.s.PGSQL.%d", strings.TrimRight(dir, "/"), m.port)
	if strings.HasPrefix(dir, "@") {
		path = fmt.Sprintf("%s/.s.PGSQL.%d", dir, m.port)
	}
	if len(path) > maxUnixPath {
		m.resolveFailed(began, newError(statelog.ClassUsage, fmt.Sprintf("Unix-domain socket path \"%s\" is too long (maximum %d bytes)", path, maxUnixPath)))
		return false
	}
	m.addrs = []address{{network: "unix", addr: path}}
	m.record(statelog.StepResolve, began, "Unix-domain socket "+path, nil, map[string]any{"addresses": []string{path}})
	return true
}

// resolveHostAddr is hostaddr: a numeric address, no name lookup.
func (m *Machine) resolveHostAddr(began time.Time, hostaddr string) bool {
	ip, perr := parseNumericHost(hostaddr)
	if perr != "" {
		m.resolveFailed(began, newError(statelog.ClassUsage, fmt.Sprintf("could not parse network address \"%s\": %s", hostaddr, perr)))
		return false
	}
	m.addrs = []address{{network: "tcp", addr: net.JoinHostPort(ip, strconv.Itoa(m.port)), ip: ip}}
	m.record(statelog.StepResolve, began, "hostaddr "+ip+" (no name lookup)", nil, map[string]any{"addresses": []string{ip}})
	return true
}

// resolveName looks a host name up; load_balance_hosts=random shuffles
// what it resolved to.
func (m *Machine) resolveName(began time.Time, host string) bool {
	ips, e := m.lookup(host)
	if it, ok := m.interruption(); ok && e != nil {
		m.interrupt(it, statelog.StepResolve, began, fmt.Sprintf("%q not resolved yet", host))
		return false
	}
	if e != nil {
		m.resolveFailed(began, e)
		return false
	}
	shuffled := m.shuffleAddrs(ips)
	list := make([]string, 0, len(ips))
	for _, ip := range ips {
		m.addrs = append(m.addrs, address{network: "tcp", addr: net.JoinHostPort(ip, strconv.Itoa(m.port)), ip: ip})
		list = append(list, ip)
	}
	detail := fmt.Sprintf("%s → %s", host, strings.Join(list, ", "))
	data := map[string]any{"addresses": list}
	if shuffled {
		detail += " (load_balance_hosts=random: addresses shuffled)"
		data["shuffled"] = true
	}
	m.record(statelog.StepResolve, began, detail, nil, data)
	m.resolvedIPs = list
	m.attempt.Addresses = list
	return true
}

// hostReason says why a host is tried, for its first attempt's record.
func (m *Machine) hostReason() string {
	var why []string
	switch {
	case m.preferStandbyPass2 && m.whichHost == 0:
		why = append(why, "target_session_attrs=prefer-standby: no standby found, second pass accepts any server")
	case m.whichHost > 0:
		why = append(why, "next host")
	}
	if m.loadBalance != nil {
		why = append(why, fmt.Sprintf("load_balance_hosts=random (seed %d): host %d of the shuffled list", m.loadBalance.seed, m.whichHost+1))
	}
	return strings.Join(why, "; ")
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

func asDNSError(err error, target **net.DNSError) bool { return errors.As(err, target) }

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
	m.allowedEnc = m.allowedEncryption(a)
	m.whichEnc = 0
	if m.connectTimeout > 0 {
		m.addrDeadline = time.Now().Add(m.connectTimeout)
	} else {
		m.addrDeadline = time.Time{}
	}
	if e := m.gssEncryption(a); e != nil {
		m.bad(e)
		return
	}
	if len(m.allowedEnc) == 0 {
		m.bad(newError(statelog.ClassUsage, "no encryption method is allowed by these settings"))
	}
}

// allowedEncryption is init_allowed_encryption_methods: never SSL on a Unix
// socket; sslmode=allow tries plaintext first, every other mode SSL first.
// GSSAPI encryption is decided apart (gss.go), and comes first.
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

func (m *Machine) currentEnc() encMethod { return m.allowedEnc[m.whichEnc] }

// newAttempt opens a new record entry for the current address and method.
func (m *Machine) newAttempt() {
	h := m.hosts[m.whichHost]
	a := m.addrs[m.whichAddr]
	m.attempt = m.log.AddAttempt(&statelog.Attempt{Host: displayHost(h), Port: m.port, SSLMode: m.settings.Get("sslmode"), Reason: m.nextReason})
	m.attempt.Network = a.network
	m.attempt.HostAddr = a.ip
	m.attempt.Addresses = m.resolvedIPs
	if a.network == "unix" {
		m.attempt.HostAddr = a.addr
	}
	m.attemptUnused = true
	m.nextReason = ""
}

// stepStarted is CONNECTION_STARTED: the socket connects (libpq's
// connect() and its wait for writability in one).
func (m *Machine) stepStarted() {
	a := m.addrs[m.whichAddr]
	m.attempt.Encryption = m.currentEnc().String()
	m.attemptUnused = false
	m.attempt.RoundTrips++ // the TCP handshake (or a Unix socket's connect)
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
		m.connectFailed(began, a, err, ctx.Err() != nil)
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
	m.conn.raw = c
	m.watch.use(c)
	m.conn.msgs = newMsgConn(c)
	local := c.LocalAddr().String()
	if a.network == "unix" {
		local = "unix socket"
	} else {
		m.attempt.LocalAddr = local
	}
	m.record(statelog.StepConnect, began, fmt.Sprintf("%s connected from %s", a.addr, local),
		nil, map[string]any{"remote": a.addr, "local": local})
	m.status = ConnectionMade
}

// connectFailed words a failed connect as libpq does and moves on to the
// next address; the probe's own deadline ends everything instead.
func (m *Machine) connectFailed(began time.Time, a address, err error, ctxDone bool) {
	if it, ok := m.interruption(); ok {
		m.interrupt(it, statelog.StepConnect, began, "connect() still in progress")
		return
	}
	if wire.IsTimeout(err) || ctxDone {
		if m.overallExpired() {
			m.record(statelog.StepConnect, began, "", nil, nil)
			m.bad(m.overallTimeoutError(statelog.StepConnect))
			return
		}
		e := m.prefixed(newError(statelog.ClassTimeout, "timeout expired"))
		e.Errno = "ETIMEDOUT"
		m.record(statelog.StepConnect, began, "no answer within connect_timeout", e, nil)
		m.attempt.Error, m.lastErr = e, e
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
	m.attempt.Error, m.lastErr = e, e
	m.tryNextAddr = true
	m.status = ConnectionNeeded
}

// checkPeer is requirepeer: the OS user running the server at the other end
// of a Unix socket must be the one named. It returns libpq's message, or "".
func checkPeer(c net.Conn, want string) string {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return "requirepeer parameter is not supported on this platform"
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return "could not get peer credentials: " + err.Error()
	}
	uid, err := peerUID(rc)
	if errors.Is(err, errNoPeerCred) {
		return "requirepeer parameter is not supported on this platform"
	}
	if err != nil {
		return "could not get peer credentials: " + wire.Strerror(err)
	}
	u, err := user.LookupId(strconv.Itoa(int(uid)))
	if err != nil && int(uid) == os.Getuid() {
		// Without cgo, LookupId reads only /etc/passwd, which on macOS
		// lacks the people; Current falls back to $USER for oneself.
		u, err = user.Current()
	}
	if err != nil {
		return fmt.Sprintf("could not look up local user ID %d: %s", uid, err)
	}
	if u.Username != want {
		return fmt.Sprintf("requirepeer specifies \"%s\", but actual peer user name is \"%s\"", want, u.Username)
	}
	return ""
}

// resetConnState closes the previous connection and forgets what it
// learned, as pqDropConnection and pqDropServerData do.
func (m *Machine) resetConnState() {
	m.closeConn()
	m.conn = connState{params: map[string]string{}}
}

// closeConn closes the TLS layer and the socket, if any.
func (m *Machine) closeConn() {
	m.watch.use(nil)
	if m.conn.tlsConn != nil {
		_ = m.conn.tlsConn.Close()
		m.conn.tlsConn = nil
	}
	if m.conn.raw != nil {
		_ = m.conn.raw.Close()
		m.conn.raw = nil
	}
	m.conn.msgs = nil
}
