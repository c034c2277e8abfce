package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/statelog"
)

func init() {
	register(10, "timeline", func(w io.Writer, o Options) Writer { return &timelineWriter{w: w, o: o} })
}

// timelineWriter writes each target's timeline (and --count statistics)
// as it comes, a blank line between two targets.
type timelineWriter struct {
	w io.Writer
	o Options
	n int
}

func (x *timelineWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	var b bytes.Buffer
	err := Timeline(&b, l, x.o)
	p.b = b.Bytes()
	return p, err
}

func (x *timelineWriter) Add(p Part) error {
	x.n++
	if x.n > 1 {
		if _, err := io.WriteString(x.w, "\n"); err != nil {
			return err
		}
	}
	_, err := x.w.Write(p.b)
	return err
}

// AppendSession writes title and the server's record s after the
// timelines written so far.
func (x *timelineWriter) AppendSession(title string, s *statelog.Session) error {
	if _, err := fmt.Fprintf(x.w, "\n%s\n\n", strings.Join(hang("", clean(title), 0, x.o.width()), "\n")); err != nil {
		return err
	}
	return SessionTimeline(x.w, s, x.o)
}

func (x *timelineWriter) Close() error   { return nil }
func (x *timelineWriter) Buffered() bool { return false }

// Timeline writes the human rendering of l: a header (target and verdict),
// one section per attempt with a row per step (elapsed time, libpq state,
// step, duration, a bar scaled to the longest step, detail), the TLS, auth
// and server facts the attempt learnt, and the verdict with advice and the
// exit code. The output depends only on l and o.
func Timeline(w io.Writer, l *statelog.Log, o Options) error {
	if l == nil {
		return fmt.Errorf("report: nil log")
	}
	t := &timeline{l: l, o: o, p: newPalette(o.Color)}
	t.render()
	_, err := io.WriteString(w, t.b.String())
	return err
}

type timeline struct {
	l *statelog.Log
	o Options
	p *palette
	b strings.Builder

	rows                           [][]evRow // per attempt
	cols                           cols
	decidingAttempt, decidingEvent int
}

// evRow is a row of the client's timeline: a step, or several
// parameter_status steps summed up, with the error the step met.
type evRow struct {
	row
	err      *statelog.Error
	deciding bool
}

func (t *timeline) line(parts ...string) {
	t.b.WriteString(strings.TrimRight(strings.Join(parts, ""), " "))
	t.b.WriteByte('\n')
}

// hang writes text after lead, wrapped to the width, further lines
// indented by indent.
func (t *timeline) hang(lead, text string, indent int) {
	for _, l := range hang(lead, text, indent, t.o.width()) {
		t.line(l)
	}
}

const (
	markFail = "✗"
	markOK   = "✓"
)

var exitMeaning = map[int]string{
	statelog.ExitOK:        "connected",
	statelog.ExitRejected:  "the server answered but refused",
	statelog.ExitNoAnswer:  "no usable answer",
	statelog.ExitNoAttempt: "no attempt was made",
	statelog.ExitCheck:     "connected, but a check failed",
	// As a shell reports a process that SIGINT or SIGTERM ended.
	statelog.ExitInterrupted: "interrupted (SIGINT)",
	statelog.ExitTerminated:  "interrupted (SIGTERM)",
}

func (t *timeline) render() {
	t.findDeciding()
	t.buildRows()
	t.header()
	for _, w := range t.l.Warnings {
		t.hang("  ", t.p.warn.Sprint(clean(w)), 4)
	}
	if len(t.l.Attempts) == 0 {
		t.line("  ", t.p.dim.Sprint("no attempt was made"))
	}
	for i, a := range t.l.Attempts {
		if a == nil {
			continue
		}
		t.line()
		t.attempt(i, a)
	}
	t.checksBlock()
	t.line()
	t.verdict()
}

// findDeciding locates the event whose error decided the verdict: the one
// holding l.Error itself, else the last event of that attempt at the step
// the error names.
func (t *timeline) findDeciding() {
	t.decidingAttempt, t.decidingEvent = -1, -1
	e := t.l.Error
	if e == nil {
		return
	}
	for i := len(t.l.Attempts) - 1; i >= 0; i-- {
		a := t.l.Attempts[i]
		if a == nil {
			continue
		}
		for j := len(a.Events) - 1; j >= 0; j-- {
			if a.Events[j].Error == e {
				t.decidingAttempt, t.decidingEvent = i, j
				return
			}
		}
	}
	if e.Step == "" {
		return
	}
	a := diagnose.AttemptOf(t.l, e)
	for i, x := range t.l.Attempts {
		if x != a {
			continue
		}
		for j := len(a.Events) - 1; j >= 0; j-- {
			if a.Events[j].Step == e.Step {
				t.decidingAttempt, t.decidingEvent = i, j
				return
			}
		}
	}
}

func (t *timeline) buildRows() {
	t.rows = make([][]evRow, len(t.l.Attempts))
	var all []row
	for i, a := range t.l.Attempts {
		if a == nil {
			continue
		}
		var rs []evRow
		for j := 0; j < len(a.Events); j++ {
			e := a.Events[j]
			if e.Step == statelog.StepParameter && e.Error == nil && !t.o.Verbose {
				k := j
				sum := 0.0
				for k < len(a.Events) && a.Events[k].Step == statelog.StepParameter && a.Events[k].Error == nil {
					sum += a.Events[k].DurationMS
					k++
				}
				if n := k - j; n > 1 {
					detail := fmt.Sprintf("%d parameters (see server below)", n)
					rs = append(rs, evRow{row: row{elapsed: a.Events[k-1].ElapsedMS, dur: sum, state: clean(e.State), step: clean(e.Step), detail: detail}})
					j = k - 1
					continue
				}
			}
			detail := clean(e.Detail)
			if detail == "" && e.Error != nil {
				if ls := lines(diagnose.Core(e.Error.Message)); len(ls) > 0 {
					detail = ls[0]
				}
			}
			rs = append(rs, evRow{row: row{elapsed: e.ElapsedMS, dur: e.DurationMS, state: clean(e.State), step: clean(e.Step),
				detail: detail}, err: e.Error, deciding: i == t.decidingAttempt && j == t.decidingEvent})
		}
		for _, r := range rs {
			all = append(all, r.row)
		}
		t.rows[i] = rs
	}
	t.cols = planCols(t.o.width(), "state", all)
}

func (t *timeline) header() {
	target := t.l.Target
	if target == "" {
		target = "(defaults and environment)"
	}
	var v string
	switch {
	case t.l.Ping != "":
		c := t.p.ok
		mark := markOK
		if t.l.ExitCode != statelog.ExitOK {
			c, mark = t.p.bad, markFail
		}
		v = c.Sprint(mark + " " + clean(t.l.Ping))
	case t.l.OK:
		v = t.p.ok.Sprint(markOK + " connected")
	case t.l.Error != nil && t.l.Error.Class == statelog.ClassCheck:
		v = t.p.warn.Sprint(markFail + " connected, check failed")
	case t.l.Error != nil && t.l.Error.Class == statelog.ClassInterrupted:
		v = t.p.warn.Sprint(markFail + " interrupted")
	default:
		class := ""
		if t.l.Error != nil {
			class = " (" + clean(t.l.Error.Class) + ")"
		}
		v = t.p.bad.Sprint(markFail + " failed" + class)
	}
	n := len(t.l.Attempts)
	for _, l := range headLines(t.p.bold.Sprint(clean(target)),
		v+"  "+t.p.dim.Sprintf("%s, %d attempt%s", fmtMS(t.l.DurationMS), n, plural(n)), t.o.width()) {
		t.line(l)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (t *timeline) attempt(i int, a *statelog.Attempt) {
	var parts []string
	if a.Host != "" {
		parts = append(parts, "host "+clean(a.Host))
	}
	if a.HostAddr != "" && a.HostAddr != a.Host {
		if a.Network == "unix" {
			parts = append(parts, "socket "+clean(a.HostAddr))
		} else {
			parts = append(parts, "address "+clean(a.HostAddr))
		}
	}
	if a.Port != 0 {
		parts = append(parts, "port "+strconv.Itoa(a.Port))
	}
	if a.Network != "" {
		parts = append(parts, clean(a.Network))
	}
	if a.SSLMode != "" {
		parts = append(parts, "sslmode="+clean(a.SSLMode))
	}
	if a.Encryption != "" {
		parts = append(parts, "encryption "+clean(a.Encryption))
	}
	if a.Role != "" {
		parts = append(parts, clean(a.Role)) // target_session_attrs: primary or standby
	}
	title := fmt.Sprintf("attempt %d/%d", i+1, len(t.l.Attempts))
	t.hang(t.p.head.Sprint(title)+"  ", strings.Join(parts, ", "), len(title)+2)
	if a.Reason != "" {
		t.hang("  "+t.p.dim.Sprint("why: "), clean(a.Reason), 7)
	}
	rows := t.rows[i]
	if len(rows) > 0 {
		t.line(t.cols.header(t.p))
	}
	for _, r := range rows {
		t.event(r)
	}
	if a.TLS != nil {
		t.tlsBlock(a)
	}
	if a.GSS != nil {
		t.gssBlock(a.GSS)
	}
	if a.Auth != nil {
		t.authBlock(a)
	}
	if a.Server != nil {
		t.serverBlock(a)
	}
	if a.RoundTrips > 0 {
		t.hang("  ", t.p.dim.Sprint(roundTripsLine(a)), 4)
	}
}

// roundTripsLine is the attempt's footer: how many times the client waited
// for the server, and what direct TLS would save when the server is known
// to accept it (PostgreSQL 17 or later).
func roundTripsLine(a *statelog.Attempt) string {
	s := fmt.Sprintf("%d network round trips", a.RoundTrips)
	if a.RoundTrips == 1 {
		s = "1 network round trip"
	}
	if a.SSLResponse != nil && *a.SSLResponse == "S" && !a.Direct && diagnose.ServerMajor(a) >= 17 {
		s += " (sslnegotiation=direct would save 1: no SSLRequest; libpq 17 or later)"
	}
	return s
}

func (t *timeline) event(r evRow) {
	mark := "  "
	errC := t.p.warn
	if r.deciding {
		errC = t.p.bad
	}
	var detailC *color.Color
	barC := t.stepColor(r.step)
	if r.err != nil {
		mark = errC.Sprint(markFail) + " "
		detailC, barC = errC, errC
	}
	for _, l := range t.cols.lines(t.p, mark, r.row, barC, detailC) {
		t.line(l)
	}
	if r.err != nil {
		t.errorLines(r.err, t.cols.underCol(), errC)
	}
}

func (t *timeline) stepColor(step string) *color.Color {
	switch step {
	case statelog.StepResolve, statelog.StepConnect:
		return t.p.barNet
	case statelog.StepSSLRequest, statelog.StepSSLResponse, statelog.StepTLSHandshake, statelog.StepGSSRequest, statelog.StepGSSResponse:
		return t.p.barTLS
	case statelog.StepStartup, statelog.StepAuthRequest, statelog.StepAuthResponse, statelog.StepAuthOK:
		return t.p.barAuth
	}
	return t.p.barSrv
}

// errorLines prints an error as libpq does (SEVERITY:  message, DETAIL:,
// HINT:), plus the SQLSTATE, the errno and any untrusted peer text.
// Lines too long for the width go on, two cells further in, on the next.
func (t *timeline) errorLines(e *statelog.Error, n int, c *color.Color) {
	indent := strings.Repeat(" ", n)
	for _, l := range lines(e.Message) {
		t.hang(indent, c.Sprint(l), n+2)
	}
	if e.Detail != "" {
		for _, l := range lines("DETAIL:  " + e.Detail) {
			t.hang(indent, l, n+2)
		}
	}
	if e.Hint != "" {
		for _, l := range lines("HINT:  " + e.Hint) {
			t.hang(indent, l, n+2)
		}
	}
	var facts []string
	if e.SQLState != "" {
		facts = append(facts, "SQLSTATE "+clean(e.SQLState))
	}
	if e.Errno != "" {
		facts = append(facts, "errno "+clean(e.Errno))
	}
	if len(facts) > 0 {
		t.hang(indent, t.p.dim.Sprint(strings.Join(facts, ", ")), n+2)
	}
	if e.Untrusted != "" {
		t.hang(indent, t.p.warn.Sprint("untrusted text sent before authentication (not a verified message): ")+quoteUntrusted(e.Untrusted), n+2)
	}
}

const labelW = 17

func (t *timeline) block(name string) { t.line("  ", t.p.bold.Sprint(name)) }

func (t *timeline) kv(indent int, label, value string) {
	t.kvw(indent, labelW, label, value)
}

// kvw prints "label value" with values aligned at w+4, a long value
// wrapped there.
func (t *timeline) kvw(indent, w int, label, value string) {
	t.hang(strings.Repeat(" ", indent)+t.p.dim.Sprint(padRight(label, w-(indent-4))), value, w+4)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return clean(s)
}

func (t *timeline) tlsBlock(a *statelog.Attempt) {
	x := a.TLS
	t.block("TLS")
	if x.Version != "" {
		t.kv(4, "version", clean(x.Version))
	}
	if x.Cipher != "" {
		t.kv(4, "cipher", clean(x.Cipher))
	}
	t.kv(4, "ALPN", orNone(x.ALPN))
	t.kv(4, "SNI", orNone(x.SNI))
	var v string
	switch {
	case x.VerifyError != "":
		v = t.p.bad.Sprint("no: " + clean(x.VerifyError))
	case x.Verified:
		what := "chain"
		switch x.Verification {
		case "chain+name":
			what = "chain and host name"
		case "chain":
			what = "chain only, not the host name (verify-ca)"
		}
		v = t.p.ok.Sprint("yes") + ": " + what
	default:
		v = t.p.warn.Sprint("no") + ": sslmode=" + orDefault(clean(a.SSLMode), "prefer") + " does not check the certificate"
	}
	if x.RootCert != "" {
		v += t.p.dim.Sprint(" (root " + clean(x.RootCert) + ")")
	}
	t.kv(4, "verified", v)
	if x.ClientCertificate != "" || x.ClientCertRequested {
		cc := "none"
		if x.ClientCertificate != "" {
			cc = clean(x.ClientCertificate)
		}
		switch {
		case x.ClientCertSent:
			cc += ", sent"
		case x.ClientCertRequested:
			cc += ", requested by the server but not sent"
		}
		t.kv(4, "client cert", cc)
	}
	for i, c := range x.PeerCertificates {
		t.kv(4, fmt.Sprintf("certificate %d", i), clean(c.Subject))
		t.kv(6, "issuer", clean(c.Issuer))
		if len(c.SANs) > 0 {
			sans := make([]string, len(c.SANs))
			for k, s := range c.SANs {
				sans[k] = clean(s)
			}
			t.kv(6, "SANs", strings.Join(sans, ", "))
		}
		t.kv(6, "valid", fmt.Sprintf("%s → %s ", c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))+t.daysLeft(c.DaysLeft))
		if c.KeyType != "" || c.SignatureAlgorithm != "" {
			k := clean(c.KeyType)
			if c.KeyBits > 0 {
				k += " " + strconv.Itoa(c.KeyBits)
			}
			if c.SignatureAlgorithm != "" {
				k += ", signed " + clean(c.SignatureAlgorithm)
			}
			if c.IsCA {
				k += ", CA"
			}
			t.kv(6, "key", strings.TrimPrefix(k, ", "))
		}
		if c.SHA256 != "" {
			t.kv(6, "sha256", clean(c.SHA256))
		}
	}
}

func (t *timeline) daysLeft(d int) string {
	var s string
	switch {
	case d < 0:
		s = fmt.Sprintf("(expired %d day%s ago)", -d, plural(-d))
	case d == 0:
		s = "(expires today)"
	default:
		s = fmt.Sprintf("(%d day%s left)", d, plural(d))
	}
	switch {
	case d < 7:
		return t.p.bad.Sprint(s)
	case d < 30:
		return t.p.warn.Sprint(s)
	}
	return t.p.ok.Sprint(s)
}

func (t *timeline) authBlock(a *statelog.Attempt) {
	x := a.Auth
	t.block("auth")
	m := orNone(x.Method)
	switch x.Method {
	case "md5":
		m += t.p.warn.Sprint(" (MD5 passwords are deprecated; prefer scram-sha-256)")
	case "password":
		if a.TLS == nil {
			m += t.p.bad.Sprint(" (the password was sent unencrypted)")
		} else {
			m += t.p.warn.Sprint(" (cleartext password, inside TLS)")
		}
	}
	t.kv(4, "method", m)
	if len(x.Mechanisms) > 0 {
		ms := make([]string, len(x.Mechanisms))
		for i, s := range x.Mechanisms {
			ms[i] = clean(s)
		}
		t.kv(4, "offered", strings.Join(ms, ", "))
	}
	cb := "no"
	if x.ChannelBinding {
		cb = t.p.ok.Sprint("yes") + " (tls-server-end-point)"
		if !x.ChannelBindingVerified {
			cb = "yes (tls-server-end-point), " + t.p.warn.Sprint("not confirmed: the exchange ended before the server's signature")
		}
	}
	t.kv(4, "channel binding", cb)
	if x.PasswordSource != "" {
		t.kv(4, "password from", clean(x.PasswordSource))
	}
	if x.Iterations > 0 {
		t.kv(4, "SCRAM iterations", strconv.Itoa(x.Iterations))
	}
}

// keyParameters are the ParameterStatus values worth a glance.
var keyParameters = []string{"server_version", "session_authorization", "is_superuser", "in_hot_standby",
	"default_transaction_read_only", "server_encoding", "client_encoding", "TimeZone"}

func (t *timeline) serverBlock(a *statelog.Attempt) {
	x := a.Server
	t.block("server")
	var names []string
	if t.o.Verbose {
		for k := range x.Parameters {
			names = append(names, k)
		}
		sort.Strings(names)
	} else {
		for _, k := range keyParameters {
			if _, ok := x.Parameters[k]; ok {
				names = append(names, k)
			}
		}
	}
	w := labelW
	for _, k := range names {
		w = max(w, width(clean(k))+2)
	}
	if x.BackendPID != 0 {
		t.kvw(4, w, "backend pid", strconv.FormatUint(uint64(x.BackendPID), 10))
	}
	if x.ProtocolVersion != "" {
		t.kvw(4, w, "protocol", clean(x.ProtocolVersion))
	}
	for _, k := range names {
		t.kvw(4, w, clean(k), clean(x.Parameters[k]))
	}
	if hidden := len(x.Parameters) - len(names); hidden > 0 {
		t.hang("    ", t.p.dim.Sprintf("(%d more parameter%s; -v shows all)", hidden, plural(hidden)), 4)
	}
}

func (t *timeline) verdict() {
	l := t.l
	e := l.Error
	switch {
	case l.Ping != "":
		c, mark := t.p.ok, markOK
		if l.ExitCode != statelog.ExitOK {
			c, mark = t.p.bad, markFail
		}
		t.hang("", c.Sprint(mark+" "+clean(l.Ping))+t.p.dim.Sprint(" (as pg_isready would say)"), 2)
		if e != nil {
			t.errorVerdict(e, t.p.dim, "the connection itself did not complete: ")
		}
	case l.OK && e == nil:
		t.line(t.p.ok.Sprint(markOK+" connected"), t.p.dim.Sprintf(" in %s", fmtMS(l.DurationMS)))
	case e != nil && e.Class == statelog.ClassCheck:
		t.errorVerdict(e, t.p.warn, markFail+" connected, but check failed: ")
	case e != nil && e.Class == statelog.ClassInterrupted:
		// The message starts with "interrupted by SIGINT": no class before it.
		t.line(t.p.warn.Sprint(markFail + " " + clean(e.Message)))
	case e != nil:
		t.errorVerdict(e, t.p.bad, markFail+" failed: ")
	default:
		t.line(t.p.bad.Sprint(markFail + " failed"))
	}
	t.earlierBlock()
	if e != nil {
		advice := e.Advice
		if advice == "" {
			advice = diagnose.Advise(e, diagnose.AttemptOf(l, e))
		}
		if advice != "" {
			t.line()
			const lead = "advice: "
			t.hang("  "+t.p.bold.Sprint(lead), clean(advice), 2+len(lead))
		}
	}
	t.runsBlock()
	t.line()
	meaning := exitMeaning[l.ExitCode]
	if l.Ping != "" {
		meaning = l.Ping // --ping: pg_isready's words, not "connected"
	}
	if meaning != "" {
		meaning = ": " + meaning
	}
	switch {
	case l.Runs > 0 && e != nil && e.Class == statelog.ClassInterrupted:
		meaning += fmt.Sprintf(" (%d run%s completed)", l.Runs, plural(l.Runs))
	case l.Tries > 1:
		meaning += fmt.Sprintf(" (try %d of --wait)", l.Tries)
	case l.Runs > 1:
		meaning += fmt.Sprintf(" (the highest of %d runs)", l.Runs)
	}
	t.hang("", t.p.dim.Sprintf("exit %d%s", l.ExitCode, meaning), 2)
}

func (t *timeline) errorVerdict(e *statelog.Error, c *color.Color, lead string) {
	ls := lines(e.Message)
	first := ""
	if len(ls) > 0 {
		first, ls = ls[0], ls[1:]
	}
	t.hang("", c.Sprint(lead+clean(e.Class)+": "+first), 4)
	for _, l := range ls {
		t.hang("  ", c.Sprint(l), 4)
	}
	if e.Detail != "" {
		t.hang("  ", "DETAIL:  "+clean(e.Detail), 4)
	}
	if e.Hint != "" {
		t.hang("  ", "HINT:  "+clean(e.Hint), 4)
	}
	if e.SQLState != "" {
		t.line("  ", t.p.dim.Sprint("SQLSTATE "+clean(e.SQLState)))
	}
	if e.Untrusted != "" {
		t.hang("  ", t.p.warn.Sprint("untrusted text sent before authentication (not a verified message): ")+quoteUntrusted(e.Untrusted), 4)
	}
}
