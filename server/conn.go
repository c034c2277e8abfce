package server

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// backend is one client connection, from BackendInitialize to proc_exit.
// Its methods are named after the PostgreSQL functions they re-enact; the
// writes go through the connection's Script.
type backend struct {
	s      *Server
	raw    net.Conn
	conn   net.Conn // raw, or the TLS connection once it is up
	tc     *tls.Conn
	r      *bufio.Reader // messages after the startup packet
	sess   *statelog.Session
	script *Script
	counts map[string]int
	unix   bool

	user   string
	params map[string]string
	pid    uint32
	key    []byte
	// protocol is the version this session speaks: the client's, or the
	// server's newest when the client asked for more (FrontendProtocol).
	protocol uint32
	// gss is the Kerberos context, once accepted.
	gss *gssAcceptor
	// lastAnswer says what the server last did before waiting for a
	// startup packet, to explain a client that leaves then.
	lastAnswer string

	ended   bool
	outcome string
	err     *statelog.Error
}

func newBackend(s *Server, c net.Conn, index int, laddr net.Addr) *backend {
	network, client := "tcp", c.RemoteAddr().String()
	unixSock := laddr.Network() == "unix" || laddr.Network() == "unixpacket"
	if unixSock {
		network, client = "unix", "[local]"
	}
	sc := (*Script)(nil)
	if s.cfg.Script != nil {
		sc = s.cfg.Script(index)
	}
	if sc == nil {
		sc = &Script{}
	}
	return &backend{s: s, raw: c, conn: c, sess: statelog.NewSession(index, client, network, laddr.String()),
		script: sc, counts: map[string]int{}, unix: unixSock}
}

func (h *backend) record(state, step string, began time.Time, detail string, err *statelog.Error, data map[string]any) {
	h.sess.Record(state, step, began, detail, err, data)
}

// end fixes how the session ended; the first call wins.
func (h *backend) end(outcome string, err *statelog.Error) {
	if h.ended {
		return
	}
	h.ended, h.outcome, h.err = true, outcome, err
}

func (h *backend) deadline() { _ = h.raw.SetDeadline(time.Now().Add(h.s.cfg.Timeout)) }

// run is BackendInitialize, then the backend's life.
func (h *backend) run() {
	defer h.finish()
	began := time.Now()
	host := h.sess.Client
	detail := "connection received: host=" + host
	if hh, port, err := net.SplitHostPort(host); err == nil {
		detail = "connection received: host=" + hh + " port=" + port
	}
	h.record(StateBackendInitialize, statelog.StepConnect, began, detail, nil, map[string]any{"client": h.sess.Client, "listen": h.sess.Listen})

	first, ok := h.processSSLStartup()
	if !ok {
		return
	}
	if !h.processStartupPacket(first) {
		return
	}
	if !h.authenticate() {
		return
	}
	h.afterAuthentication()
}

// finish closes the connection and the record.
func (h *backend) finish() {
	if h.pid != 0 {
		h.s.dropBackendKey(h.pid)
	}
	began := time.Now()
	if h.tc != nil {
		_ = h.raw.SetDeadline(time.Now().Add(time.Second))
		_ = h.tc.Close()
	} else {
		_ = h.raw.Close()
	}
	if !h.ended {
		h.end(statelog.OutcomeDropped, nil)
	}
	h.record(StateProcExit, statelog.StepClose, began, "connection closed", nil, nil)
	h.sess.Finish(h.outcome, h.err)
}

// action returns the script's Action for this occurrence of step.
func (h *backend) action(step string) Action {
	h.counts[step]++
	n := h.counts[step]
	for _, a := range h.script.Actions {
		if a.Step == step && (a.Nth == 0 || a.Nth == n) {
			return a
		}
	}
	return Action{}
}

// write sends msg for step with the script's changes; false means the
// connection is over (the server is closing, or the write failed).
func (h *backend) write(step string, began time.Time, msg []byte) (Action, bool) {
	a := h.action(step)
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-h.s.done:
			t.Stop()
			h.stopped(step, began)
			return a, false
		}
	}
	out := append([]byte{}, a.Before...)
	if a.Replace != nil {
		out = append(out, a.Replace...)
	} else {
		out = append(out, msg...)
	}
	out = append(out, a.After...)
	if len(out) == 0 {
		return a, true
	}
	h.deadline()
	if _, err := h.conn.Write(out); err != nil {
		h.writeFailed(step, began, err)
		return a, false
	}
	return a, true
}

// afterAction closes the connection when the action says so.
func (h *backend) afterAction(step string, a Action) bool {
	if !a.Close && !a.Reset {
		return true
	}
	t := time.Now()
	how := "closed"
	if a.Reset {
		how = "reset (RST)"
		if tcp, ok := h.raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = h.raw.Close()
		h.tc = nil
	}
	h.record(StateProcExit, statelog.StepClose, t, "script: connection "+how+" at "+step, nil, nil)
	h.end(statelog.OutcomeDropped, nil)
	return false
}

// emit sends one message (or batch) and records it.
func (h *backend) emit(state, step string, began time.Time, msg []byte, detail string, err *statelog.Error, data map[string]any) bool {
	a, ok := h.write(step, began, msg)
	if !ok {
		return false
	}
	if note := a.describe(); note != "" {
		detail += " (" + note + ")"
	}
	h.record(state, step, began, detail, err, data)
	return h.afterAction(step, a)
}

func (h *backend) writeFailed(step string, began time.Time, err error) {
	if h.s.isClosed() {
		h.stopped(step, began)
		return
	}
	e := &statelog.Error{Class: statelog.ClassConnect, Message: "could not send data to client: " + wire.Strerror(err), Errno: wire.ErrnoName(err)}
	if wire.IsTimeout(err) {
		e = &statelog.Error{Class: statelog.ClassTimeout, Message: "timeout expired while sending to the client"}
	}
	h.record(stateOfStep(step), step, began, "", e, nil)
	h.end(statelog.OutcomeClientClosed, e)
}

// stopped ends a connection because the server is shutting down.
func (h *backend) stopped(step string, began time.Time) {
	e := &statelog.Error{Class: statelog.ClassConnect, Message: "terminating connection because pgprobe is stopping"}
	h.record(stateOfStep(step), step, began, "", e, nil)
	h.end(statelog.OutcomeDropped, e)
}

func stateOfStep(step string) string {
	switch step {
	case statelog.StepSSLResponse, statelog.StepGSSResponse, statelog.StepNegotiate, statelog.StepStartup, statelog.StepSSLRequest, statelog.StepGSSRequest:
		return StateProcessStartupPacket
	case statelog.StepTLSHandshake:
		return StateSecureOpenServer
	case statelog.StepGSSHandshake:
		return StateSecureOpenGSSAPI
	case statelog.StepAuthRequest, statelog.StepAuthResponse, statelog.StepAuthOK:
		return StateClientAuthentication
	case statelog.StepParameter, statelog.StepBackendKeyData, statelog.StepReadyForQuery, statelog.StepQuery:
		return StatePostgresMain
	}
	return StateProcExit
}

// fatal sends a FATAL ErrorResponse and ends the session. class, when not
// empty, marks the session as gone wrong.
func (h *backend) fatal(state string, began time.Time, code, msg, detail, hint, class string) {
	er := &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg, Detail: detail, Hint: hint}
	var e *statelog.Error
	if class != "" {
		e = &statelog.Error{Class: class, Message: msg, SQLState: code, Severity: "FATAL", Detail: detail, Hint: hint}
	}
	if h.emit(state, statelog.StepErrorResponse, began, encode(er), "FATAL "+code+": "+msg, e, map[string]any{"sqlstate": code}) {
		h.end(statelog.OutcomeRefused, e)
	} else if e != nil && h.err == nil {
		h.err = e
	}
}

// commerror is ereport(COMMERROR): logged, nothing sent, connection dropped.
func (h *backend) commerror(state, step string, began time.Time, class, code, msg, detail string) {
	e := &statelog.Error{Class: class, Message: msg, SQLState: code, Detail: detail}
	h.record(state, step, began, detail, e, nil)
	h.end(statelog.OutcomeDropped, e)
}

// readFailed explains a read that did not complete.
func (h *backend) readFailed(state, step string, began time.Time, err error, waiting, clientLeft string) {
	switch {
	case h.s.isClosed():
		h.stopped(step, began)
	case wire.IsTimeout(err):
		e := &statelog.Error{Class: statelog.ClassTimeout, Message: "timeout expired " + waiting}
		h.record(state, step, began, fmt.Sprintf("nothing from the client for %s", h.s.cfg.Timeout), e, nil)
		h.end(statelog.OutcomeDropped, e)
	case wire.IsEOF(err) || isReset(err):
		e := &statelog.Error{Class: statelog.ClassConnect, Message: "the client closed the connection " + waiting, Errno: wire.ErrnoName(err)}
		h.record(state, step, began, clientLeft, e, nil)
		h.end(statelog.OutcomeClientClosed, e)
	default:
		e := &statelog.Error{Class: statelog.ClassConnect, Message: "could not receive data from client: " + wire.Strerror(err), Errno: wire.ErrnoName(err)}
		h.record(state, step, began, waiting, e, nil)
		h.end(statelog.OutcomeClientClosed, e)
	}
}

func isReset(err error) bool {
	return wire.IsConnReset(err)
}

// errMessageLength is a message whose length word is out of bounds.
var errMessageLength = errors.New("invalid message length")

// readMessage reads one typed frontend message of at most max body bytes.
func (h *backend) readMessage(max int) (byte, []byte, error) {
	if h.r == nil {
		h.r = bufio.NewReaderSize(h.conn, 8192)
	}
	h.deadline()
	var hdr [5]byte
	if _, err := io.ReadFull(h.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	if n < 0 || n > int64(max) {
		return hdr[0], nil, fmt.Errorf("%w: %d-byte %q message", errMessageLength, n+4, hdr[0])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(h.r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}
