package probe

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

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
	m.attempt.Error, m.lastErr = e, e
	m.closeConn()
	if m.whichEnc+1 < len(m.allowedEnc) {
		prev := m.currentEnc()
		m.whichEnc++
		m.nextReason = fmt.Sprintf("sslmode=%s: the %s attempt failed, retrying with %s on a new connection",
			m.settings.Get("sslmode"), prev, m.currentEnc())
		m.status = ConnectionNeeded
		return
	}
	m.bad(e)
}

// readFailed words a failed read as libpq does and ends the probe (a
// connect_timeout moves on to the next address instead).
func (m *Machine) readFailed(step string, began time.Time, err error, waiting string) {
	if wire.IsTimeout(err) {
		m.timeoutWhile(step, began, waiting)
		return
	}
	var e *statelog.Error
	if strings.Contains(err.Error(), "exceeds the") {
		e = m.prefixed(newError(statelog.ClassProtocol, "server sent a message too long to be real: "+err.Error()))
	} else if m.conn.tlsConn != nil && wire.IsEOF(err) {
		e = m.prefixed(newError(statelog.ClassConnect, "SSL connection has been closed unexpectedly"))
	} else {
		class, msg := readError(err)
		e = m.prefixed(newError(class, msg))
		e.Errno = wire.ErrnoName(err)
	}
	m.record(step, began, waiting, e, nil)
	m.bad(e)
}

// sendFailed words a failed write as libpq does and ends the probe.
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

// serverClosed is libpq's text for a connection the server dropped.
const serverClosed = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."

// readError turns a failed read from the server into libpq's wording.
func readError(err error) (class, msg string) {
	switch {
	case wire.IsTimeout(err):
		return statelog.ClassTimeout, "timeout expired"
	case wire.IsEOF(err):
		return statelog.ClassConnect, serverClosed
	}
	if wire.IsConnReset(err) {
		return statelog.ClassConnect, serverClosed
	}
	return statelog.ClassConnect, "could not receive data from server: " + wire.Strerror(err)
}

func newError(class, msg string) *statelog.Error {
	return &statelog.Error{Class: class, Message: msg}
}
