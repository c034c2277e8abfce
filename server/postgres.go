package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// afterAuthentication is InitPostgres: the script's error, ThenError's
// FATAL (where PostgreSQL would check the database), or on to PostgresMain.
func (h *backend) afterAuthentication() {
	if er := h.script.ThenError; er != nil {
		sev := er.Severity
		h.emit(StateInitPostgres, statelog.StepErrorResponse, time.Now(), encode(er), sev+" "+er.Code+": "+er.Message, nil, map[string]any{"sqlstate": er.Code})
		h.end(statelog.OutcomeRefused, nil)
		return
	}
	if h.s.cfg.Then == ThenError {
		h.fatal(StateInitPostgres, time.Now(), "08004", "pgprobe listen is not a database: it recorded this connection and closes it",
			"pgprobe answers the startup as PostgreSQL's ProcessStartupPacket does and records what the client sent (SSL, TLS, SNI, ALPN, startup parameters, authentication).",
			"Run pgprobe listen with --then ok to let clients connect.", "")
		return
	}
	h.ready()
}

// parameterStatus is what BeginReportingGUCOptions sends: every GUC_REPORT
// parameter.
func (h *backend) parameterStatus() [][2]string {
	orDefault := func(k, def string) string {
		if v := h.params[k]; v != "" {
			return v
		}
		return def
	}
	return [][2]string{
		{"application_name", h.params["application_name"]},
		{"client_encoding", orDefault("client_encoding", "UTF8")},
		{"DateStyle", orDefault("datestyle", "ISO, MDY")},
		{"default_transaction_read_only", "off"},
		{"in_hot_standby", "off"},
		{"integer_datetimes", "on"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", "off"},
		{"scram_iterations", "4096"},
		{"server_encoding", "UTF8"},
		{"server_version", h.s.cfg.ServerVersion},
		{"session_authorization", h.user},
		{"standard_conforming_strings", "on"},
		{"TimeZone", orDefault("timezone", "UTC")},
	}
}

func (h *backend) ready() {
	var msgs []pgproto3.BackendMessage
	params := map[string]string{}
	for _, p := range h.parameterStatus() {
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
		params[p[0]] = p[1]
	}
	detail := fmt.Sprintf("%d ParameterStatus (server_version=%s, session_authorization=%s, client_encoding=%s, …)",
		len(msgs), params["server_version"], params["session_authorization"], params["client_encoding"])
	if !h.emit(StatePostgresMain, statelog.StepParameter, time.Now(), encode(msgs...), detail, nil, map[string]any{"parameters": params}) {
		return
	}
	// PostgreSQL 18 sends a 32-byte cancel key in protocol 3.2, 4 bytes in 3.0.
	keyLen := 4
	if h.protocol >= 3<<16|2 {
		keyLen = 32
	}
	h.pid, h.key = h.s.newBackendKey(keyLen)
	h.sess.BackendPID = h.pid
	if !h.emit(StatePostgresMain, statelog.StepBackendKeyData, time.Now(), encode(&pgproto3.BackendKeyData{ProcessID: h.pid, SecretKey: h.key}),
		fmt.Sprintf("BackendKeyData: backend pid %d, %d-byte cancel key (not shown)", h.pid, keyLen), nil, map[string]any{"pid": h.pid, "cancel_key_length": keyLen}) {
		return
	}
	if !h.emit(StatePostgresMain, statelog.StepReadyForQuery, time.Now(), encode(&pgproto3.ReadyForQuery{TxStatus: 'I'}), "ReadyForQuery (idle)", nil, nil) {
		return
	}
	h.end(statelog.OutcomeReady, nil)
	h.serveQueries()
}

// notADatabase answers every query.
var notADatabase = &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "0A000",
	Message: "pgprobe is not a database: it does not run queries",
	Hint:    "pgprobe listen records how clients connect; point the client back at the database to run queries."}

// serveQueries is PostgresMain's loop, answering every query with an error.
func (h *backend) serveQueries() {
	inError := false
	for {
		t := time.Now()
		typ, body, err := h.readMessage(1 << 20)
		switch {
		case err == nil:
		case h.s.isClosed():
			h.record(StatePostgresMain, statelog.StepClose, t, "pgprobe is stopping: connection closed", nil, nil)
			return
		case wire.IsTimeout(err):
			h.record(StatePostgresMain, statelog.StepClose, t, fmt.Sprintf("the client was idle for %s: connection closed", h.s.cfg.Timeout), nil, nil)
			return
		case errors.Is(err, errMessageLength):
			h.record(StatePostgresMain, statelog.StepClose, t, err.Error()+": connection closed", nil, nil)
			return
		default:
			h.record(StatePostgresMain, statelog.StepClose, t, "the client closed the connection without Terminate", nil, nil)
			return
		}
		switch typ {
		case 'X':
			h.record(StatePostgresMain, statelog.StepClose, t, "Terminate: the client said goodbye", nil, nil)
			return
		case 'Q':
			h.sess.Queries++
			n := len(body)
			clear(body) // queries may hold secrets too; they are not recorded
			if !h.emit(StatePostgresMain, statelog.StepQuery, t, encode(notADatabase, &pgproto3.ReadyForQuery{TxStatus: 'I'}),
				fmt.Sprintf("Query (%d bytes, not recorded): answered ERROR 0A000 and ReadyForQuery", n), nil, nil) {
				return
			}
		case 'S':
			if !h.emit(StatePostgresMain, statelog.StepReadyForQuery, t, encode(&pgproto3.ReadyForQuery{TxStatus: 'I'}), "Sync: ReadyForQuery (idle)", nil, nil) {
				return
			}
			inError = false
		case 'H':
		case 'P', 'B', 'E', 'D', 'C', 'F', 'd', 'c', 'f':
			if !inError {
				inError = true
				h.sess.Queries++
				if !h.emit(StatePostgresMain, statelog.StepQuery, t, encode(notADatabase), fmt.Sprintf("extended-protocol message %q: answered ERROR 0A000", typ), nil, nil) {
					return
				}
			}
		default:
			h.fatal(StatePostgresMain, t, "08P01", fmt.Sprintf("invalid frontend message type %d", typ), "", "", statelog.ClassProtocol)
			return
		}
	}
}
