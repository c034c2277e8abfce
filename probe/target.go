package probe

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/statelog"
)

// The queries libpq sends when the server did not report what
// target_session_attrs needs (servers before 14, some poolers).
const (
	queryWritable = "SHOW transaction_read_only"
	queryStandby  = "SELECT pg_catalog.pg_is_in_recovery()"
)

// targetState is what the checks learned on the current connection:
// "on", "off" or "" (unknown), as libpq's PGTernaryBool.
type targetState struct {
	readOnly string // from SHOW transaction_read_only
	standby  string // from pg_is_in_recovery()
	query    string // the query in flight
}

// wantedAttrs is target_session_attrs as this pass applies it.
func (m *Machine) wantedAttrs() string {
	want := m.settings.Get("target_session_attrs")
	if want == "" {
		want = "any"
	}
	if m.preferStandbyPass2 && want == "prefer-standby" {
		want = "any"
	}
	return want
}

// serverVersionNum is libpq's sversion from the server_version parameter
// (0 when not reported).
func serverVersionNum(v string) int {
	var nums []int
	for _, part := range strings.SplitN(v, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		nums = append(nums, n)
		if end < len(part) {
			break
		}
	}
	switch {
	case len(nums) == 0:
		return 0
	case len(nums) >= 3:
		return (nums[0]*100+nums[1])*100 + nums[2]
	case nums[0] >= 10 && len(nums) == 2:
		return nums[0]*10000 + nums[1]
	case len(nums) == 2:
		return (nums[0]*100 + nums[1]) * 100
	default:
		return nums[0] * 10000
	}
}

// role is the server's role as far as the connection told: "standby",
// "primary" or "" (unknown).
func (m *Machine) role() string {
	s := m.conn.target.standby
	if s == "" {
		s = m.conn.params["in_hot_standby"]
	}
	switch s {
	case "on":
		return "standby"
	case "off":
		return "primary"
	}
	return ""
}

// stepCheckTarget is CONNECTION_CHECK_TARGET: decide from what the server
// reported, or ask it.
func (m *Machine) stepCheckTarget() {
	began := time.Now()
	want := m.wantedAttrs()
	hot, dtro := m.conn.params["in_hot_standby"], m.conn.params["default_transaction_read_only"]
	data := map[string]any{"target_session_attrs": want, "in_hot_standby": cmp.Or(hot, "unknown"), "default_transaction_read_only": cmp.Or(dtro, "unknown")}
	var mismatch, detail string
	switch want {
	case "read-write", "read-only":
		readOnly := m.conn.target.readOnly
		how := fmt.Sprintf("%q answered %s", queryWritable, readOnly)
		if readOnly == "" {
			if hot == "" || dtro == "" {
				m.askServer(began, want, queryWritable, ConnectionCheckWritable, "default_transaction_read_only and in_hot_standby", data)
				return
			}
			readOnly = "off"
			if hot == "on" || dtro == "on" {
				readOnly = "on"
			}
			how = fmt.Sprintf("in_hot_standby=%s, default_transaction_read_only=%s", hot, dtro)
		}
		data["read_only"] = readOnly == "on"
		if want == "read-write" && readOnly == "on" {
			mismatch = "session is read-only"
		}
		if want == "read-only" && readOnly != "on" {
			mismatch = "session is not read-only"
		}
		detail = fmt.Sprintf("target_session_attrs=%s: %s, so the session is %s", want, how, map[bool]string{true: "read-only", false: "read-write"}[readOnly == "on"])
	case "primary", "standby", "prefer-standby":
		standby := m.conn.target.standby
		how := fmt.Sprintf("%q answered %s", "SELECT pg_is_in_recovery()", map[string]string{"on": "t", "off": "f"}[standby])
		if standby == "" {
			switch {
			case serverVersionNum(m.conn.params["server_version"]) < 90000:
				standby = "off"
				how = fmt.Sprintf("server_version %q is older than 9.0 (or not reported): assumed not in hot standby", m.conn.params["server_version"])
			case hot == "":
				m.askServer(began, want, queryStandby, ConnectionCheckStandby, "in_hot_standby", data)
				return
			default:
				standby = hot
				how = "in_hot_standby=" + hot
			}
		}
		data["standby"] = standby == "on"
		if want == "primary" && standby == "on" {
			mismatch = "server is in hot standby mode"
		}
		if want != "primary" && standby != "on" {
			mismatch = "server is not in hot standby mode"
		}
		detail = fmt.Sprintf("target_session_attrs=%s: %s, so the server is %s", want, how, map[bool]string{true: "a standby", false: "not a standby"}[standby == "on"])
	default:
		detail = fmt.Sprintf("target_session_attrs=%s: any server will do (in_hot_standby=%s, default_transaction_read_only=%s)", want, cmp.Or(hot, "unknown"), cmp.Or(dtro, "unknown"))
		if m.preferStandbyPass2 && m.settings.Get("target_session_attrs") == "prefer-standby" {
			detail = "target_session_attrs=prefer-standby, second pass: any server will do"
		}
	}
	m.attempt.Role = m.role()
	if mismatch != "" {
		data["result"] = "mismatch"
		e := m.prefixed(newError(statelog.ClassTarget, mismatch))
		m.record(statelog.StepCheckTarget, began, detail+"; Terminate sent, "+m.nextHostWords(), e, data)
		m.targetNextHost(e)
		return
	}
	data["result"] = "match"
	m.record(statelog.StepCheckTarget, began, detail, nil, data)
	m.attempt.OK = true
	m.status = ConnectionOK
	m.closing = true
}

// askServer sends the query libpq sends when the server did not report
// what the check needs.
func (m *Machine) askServer(began time.Time, want, query string, next ConnStatusType, missing string, data map[string]any) {
	data["query"] = query
	detail := fmt.Sprintf("target_session_attrs=%s: the server did not report %s; sending %q", want, missing, query)
	if err := m.send(&pgproto3.Query{String: query}); err != nil {
		m.sendFailed(statelog.StepQuery, began, "could not send query: ", err)
		return
	}
	m.record(statelog.StepQuery, began, detail, nil, data)
	m.conn.target.query = query
	m.status = next
}

// nextHostWords says where targetNextHost goes from here.
func (m *Machine) nextHostWords() string {
	switch {
	case m.whichHost+1 < len(m.hosts):
		return "trying the next host"
	case m.settings.Get("target_session_attrs") == "prefer-standby" && !m.preferStandbyPass2:
		return "no standby found: trying the hosts again, accepting any server"
	}
	return "no other host to try"
}

// targetNextHost sends Terminate and moves to the next host (not the next
// address), as libpq does after a mismatch or a failed check query.
func (m *Machine) targetNextHost(e *statelog.Error) {
	_ = m.send(&pgproto3.Terminate{})
	m.closeConn()
	m.attempt.Error, m.lastErr = e, e
	m.tryNextHost = true
	m.status = ConnectionNeeded
}

// stepCheckQuery is CONNECTION_CHECK_WRITABLE or CONNECTION_CHECK_STANDBY:
// read the query's result (RowDescription, DataRow, CommandComplete).
func (m *Machine) stepCheckQuery() {
	began := time.Now()
	query := m.conn.target.query
	failedMsg := `"SHOW transaction_read_only" failed`
	if m.status == ConnectionCheckStandby {
		failedMsg = `"SELECT pg_is_in_recovery()" failed`
	}
	var (
		fields int = -1
		rows   [][]byte
		nrows  int
		srvErr *pgproto3.ErrorResponse
		why    string
	)
	for done := false; !done; {
		msg, ok := m.readMessage(statelog.StepQueryResult, began, "waiting for the answer to "+query)
		if !ok {
			return
		}
		switch v := msg.(type) {
		case *pgproto3.RowDescription:
			fields = len(v.Fields)
		case *pgproto3.DataRow:
			nrows++
			if len(v.Values) > 0 {
				rows = append(rows, append([]byte(nil), v.Values[0]...))
			}
		case *pgproto3.CommandComplete:
			done = true
		case *pgproto3.EmptyQueryResponse:
			why, done = "empty query response", true
		case *pgproto3.ErrorResponse:
			srvErr, done = (*pgproto3.ErrorResponse)(v), true
		case *pgproto3.ParameterStatus:
			m.conn.params[v.Name] = v.Value
			m.serverInfo().Parameters[v.Name] = v.Value
		case *pgproto3.NoticeResponse:
		case *pgproto3.ReadyForQuery:
			why, done = "ReadyForQuery before any result", true
		default:
			why, done = fmt.Sprintf("unexpected message %T", msg), true
		}
	}
	data := map[string]any{"query": query, "rows": nrows}
	if srvErr == nil && why == "" && (fields != 1 || nrows != 1 || len(rows) != 1 || rows[0] == nil) {
		why = fmt.Sprintf("%d columns, %d rows", fields, nrows)
	}
	if srvErr != nil || why != "" {
		class := statelog.ClassProtocol
		e := m.prefixed(newError(class, failedMsg))
		if srvErr != nil {
			e.Class = statelog.ClassServer
			e.SQLState, e.Detail = srvErr.Code, srvErr.Severity+":  "+srvErr.Message
			why = srvErr.Severity + ": " + srvErr.Message
			data["sqlstate"] = srvErr.Code
		}
		m.record(statelog.StepQueryResult, began, fmt.Sprintf("%q: %s; Terminate sent, %s", query, why, m.nextHostWords()), e, data)
		m.targetNextHost(e)
		return
	}
	val := string(rows[0])
	data["answer"] = val
	if m.status == ConnectionCheckWritable {
		m.conn.target.readOnly = "off"
		if strings.HasPrefix(val, "on") {
			m.conn.target.readOnly = "on"
		}
	} else {
		m.conn.target.standby = "off"
		if strings.HasPrefix(val, "t") {
			m.conn.target.standby = "on"
		}
	}
	m.record(statelog.StepQueryResult, began, fmt.Sprintf("%q → %s", query, val), nil, data)
	m.status = ConnectionConsume
}

// stepConsume is CONNECTION_CONSUME: drain the rest until ReadyForQuery,
// then back to CONNECTION_CHECK_TARGET.
func (m *Machine) stepConsume() {
	began := time.Now()
	for {
		msg, ok := m.readMessage(statelog.StepReadyForQuery, began, "waiting for ReadyForQuery after "+m.conn.target.query)
		if !ok {
			return
		}
		switch v := msg.(type) {
		case *pgproto3.ReadyForQuery:
			m.record(statelog.StepReadyForQuery, began, fmt.Sprintf("ReadyForQuery (transaction status %c)", v.TxStatus), nil, nil)
			m.conn.target.query = ""
			m.status = ConnectionCheckTarget
			return
		case *pgproto3.ParameterStatus:
			m.conn.params[v.Name] = v.Value
			m.serverInfo().Parameters[v.Name] = v.Value
		}
	}
}
