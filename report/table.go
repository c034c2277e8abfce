package report

import (
	"bytes"
	"cmp"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/statelog"
)

func init() {
	register(40, "table", func(w io.Writer, o Options) Writer { return &tableWriter{w: w, o: o} })
}

// tableWriter keeps each target's row (and --count statistics) until
// Close, which writes the table and then the statistics.
type tableWriter struct {
	w     io.Writer
	o     Options
	rows  []Row
	stats [][]byte
}

func (x *tableWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	p.row = RowOf(l)
	if len(l.Stats) > 0 {
		b := bytes.NewBufferString("\n")
		err := statsSection(b, l, x.o)
		p.b = b.Bytes()
		return p, err
	}
	return p, nil
}

func (x *tableWriter) Add(p Part) error {
	x.rows = append(x.rows, p.row)
	if p.b != nil {
		x.stats = append(x.stats, p.b)
	}
	return nil
}

func (x *tableWriter) Close() error {
	if err := TableRows(x.w, x.rows, x.o); err != nil {
		return err
	}
	for _, b := range x.stats {
		if _, err := x.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (x *tableWriter) Buffered() bool { return true }

// Table writes one row per target: target, verdict, address used, TLS
// version, auth method, server version, total ms and the error (class and
// message, and the attempts that failed before a success). Failures
// come first (the highest exit code first), otherwise the given order.
func Table(w io.Writer, logs []*statelog.Log, o Options) error {
	rows := make([]Row, 0, len(logs))
	for _, l := range logs {
		if l != nil {
			rows = append(rows, RowOf(l))
		}
	}
	return TableRows(w, rows, o)
}

// Row is what the table shows of one target: a few strings instead of the
// whole record, so that a fleet need not keep every target's events until
// the table is written.
type Row struct {
	Target, Verdict, Address, TLS, Auth, Server, Role string
	ExitCode                                          int
	DurationMS                                        float64
	Class                                             string
	// Error is the ERROR column: the class and libpq's words, shortened.
	Error string
}

// RowOf is l's row in Table, not yet coloured.
func RowOf(l *statelog.Log) Row {
	r := Row{Verdict: verdictWord(l), ExitCode: l.ExitCode, DurationMS: l.DurationMS,
		Address: "-", TLS: "-", Auth: "-", Server: "-", Role: "-", Class: "-"}
	if a := usedAttempt(l); a != nil {
		r.Address = address(a)
		if a.TLS != nil && a.TLS.Version != "" {
			r.TLS = clean(a.TLS.Version)
		}
		if a.Auth != nil && a.Auth.Method != "" {
			r.Auth = clean(a.Auth.Method)
		}
		if a.Role != "" {
			r.Role = clean(a.Role)
		}
		if a.Server != nil {
			if v := strings.Fields(a.Server.Parameters["server_version"]); len(v) > 0 {
				r.Server = clean(v[0])
			}
		}
	}
	if l.Error != nil && l.Error.Class != "" {
		r.Class = clean(l.Error.Class)
	}
	r.Error = errorCell(l)
	r.Target = l.Target
	if r.Target == "" {
		r.Target = "(defaults)"
	}
	r.Target = clean(r.Target)
	return r
}

// tableColumns say how the table fits a narrow terminal: the target and
// the error narrow, then ROLE, SERVER, AUTH, TLS, ADDRESS and TOTAL MS
// go, in that order, then the target and the error narrow further.
var tableColumns = map[string]colSpec{
	"TARGET":  {soft: 24, hard: 12},
	"ERROR":   {soft: 16, hard: 8},
	"ROLE":    {drop: 1},
	"SERVER":  {drop: 2},
	"AUTH":    {drop: 3},
	"TLS":     {drop: 4},
	"ADDRESS": {drop: 5},
	// TOTAL MS goes last: only the narrowest terminals lose it.
	"TOTAL MS": {drop: 6},
}

// wideTable is the width from which the table first narrows the target
// and the error only to wideColumns' sizes: in a wide terminal a whole
// connection string and most of libpq's words fit, and cutting them to
// tableColumns' sizes would leave room unused.
const wideTable = 160

var wideColumns = map[string]colSpec{"TARGET": {soft: 64, hard: 12}, "ERROR": {soft: 48, hard: 8}}

// tableColumnsFor is tableColumns, with wideColumns' sizes from wideTable on.
func tableColumnsFor(width int) map[string]colSpec {
	if width < wideTable {
		return tableColumns
	}
	specs := make(map[string]colSpec, len(tableColumns))
	for k, v := range tableColumns {
		specs[k] = v
	}
	for k, v := range wideColumns {
		specs[k] = v
	}
	return specs
}

// TableRows writes Table from rows made by RowOf, failures first (the
// highest exit code first), otherwise the given order. It sorts rows in
// place.
func TableRows(w io.Writer, rows []Row, o Options) error {
	p := newPalette(o.Color)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ExitCode > rows[j].ExitCode })

	t := plainTable(w, []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignLeft},
		o.tableWidth(), tableColumnsFor(o.tableWidth()))
	t.Header([]string{"TARGET", "VERDICT", "ADDRESS", "TLS", "AUTH", "SERVER", "ROLE", "TOTAL MS", "ERROR"})
	for _, r := range rows {
		verdict := r.Verdict
		switch {
		case r.ExitCode == statelog.ExitOK:
			verdict = p.ok.Sprint(verdict)
		case r.ExitCode == statelog.ExitCheck:
			verdict = p.warn.Sprint(verdict)
		default:
			verdict = p.bad.Sprint(verdict)
		}
		if err := t.Append(r.Target, verdict, r.Address, r.TLS, r.Auth, r.Server, r.Role,
			strconv.FormatFloat(r.DurationMS, 'f', 1, 64), cmp.Or(r.Error, r.Class)); err != nil {
			return err
		}
	}
	return t.Render()
}

func verdictWord(l *statelog.Log) string {
	switch {
	case l.Ping != "":
		return clean(l.Ping)
	case l.OK:
		return "connected"
	case l.ExitCode == statelog.ExitCheck:
		return "check failed"
	case l.ExitCode == statelog.ExitNoAttempt:
		return "no attempt"
	case l.Error != nil && l.Error.Class == statelog.ClassInterrupted:
		return "interrupted"
	}
	return "failed"
}

// usedAttempt is the attempt that decided the verdict: the one that
// connected, else the one holding the error, else the last.
func usedAttempt(l *statelog.Log) *statelog.Attempt {
	for i := len(l.Attempts) - 1; i >= 0; i-- {
		if a := l.Attempts[i]; a != nil && a.OK {
			return a
		}
	}
	return diagnose.AttemptOf(l, l.Error)
}

func address(a *statelog.Attempt) string {
	switch {
	case a.Network == "unix" && a.HostAddr != "":
		return clean(a.HostAddr)
	case a.HostAddr == "":
		if a.Host == "" {
			return "-"
		}
		if a.Port > 0 {
			return clean(a.Host) + ":" + strconv.Itoa(a.Port)
		}
		return clean(a.Host)
	case strings.Contains(a.HostAddr, ":"):
		return "[" + clean(a.HostAddr) + "]:" + strconv.Itoa(a.Port)
	}
	return clean(a.HostAddr) + ":" + strconv.Itoa(a.Port)
}
