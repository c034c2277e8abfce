package probe

import (
	"cmp"
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
		mode := "sslmode=" + m.settings.Get("sslmode")
		if prev == encGSS {
			mode = "gssencmode=" + m.settings.Get("gssencmode")
		}
		m.nextReason = fmt.Sprintf("%s: the %s attempt failed, retrying with %s on a new connection",
			mode, prev, m.currentEnc())
		m.status = ConnectionNeeded
		return
	}
	m.bad(e)
}

// readFailed words a failed read as libpq does and ends the probe (a
// connect_timeout moves on to the next address instead).
func (m *Machine) readFailed(step string, began time.Time, err error, waiting string) {
	if it, ok := m.interruption(); ok {
		m.interrupt(it, step, began, cmp.Or(waiting, "no answer"))
		return
	}
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
	if e.Class == statelog.ClassConnect && step == statelog.StepAuthRequest && !m.conn.authReqReceived && closedByPeer(err) {
		// A server that hangs up on the startup message without a word has
		// refused the packet itself (ProcessStartupPacket only logs "invalid
		// length of startup packet"): the socket was fine.
		e.Class = statelog.ClassProtocol
	}
	m.record(step, began, waiting, e, nil)
	m.bad(e)
}

// closedByPeer: the read failed because the peer closed or reset the
// connection.
func closedByPeer(err error) bool {
	return wire.IsEOF(err) || wire.IsConnReset(err)
}

// sendFailed words a failed write as libpq does and ends the probe.
func (m *Machine) sendFailed(step string, began time.Time, prefix string, err error) {
	if it, ok := m.interruption(); ok {
		m.interrupt(it, step, began, "a send had not completed")
		return
	}
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

// accumulated is libpq's conn->errorMessage when the connection fails:
// every failed attempt's message in turn, each on its own line(s), as psql
// prints them (libpq clears it only on success). The result is a copy of e
// with the longer message and no advice yet; e itself, which the attempt
// and its event hold, keeps its own message.
func (m *Machine) accumulated(e *statelog.Error) *statelog.Error {
	if e == nil {
		return nil
	}
	var parts []string
	found := false
	for _, a := range m.log.Attempts {
		if a == nil || a.Error == nil {
			continue
		}
		// e may be a copy of the attempt's error with more detail
		// (finishFailed's target_session_attrs summary).
		final := a.Error == e || a.Error.Message == e.Message && a.Error.Class == e.Class
		found = found || final
		parts = append(parts, libpqText(a.Error, !final))
	}
	if !found {
		parts = append(parts, e.Message)
	}
	if len(parts) < 2 {
		return e
	}
	c := *e
	c.Message = strings.Join(parts, "\n")
	c.Advice = ""
	return &c
}

// libpqText is an error as libpq appends it to conn->errorMessage: a
// server's ErrorResponse with its DETAIL and HINT lines (PQERRORS_DEFAULT).
// The final error's own DETAIL and HINT stay in their fields.
func libpqText(e *statelog.Error, withFields bool) string {
	s := e.Message
	if !withFields || e.Severity == "" {
		return s
	}
	if e.Detail != "" {
		s += "\nDETAIL:  " + e.Detail
	}
	if e.Hint != "" {
		s += "\nHINT:  " + e.Hint
	}
	return s
}
