package probe

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Checks are the CI assertions made on a successful connection; a failed
// one turns the verdict into exit 4 with error class "check".
type Checks struct {
	MinCertDays   int    // the server certificate must be valid this many more days (0: no check)
	MinTLSVersion string // "1.2" or "1.3" ("": no check)
	// MinTicketHours: the Kerberos ticket-granting ticket must last this
	// many more hours (0: no check).
	MinTicketHours float64
}

// ParseTLSVersion accepts "1.2", "1.3", "TLSv1.2", "tlsv1.3".
func ParseTLSVersion(s string) (string, error) {
	v := strings.TrimPrefix(strings.ToLower(s), "tlsv")
	switch v {
	case "1.2", "1.3":
		return v, nil
	}
	return "", fmt.Errorf("invalid TLS version %q: use 1.2 or 1.3", s)
}

// apply runs the checks against the attempt that connected, records each
// one's outcome in l.Checks and, when any failed, turns the verdict into
// class "check" with every failed check's message.
func (c Checks) apply(l *statelog.Log) {
	if !l.OK || l.Ping != "" || (c.MinCertDays <= 0 && c.MinTLSVersion == "" && c.MinTicketHours <= 0) {
		return
	}
	var a *statelog.Attempt
	for _, x := range l.Attempts {
		if x.OK {
			a = x
		}
	}
	if a == nil {
		return
	}
	if c.MinTLSVersion != "" {
		l.Checks = append(l.Checks, c.tlsVersion(a))
	}
	if c.MinCertDays > 0 {
		l.Checks = append(l.Checks, c.certDays(a))
	}
	if c.MinTicketHours > 0 {
		l.Checks = append(l.Checks, c.ticketHours(a))
	}
	var failed []string
	for _, x := range l.Checks {
		if !x.OK {
			failed = append(failed, x.Message)
		}
	}
	if len(failed) > 0 {
		l.Finish(&statelog.Error{Class: statelog.ClassCheck, Message: strings.Join(failed, "\n"), Step: "check"})
	}
}

func (c Checks) tlsVersion(a *statelog.Attempt) statelog.Check {
	r := statelog.Check{Name: statelog.CheckMinTLSVersion, Want: "TLSv" + c.MinTLSVersion + " or newer", Got: "no TLS", OK: true}
	switch {
	case a.TLS == nil || a.TLS.Version == "":
		r.OK = false
		r.Message = fmt.Sprintf("the connection is not encrypted, but TLS %s or newer is required", c.MinTLSVersion)
	case strings.TrimPrefix(a.TLS.Version, "TLSv") < c.MinTLSVersion:
		r.Got, r.OK = a.TLS.Version, false
		r.Message = fmt.Sprintf("the connection uses %s, but TLS %s or newer is required", a.TLS.Version, c.MinTLSVersion)
	default:
		r.Got = a.TLS.Version
	}
	return r
}

func (c Checks) certDays(a *statelog.Attempt) statelog.Check {
	r := statelog.Check{Name: statelog.CheckMinCertDays, Want: fmt.Sprintf("%d days or more", c.MinCertDays), Got: "no certificate", OK: true}
	if a.TLS == nil || len(a.TLS.PeerCertificates) == 0 {
		r.OK = false
		r.Message = fmt.Sprintf("the server showed no certificate, but one valid at least %d more days is required", c.MinCertDays)
		return r
	}
	leaf := a.TLS.PeerCertificates[0]
	r.Got = fmt.Sprintf("%d day%s (until %s)", leaf.DaysLeft, map[bool]string{true: "", false: "s"}[leaf.DaysLeft == 1], leaf.NotAfter.Format("2006-01-02"))
	if leaf.DaysLeft < c.MinCertDays {
		r.OK = false
		r.Message = fmt.Sprintf("the server certificate %s expires on %s, in %d days: fewer than the %d days required",
			leaf.Subject, leaf.NotAfter.Format("2006-01-02"), leaf.DaysLeft, c.MinCertDays)
	}
	return r
}

func (c Checks) ticketHours(a *statelog.Attempt) statelog.Check {
	r := statelog.Check{Name: statelog.CheckMinTicketHours, Want: fmt.Sprintf("%g hours or more", c.MinTicketHours), Got: "no Kerberos ticket used", OK: true}
	if a.GSS == nil || a.GSS.TicketExpires == nil {
		r.OK = false
		r.Message = fmt.Sprintf("the connection used no Kerberos ticket, but one valid at least %g more hours is required", c.MinTicketHours)
		return r
	}
	end := a.GSS.TicketExpires.Format("2006-01-02 15:04 UTC")
	r.Got = fmt.Sprintf("%g hours (until %s)", a.GSS.TicketHoursLeft, end)
	if a.GSS.TicketHoursLeft < c.MinTicketHours {
		r.OK = false
		r.Message = fmt.Sprintf("the Kerberos ticket of %s expires at %s, in %g hours: fewer than the %g hours required (run kinit)",
			a.GSS.ClientPrincipal, end, a.GSS.TicketHoursLeft, c.MinTicketHours)
	}
	return r
}
