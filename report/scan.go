package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/pgprobe/pgprobe/statelog"
)

// ScanFormats are `pgprobe scan`'s outputs, the default first.
func ScanFormats() []string { return []string{"text", "json"} }

// Scan writes a scan's document in format, one of ScanFormats: JSON for
// programs, or for a DBA a table of what the server accepts, the findings
// graded, then the advice. failOn is the severity the exit code counts
// from, for the verdict line.
func Scan(format string, w io.Writer, o Options, doc *statelog.Scan, failOn string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(doc)
	}
	return scanText(w, o, doc, failOn)
}

func scanText(w io.Writer, o Options, doc *statelog.Scan, failOn string) error {
	p := newPalette(o.Color)
	lineW := o.width()
	var b strings.Builder
	what := "scan of " + clean(doc.Target)
	if doc.Address != "" && !strings.Contains(doc.Target, doc.Address) {
		what += " (" + doc.Address + ")"
	}
	for _, l := range headLines(p.bold.Sprint(what), scanVerdict(p, doc, failOn), lineW) {
		b.WriteString(l + "\n")
	}
	if doc.Error != nil {
		for _, l := range hang("  ", clean(doc.Error.Message), 4, lineW) {
			b.WriteString(l + "\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	t := plainTable(w, []tw.Align{tw.AlignLeft, tw.AlignLeft}, o.tableWidth(), map[string]colSpec{"SEEN": {soft: 20, hard: 10, wrap: true}})
	t.Header([]string{"WHAT", "SEEN"})
	for _, r := range scanRows(doc) {
		_ = t.Append(r[0], r[1])
	}
	if err := t.Render(); err != nil {
		return err
	}
	return scanFindings(w, o, p, doc)
}

// scanVerdict is the head line's verdict.
func scanVerdict(p *palette, doc *statelog.Scan, failOn string) string {
	if doc.Error != nil {
		return p.bad.Sprint("not scanned")
	}
	n := 0
	for _, f := range doc.Findings {
		if statelog.SeverityRank(f.Severity) >= statelog.SeverityRank(failOn) {
			n++
		}
	}
	if n == 0 {
		return p.ok.Sprintf("%d findings, none at or above %s", len(doc.Findings), failOn)
	}
	return p.bad.Sprintf("%d of %d findings at or above %s", n, len(doc.Findings), failOn)
}

// scanRows are the table's rows: what the server accepts.
func scanRows(doc *statelog.Scan) [][2]string {
	var rows [][2]string
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	if doc.Server != nil {
		add("server", "PostgreSQL "+clean(doc.Server.Version))
	}
	ssl := "off ('N' to SSLRequest)"
	if doc.SSL {
		ssl = "on ('S' to SSLRequest)"
	}
	add("ssl", ssl)
	add("plaintext", either(doc.Plaintext, "a login without encryption reaches authentication", "no login without encryption reaches authentication"))
	if doc.SSL {
		add("tls versions", acceptedList(doc.TLS.Versions, []string{"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}))
		add("cipher suites", fmt.Sprintf("%d: %s", len(doc.TLS.CipherSuites), strings.Join(doc.TLS.CipherSuites, " ")))
		g := acceptedList(doc.TLS.Groups, []string{"X25519", "P-256", "P-384", "P-521", "X25519MLKEM768"})
		if doc.TLS.HelloRetry {
			g += "; X25519 first: HelloRetryRequest"
		}
		add("groups", g)
		if c := doc.TLS.Certificate; c != nil {
			add("certificate", certLine(c))
		}
		add("direct tls", either(doc.DirectTLS, "accepted (ALPN postgresql)", "not accepted"))
		add("CVE-2021-23214", doc.SSLRequestInjection+" (bytes after SSLRequest)")
	}
	gss := doc.GSSEnc
	if gss == "" {
		gss = "-"
	}
	add("gssenc", gss+": "+doc.GSSEncDetail)
	add("protocol", acceptedList(doc.ProtocolVersions, []string{"3.0", "3.2"}))
	for _, u := range authUsers(doc) {
		var parts []string
		for _, a := range doc.Auth {
			if a.User == u {
				parts = append(parts, a.Encryption+": "+authWord(a))
			}
		}
		add("user "+clean(u), strings.Join(parts, "; "))
	}
	return rows
}

func authUsers(doc *statelog.Scan) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range doc.Auth {
		if !seen[a.User] {
			seen[a.User] = true
			out = append(out, a.User)
		}
	}
	return out
}

// authWord is one try: the method (PLUS when offered), or the error.
func authWord(a statelog.ScanAuth) string {
	if a.Method == "" {
		return "refused: " + clean(a.Error)
	}
	for _, m := range a.Mechanisms {
		if m == "SCRAM-SHA-256-PLUS" {
			return a.Method + " (PLUS offered)"
		}
	}
	return a.Method
}

func certLine(c *statelog.ScanCertificate) string {
	s := fmt.Sprintf("%s %d bits, %s, %d days left, ", c.KeyType, c.KeyBits, c.SignatureAlgorithm, c.DaysLeft)
	if c.Verified {
		s += "verifies against " + clean(c.VerifiedWith)
	} else {
		s += "does not verify against " + clean(c.VerifiedWith)
	}
	if c.HostnameMatch {
		return s + ", names " + clean(c.Host)
	}
	return s + ", does not name " + clean(c.Host)
}

func either(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// acceptedList is "A B accepted; C refused" in order.
func acceptedList(m map[string]bool, order []string) string {
	var ok, no []string
	for _, k := range order {
		if m[k] {
			ok = append(ok, k)
		} else {
			no = append(no, k)
		}
	}
	var parts []string
	if len(ok) > 0 {
		parts = append(parts, strings.Join(ok, " ")+" accepted")
	}
	if len(no) > 0 {
		parts = append(parts, strings.Join(no, " ")+" refused")
	}
	return strings.Join(parts, "; ")
}

// scanFindings writes the graded findings, then the advice.
func scanFindings(w io.Writer, o Options, p *palette, doc *statelog.Scan) error {
	if len(doc.Findings) == 0 {
		_, err := io.WriteString(w, "\nNo findings.\n")
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	t := plainTable(w, []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignLeft}, o.tableWidth(),
		map[string]colSpec{"TITLE": {soft: 20, hard: 10, wrap: true}, "FINDING": {soft: 18, hard: 10}})
	t.Header([]string{"SEVERITY", "FINDING", "TITLE"})
	for _, f := range doc.Findings {
		_ = t.Append(severityColor(p, f.Severity).Sprint(f.Severity), f.ID, f.Title)
	}
	if err := t.Render(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("\n" + p.head.Sprint("Advice") + "\n")
	lineW := o.width()
	for _, f := range doc.Findings {
		for _, l := range hang("  "+severityColor(p, f.Severity).Sprint(f.ID)+": ", clean(f.Detail), 4, lineW) {
			b.WriteString(l + "\n")
		}
		for _, l := range hang("    → ", f.Advice, 6, lineW) {
			b.WriteString(l + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func severityColor(p *palette, s string) *color.Color {
	switch s {
	case statelog.SeverityCritical, statelog.SeverityHigh:
		return p.bad
	case statelog.SeverityMedium:
		return p.warn
	case statelog.SeverityLow:
		return p.num
	}
	return p.dim
}
