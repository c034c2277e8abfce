package probe

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// stepMade is CONNECTION_MADE: ask for SSL first when this attempt wants it
// and has none yet, otherwise send the StartupMessage.
func (m *Machine) stepMade() {
	if m.currentEnc() == encGSS && m.conn.gssConn == nil {
		m.startGSS()
		return
	}
	if m.currentEnc() == encSSL && m.conn.tlsConn == nil {
		m.startSSL()
		return
	}
	m.sendStartup()
}

// sendStartup is CONNECTION_MADE's last branch: build_startup_packet and
// send it, with the version libpq 18 asks for (max_protocol_version).
// pgproto3 encodes 3.0 and 3.2 StartupMessages alike.
func (m *Machine) sendStartup() {
	began := time.Now()
	params := m.startupParameters()
	version := m.startProtocol()
	keys := make([]string, 0, len(params))
	for _, k := range startupOrder {
		if v, ok := params[k]; ok {
			keys = append(keys, k+"="+quoteStartupValue(v))
		}
	}
	// packet_bytes: PostgreSQL refuses a startup packet over 10000 bytes
	// without a word, and the advice has to say so.
	size := 4 + 4 + 1
	data := map[string]any{"protocol_version": versionString(version)}
	for k, v := range params {
		data[k] = v
		size += len(k) + 1 + len(v) + 1
	}
	data["packet_bytes"] = size
	detail := "StartupMessage " + versionString(version) + ": " + strings.Join(keys, " ")
	if err := m.send(&pgproto3.StartupMessage{ProtocolVersion: version, Parameters: params}); err != nil {
		if !closedByPeer(err) {
			m.sendFailed(statelog.StepStartup, began, "could not send startup packet: ", err)
			return
		}
		// The server hung up while the packet was on its way: it read the
		// length and refused the packet, as it does one over 10000 bytes.
		e := m.prefixed(newError(statelog.ClassProtocol, "could not send startup packet: "+wire.Strerror(err)))
		e.Errno = wire.ErrnoName(err)
		m.record(statelog.StepStartup, began, detail, e, data)
		m.bad(e)
		return
	}
	m.record(statelog.StepStartup, began, detail, nil, data)
	m.status = ConnectionAwaitingResponse
}

// quoteStartupValue quotes a value as a libpq connection string would,
// when it holds white space, a quote or a backslash: database='my db'.
func quoteStartupValue(v string) string {
	if !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
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

// localeEncoding is client_encoding=auto: the encoding of the user's locale,
// named as PostgreSQL names it (pg_get_encoding_from_locale).
func localeEncoding(getenv func(string) (string, bool)) string {
	loc := ""
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v, ok := getenv(k); ok && v != "" {
			loc = v
			break
		}
	}
	if loc == "" || loc == "C" || loc == "POSIX" {
		return "SQL_ASCII"
	}
	cs := loc
	if i := strings.IndexByte(cs, '.'); i >= 0 {
		cs = cs[i+1:]
	} else {
		return "SQL_ASCII"
	}
	if i := strings.IndexByte(cs, '@'); i >= 0 {
		cs = cs[:i]
	}
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(cs))
	switch norm {
	case "utf8":
		return "UTF8"
	case "iso88591", "latin1":
		return "LATIN1"
	case "iso88592":
		return "LATIN2"
	case "iso885915":
		return "LATIN9"
	case "iso88595":
		return "ISO_8859_5"
	case "koi8r":
		return "KOI8R"
	case "koi8u":
		return "KOI8U"
	case "eucjp":
		return "EUC_JP"
	case "euckr":
		return "EUC_KR"
	case "gbk", "cp936":
		return "GBK"
	case "big5":
		return "BIG5"
	case "cp1251":
		return "WIN1251"
	case "cp1252":
		return "WIN1252"
	case "ansix3.41968", "ascii", "usascii":
		return "SQL_ASCII"
	}
	return strings.ToUpper(cs)
}

// stepAwaitingResponse is CONNECTION_AWAITING_RESPONSE: the server's answer
// to the startup message or to the last authentication response, one of
// ErrorResponse, NegotiateProtocolVersion or an authentication request.
func (m *Machine) stepAwaitingResponse() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	// One byte first, as libpq's pqGetc: a peer that is not PostgreSQL is
	// recognised at once, not after waiting for a length that never comes.
	typ, err := m.conn.msgs.r.ReadByte()
	if err != nil {
		waiting := "no answer to the startup message"
		if m.conn.authReqReceived {
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
	length, err := m.conn.msgs.length()
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
	body, err := m.conn.msgs.body(length - 4)
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
		m.protocolAccepted()
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
			b, err := m.conn.msgs.r.ReadByte()
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

// handleStartupError is an ErrorResponse before AuthenticationOk: 57P03
// (the server is starting up) moves to the next host, as libpq does; any
// other error ends this attempt, leaving libpq's fallbacks to decide.
func (m *Machine) handleStartupError(began time.Time, body []byte) {
	var er pgproto3.ErrorResponse
	if err := er.Decode(body); err != nil {
		e := m.prefixed(newError(statelog.ClassProtocol, "received invalid error message"))
		m.record(statelog.StepErrorResponse, began, err.Error(), e, nil)
		m.bad(e)
		return
	}
	e := m.serverError(&er)
	m.conn.lastSQLState = er.Code
	if er.Code == "28P01" && m.password.Source == conninfo.SourcePgpass {
		e.Message += fmt.Sprintf("\npassword retrieved from file \"%s\"", passfileOf(m.password.Origin))
	}
	m.record(statelog.StepErrorResponse, began, er.Severity+": "+er.Message, e, map[string]any{"sqlstate": er.Code})
	if er.Code == "57P03" {
		// cannot_connect_now: libpq moves on to the next host.
		m.attempt.Error, m.lastErr = e, e
		m.closeConn()
		m.tryNextHost = true
		m.status = ConnectionNeeded
		return
	}
	m.connectionFailed(e)
}

// passfileOf is the password file of an origin "FILE:LINE".
func passfileOf(origin string) string {
	if i := strings.LastIndexByte(origin, ':'); i > 0 {
		return origin[:i]
	}
	return origin
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

// stepAuthOK is CONNECTION_AUTH_OK: read ParameterStatus, BackendKeyData
// and notices until ReadyForQuery.
func (m *Machine) stepAuthOK() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	typ, length, err := m.conn.msgs.header()
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
	body, err := m.conn.msgs.body(length - 4)
	if err != nil {
		m.readFailed(statelog.StepReadyForQuery, began, err, "a message was cut short")
		return
	}
	if typ == 'K' {
		m.backendKeyData(began, body) // its length rules depend on the protocol version
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
		m.parameterStatus(began, v)
	case *pgproto3.NoticeResponse:
		m.record(statelog.StepNotice, began, v.Severity+": "+v.Message, nil, nil)
	case *pgproto3.ErrorResponse:
		e := m.serverError((*pgproto3.ErrorResponse)(v))
		m.conn.lastSQLState = v.Code
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

// parameterStatus records one ParameterStatus. A hostile server can send
// them without end: record the first maxParameterEvents, then one event
// saying the rest are only counted, so that the record stays bounded.
func (m *Machine) parameterStatus(began time.Time, v *pgproto3.ParameterStatus) {
	m.conn.paramMsgs++
	if _, known := m.conn.params[v.Name]; known || len(m.conn.params) < maxParameterEvents {
		m.conn.params[v.Name] = v.Value
		m.serverInfo().Parameters[v.Name] = v.Value
	}
	switch {
	case m.conn.paramMsgs <= maxParameterEvents:
		m.record(statelog.StepParameter, began, v.Name+" = "+v.Value, nil, map[string]any{"name": v.Name, "value": v.Value})
	case m.conn.paramMsgs == maxParameterEvents+1:
		m.record(statelog.StepParameter, began, fmt.Sprintf("more than %d ParameterStatus messages: the rest are not recorded", maxParameterEvents), nil, map[string]any{"truncated": true})
	}
}

// maxParameterEvents bounds the parameter_status events (and distinct
// parameters) recorded per connection; PostgreSQL sends about 15.
const maxParameterEvents = 1000

func (m *Machine) serverInfo() *statelog.Server {
	if m.attempt.Server == nil {
		m.attempt.Server = &statelog.Server{Parameters: map[string]string{}, ProtocolVersion: versionString(cmp.Or(m.conn.pversion, protocol30))}
	}
	return m.attempt.Server
}
