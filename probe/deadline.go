package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// timeoutWhile handles a deadline that passed while a step waited: the whole
// probe's (-t) ends everything; connect_timeout moves to the next address.
func (m *Machine) timeoutWhile(step string, began time.Time, waiting string) {
	if it, ok := m.interruption(); ok {
		m.interrupt(it, step, began, waiting)
		return
	}
	waited := time.Since(began).Round(time.Millisecond)
	if m.overallExpired() {
		e := m.overallTimeoutError(step)
		e.Message = m.prefixed(e).Message
		m.record(step, began, fmt.Sprintf("%s after %s", waiting, waited), e, nil)
		m.attempt.Error = e
		m.bad(e)
		return
	}
	e := m.prefixed(newError(statelog.ClassTimeout, "timeout expired"))
	m.record(step, began, fmt.Sprintf("%s after %s (connect_timeout)", waiting, waited), e, nil)
	m.attempt.Error, m.lastErr = e, e
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
	c := m.conn.raw
	if m.conn.tlsConn != nil {
		c = m.conn.tlsConn
	}
	if c != nil {
		m.watch.setDeadline(c, m.deadline())
	}
}

func (m *Machine) ioContext() (context.Context, context.CancelFunc) {
	if d := m.deadline(); !d.IsZero() {
		return context.WithDeadline(m.ctx, d)
	}
	return context.WithCancel(m.ctx)
}
