package probe

// Interrupts: the user stops a probe (SIGINT, SIGTERM) by cancelling its
// context. Unlike a deadline, which is a verdict on the server (class
// timeout), an interrupt says nothing about the server: the probe ends at
// once, with what it recorded so far and class interrupted. The socket is
// closed as PQfinish closes it: Terminate only on an established
// connection (sendTerminateConn), never during startup.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// Interrupt is the cause a caller gives context.WithCancelCause's cancel
// when the user stops the run. A context cancelled with any other cause
// (or none) is an interrupt too, with SIGINT's exit code and no signal name.
type Interrupt struct {
	Signal   string // "SIGINT", "SIGTERM"
	ExitCode int    // statelog.ExitInterrupted or statelog.ExitTerminated
}

func (i *Interrupt) Error() string {
	if i.Signal == "" {
		return "interrupted"
	}
	return "interrupted by " + i.Signal
}

// Interrupted reports whether ctx was cancelled by its caller, and how; a
// context that ended by a deadline, or has not ended, was not interrupted.
func Interrupted(ctx context.Context) (*Interrupt, bool) {
	if !errors.Is(ctx.Err(), context.Canceled) {
		return nil, false
	}
	var it *Interrupt
	if errors.As(context.Cause(ctx), &it) {
		return it, true
	}
	return &Interrupt{ExitCode: statelog.ExitInterrupted}, true
}

// InterruptError is the record's error for an interrupt; what says what was
// going on ("before this target was probed", ": no answer to SSLRequest
// after 2s").
func InterruptError(it *Interrupt, what string) *statelog.Error {
	return newError(statelog.ClassInterrupted, it.Error()+what)
}

// interruption is Interrupted for the machine's context, while it runs
// (finish cancels the context itself).
func (m *Machine) interruption() (*Interrupt, bool) {
	if m.finished {
		return nil, false
	}
	return Interrupted(m.ctx)
}

// interrupt ends the probe for an interrupt. step, when not empty, is the
// step that was waiting (since began, for waiting): its event records the
// interrupt. An open socket is closed without Terminate: the probe is
// still in the startup phase (an established connection says goodbye in
// stepClose, interrupted or not).
func (m *Machine) interrupt(it *Interrupt, step string, began time.Time, waiting string) {
	waited := fmt.Sprintf("%s after %s", waiting, time.Since(began).Round(time.Millisecond))
	what := " in " + m.status.String()
	switch {
	case len(m.log.Attempts) == 0:
		what = " before this target was probed"
	case waiting != "":
		what = ": " + waited
	}
	e := InterruptError(it, what)
	if m.attempt != nil {
		if step != "" {
			m.record(step, began, waited+" (interrupted)", e, nil)
		}
		if m.attempt.Error == nil {
			m.attempt.Error = e
		}
	}
	if m.conn.raw != nil {
		t := time.Now()
		m.closeConn()
		m.record(statelog.StepClose, t, "socket closed without Terminate (libpq sends Terminate only on an established connection)", nil, nil)
	}
	m.status = ConnectionBad
	m.finish(e)
	m.log.Interrupt(m.log.Error, it.ExitCode)
}

// watch makes the socket's waits end the moment the probe's context ends
// (an interrupt, or the whole probe's deadline): a read blocked on a
// server that never answers returns at once instead of when the deadline
// the socket was given passes.
type watch struct {
	mu    sync.Mutex
	conn  net.Conn // the current socket (nil between connections)
	ended bool     // the context ended: every deadline is in the past
	final bool     // the last Terminate is being sent: leave its deadline be
	stop  func() bool
}

// expired is a deadline long past.
var expired = time.Unix(1, 0)

func (w *watch) ctxDone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.conn != nil && !w.final {
		_ = w.conn.SetDeadline(expired)
	}
}

// use makes c the socket to watch (nil: none).
func (w *watch) use(c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn = c
	if c != nil && w.ended && !w.final {
		_ = c.SetDeadline(expired)
	}
}

// setDeadline gives c deadline d, or a past one once the context ended.
func (w *watch) setDeadline(c net.Conn, d time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.final {
		return
	}
	if w.ended {
		d = expired
	}
	_ = c.SetDeadline(d)
}

// finalDeadline gives c until d for the last write, whatever the context.
func (w *watch) finalDeadline(c net.Conn, d time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.final = true
	_ = c.SetDeadline(d)
}
