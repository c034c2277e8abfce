package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/pgprobe/pgprobe/statelog"
)

// The server side's record (pgprobe listen): one statelog.Session per
// client connection. SessionTimeline renders one for a terminal,
// SessionJSON as one indented document (-o json: a stream of documents, one
// per client, which jq reads as such), SessionNDJSON as one compact line
// (-o ndjson: one line per client). Everything a client sent is untrusted
// and shown escaped.

// SessionJSON writes s as one indented JSON document.
func SessionJSON(w io.Writer, s *statelog.Session) error {
	if s == nil {
		return fmt.Errorf("report: nil session")
	}
	return writeJSON(w, s)
}

// SessionNDJSON writes s as one JSON document on one line.
func SessionNDJSON(w io.Writer, s *statelog.Session) error {
	if s == nil {
		return fmt.Errorf("report: nil session")
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// SessionTimeline writes the human rendering of s: a header (client,
// address reached, outcome), a row per server step (elapsed, the server
// function, step, duration, bar, detail), then what the client asked for
// and sent: SSL, TLS (with what its ClientHello offered), the startup
// parameters, authentication, a cancel request, and the error if any.
func SessionTimeline(w io.Writer, s *statelog.Session, o Options) error {
	if s == nil {
		return fmt.Errorf("report: nil session")
	}
	st := &sessionTimeline{s: s, o: o, p: newPalette(o.Color)}
	st.render()
	_, err := io.WriteString(w, st.b.String())
	return err
}

type sessionTimeline struct {
	s *statelog.Session
	o Options
	p *palette
	b strings.Builder
}

func (t *sessionTimeline) line(parts ...string) {
	t.b.WriteString(strings.TrimRight(strings.Join(parts, ""), " "))
	t.b.WriteByte('\n')
}

// hang writes text after lead, wrapped to the width, further lines
// indented by indent.
func (t *sessionTimeline) hang(lead, text string, indent int) {
	for _, l := range hang(lead, text, indent, t.o.width()) {
		t.line(l)
	}
}

var outcomeWords = map[string]string{
	statelog.OutcomeReady:        "startup completed",
	statelog.OutcomeRefused:      "refused with a FATAL error",
	statelog.OutcomeCancel:       "cancel request",
	statelog.OutcomeClientClosed: "the client left",
	statelog.OutcomeDropped:      "connection dropped",
}

func (t *sessionTimeline) render() {
	s := t.s
	verdict := orDefault(outcomeWords[s.Outcome], clean(s.Outcome))
	var v string
	switch {
	case s.Error != nil:
		v = t.p.bad.Sprint(markFail + " " + verdict)
	case s.Outcome == statelog.OutcomeRefused:
		v = t.p.warn.Sprint(markOK + " " + verdict + " (as configured)")
	default:
		v = t.p.ok.Sprint(markOK + " " + verdict)
	}
	for _, l := range headLines(t.p.bold.Sprint(fmt.Sprintf("client %d: %s → %s", s.Index, clean(s.Client), clean(s.Listen))),
		v+"  "+t.p.dim.Sprintf("%s, %s", fmtMS(s.DurationMS), clean(s.Network)), t.o.width()) {
		t.line(l)
	}
	t.events()
	t.sslBlock()
	if s.TLS != nil {
		t.tlsBlock()
	}
	if s.Startup != nil {
		t.startupBlock()
	}
	if s.GSS != nil {
		t.gssBlock()
	}
	if s.Auth != nil {
		t.authBlock()
	}
	if s.Cancel != nil {
		t.block("cancel")
		m := "no session of this server has that pid and key"
		if s.Cancel.Matched {
			m = "a session of this server"
		}
		t.kv(4, "backend pid", strconv.FormatUint(uint64(s.Cancel.BackendPID), 10)+" ("+m+")")
	}
	if e := s.Error; e != nil {
		lead := markFail + " " + clean(e.Class) + ": "
		ls := lines(e.Message)
		first := ""
		if len(ls) > 0 {
			first, ls = ls[0], ls[1:]
		}
		t.hang("", t.p.bad.Sprint(lead+first), 4)
		for _, l := range ls {
			t.hang("  ", t.p.bad.Sprint(l), 4)
		}
		if e.Detail != "" {
			t.hang("  ", "DETAIL:  "+clean(e.Detail), 4)
		}
		if e.SQLState != "" {
			t.line("  ", t.p.dim.Sprint("SQLSTATE "+clean(e.SQLState)))
		}
	}
}

func (t *sessionTimeline) events() {
	evs := t.s.Events
	if len(evs) == 0 {
		return
	}
	rows := make([]row, len(evs))
	for i, e := range evs {
		rows[i] = row{elapsed: e.ElapsedMS, dur: e.DurationMS, state: clean(e.State), step: clean(e.Step), detail: clean(e.Detail)}
		if rows[i].detail == "" && e.Error != nil {
			if ls := lines(e.Error.Message); len(ls) > 0 {
				rows[i].detail = ls[0]
			}
		}
	}
	c := planCols(t.o.width(), "server", rows)
	t.line(c.header(t.p))
	tl := &timeline{p: t.p}
	for i, e := range evs {
		mark, barC := "  ", tl.stepColor(e.Step)
		var detailC *color.Color
		if e.Error != nil {
			mark, barC, detailC = t.p.bad.Sprint(markFail)+" ", t.p.bad, t.p.bad
		}
		for _, l := range c.lines(t.p, mark, rows[i], barC, detailC) {
			t.line(l)
		}
		if e.Error != nil {
			n := c.underCol()
			indent := strings.Repeat(" ", n)
			for _, l := range lines(e.Error.Message) {
				t.hang(indent, t.p.bad.Sprint(l), n+2)
			}
			if e.Error.SQLState != "" {
				t.line(indent, t.p.dim.Sprint("SQLSTATE "+clean(e.Error.SQLState)))
			}
		}
	}
}

func (t *sessionTimeline) block(name string) { t.line("  ", t.p.bold.Sprint(name)) }

func (t *sessionTimeline) kv(indent int, label, value string) {
	t.hang(strings.Repeat(" ", indent)+t.p.dim.Sprint(padRight(label, labelW-(indent-4))), value, labelW+4)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (t *sessionTimeline) sslBlock() {
	s := t.s
	t.block("encryption")
	ssl := yesNo(s.SSLRequest)
	if s.SSLResponse != nil {
		ssl += ", answered " + strconv.QuoteToASCII(*s.SSLResponse)
	}
	t.kv(4, "SSLRequest", ssl)
	if s.GSSRequest {
		gss := "yes"
		if s.GSSResponse != nil {
			gss += ", answered " + strconv.QuoteToASCII(*s.GSSResponse)
		}
		t.kv(4, "GSSENCRequest", gss)
	}
	if s.DirectTLS {
		t.kv(4, "direct TLS", "yes (sslnegotiation=direct)")
	}
	if s.UnencryptedAfterSSLRequest > 0 {
		t.kv(4, "unencrypted", t.p.bad.Sprintf("%d bytes sent after SSLRequest, before TLS", s.UnencryptedAfterSSLRequest))
	}
	var mode string
	switch {
	case s.TLS != nil && s.TLS.Version != "":
		mode = "TLS in use"
	case s.GSS != nil && s.GSS.Encryption && s.GSS.Established:
		mode = "GSSAPI encryption in use (Kerberos, sealed wrap tokens)"
	case s.SSLRequest && s.SSLResponse != nil && *s.SSLResponse == "N" && s.Startup != nil:
		mode = "plaintext after 'N': the client allows it (sslmode=prefer, allow or disable)"
	case !s.SSLRequest && !s.DirectTLS && s.Startup != nil && s.Network == "tcp":
		mode = t.p.warn.Sprint("plaintext: the client did not ask for SSL (sslmode=disable, or allow)")
	}
	if mode != "" {
		t.kv(4, "connection", mode)
	}
}

func (t *sessionTimeline) tlsBlock() {
	x := t.s.TLS
	t.block("TLS")
	if x.Version != "" {
		t.kv(4, "version", clean(x.Version))
	}
	if x.Cipher != "" {
		t.kv(4, "cipher", clean(x.Cipher))
	}
	t.kv(4, "SNI", orNone(x.SNI))
	t.kv(4, "ALPN", orNone(x.ALPN))
	t.kv(4, "ALPN offered", joinClean(x.ALPNOffered))
	t.kv(4, "versions offered", joinClean(x.VersionsOffered))
	if t.o.Verbose || len(x.CiphersOffered) <= 6 {
		t.kv(4, "ciphers offered", joinClean(x.CiphersOffered))
	} else {
		t.kv(4, "ciphers offered", fmt.Sprintf("%d (-v shows them)", len(x.CiphersOffered)))
	}
	if t.o.Verbose && len(x.GroupsOffered) > 0 {
		t.kv(4, "groups offered", joinClean(x.GroupsOffered))
	}
}

func joinClean(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = clean(s)
	}
	return strings.Join(out, ", ")
}

var sessionParamOrder = []string{"user", "database", "application_name", "options", "replication", "client_encoding"}

func (t *sessionTimeline) startupBlock() {
	x := t.s.Startup
	t.block("startup")
	t.kv(4, "protocol", clean(x.ProtocolVersion)+protocolGrant(x))
	seen := map[string]bool{}
	var names []string
	for _, k := range sessionParamOrder {
		if _, ok := x.Parameters[k]; ok {
			names = append(names, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range x.Parameters {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)
	w := labelW
	for _, k := range names {
		w = max(w, width(clean(k))+1)
	}
	for _, k := range names {
		t.hang("    "+t.p.dim.Sprint(padRight(clean(k), w)), strconv.QuoteToASCII(x.Parameters[k]), 4+w)
	}
}

// protocolGrant says what the server made of the version the client asked
// for: "" when it accepted it as asked.
func protocolGrant(x *statelog.Startup) string {
	switch {
	case x.Negotiated:
		return " asked, " + clean(x.ProtocolGranted) + " granted (NegotiateProtocolVersion)"
	case x.ProtocolGranted != "" && x.ProtocolGranted != x.ProtocolVersion:
		return " asked, " + clean(x.ProtocolGranted) + " granted"
	}
	return ""
}

func (t *sessionTimeline) authBlock() {
	x := t.s.Auth
	t.block("auth")
	m := orNone(x.Method)
	switch x.Method {
	case "md5":
		m += t.p.warn.Sprint(" (MD5 passwords are deprecated; prefer scram-sha-256)")
	case "password":
		if t.s.TLS == nil || t.s.TLS.Version == "" {
			m += t.p.bad.Sprint(" (the password crossed the network unencrypted)")
		}
	}
	t.kv(4, "method", m)
	if len(x.Mechanisms) > 0 {
		t.kv(4, "offered", joinClean(x.Mechanisms))
	}
	if x.Mechanism != "" {
		t.kv(4, "client chose", clean(x.Mechanism))
	}
	if x.Method != "trust" && x.Method != "gss" {
		pw := "no"
		if x.PasswordReceived {
			pw = "yes (never recorded)"
		}
		t.kv(4, "password sent", pw)
		switch {
		case x.PasswordVerified == nil:
			if x.PasswordReceived {
				t.kv(4, "password checked", "no: pgprobe has no password to check it against")
			}
		case *x.PasswordVerified:
			t.kv(4, "password checked", t.p.ok.Sprint("matches"))
		default:
			t.kv(4, "password checked", t.p.bad.Sprint("does not match"))
		}
	}
	if strings.HasPrefix(x.Method, "scram") {
		cb := "no"
		switch {
		case x.ChannelBinding:
			cb = t.p.ok.Sprint("yes") + " (tls-server-end-point, verified)"
		case x.ChannelBindingFlag == "y":
			cb = "no (the client could, but thought the server could not)"
		case x.ChannelBindingFlag == "n":
			cb = "no (the client does not bind: no TLS, or channel_binding=disable)"
		}
		t.kv(4, "channel binding", cb)
	}
}

// gssBlock is what the client's GSS-API tokens showed: names and sizes,
// never a ticket or a key.
func (t *sessionTimeline) gssBlock() {
	x := t.s.GSS
	t.block("GSSAPI")
	use := "authentication (AuthenticationGSS)"
	if x.Encryption {
		use = "encryption (after GSSENCRequest)"
	}
	t.kv(4, "context for", use)
	mech := clean(x.Mechanism)
	if x.MechanismOID != "" {
		mech += " (" + clean(x.MechanismOID) + ")"
	}
	t.kv(4, "mechanism", mech)
	if x.ClientPrincipal != "" {
		t.kv(4, "client", clean(x.ClientPrincipal))
	}
	if x.ServicePrincipal != "" {
		t.kv(4, "service", clean(x.ServicePrincipal))
	}
	if x.Etype != "" {
		t.kv(4, "ticket etype", clean(x.Etype))
	}
	if len(x.Flags) > 0 {
		t.kv(4, "flags", joinClean(x.Flags))
	}
	tokens := fmt.Sprintf("client %d bytes", x.TokenBytes)
	if x.ReplyBytes > 0 {
		tokens += fmt.Sprintf(", server %d bytes", x.ReplyBytes)
	}
	t.kv(4, "tokens", tokens+" (ticket and keys not shown)")
	switch {
	case x.Established:
		t.kv(4, "established", t.p.ok.Sprint("yes"))
	case x.Error != "":
		t.kv(4, "established", t.p.bad.Sprint("no: "+clean(x.Error)))
	default:
		t.kv(4, "established", "no")
	}
	if x.PacketsReceived > 0 || x.PacketsSent > 0 {
		t.kv(4, "wrap tokens", fmt.Sprintf("%d received, %d sent", x.PacketsReceived, x.PacketsSent))
	}
}
