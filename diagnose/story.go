package diagnose

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// ownError is the error attempt a itself holds that e stands for: e may be
// a copy with libpq's accumulated message (every attempt's failure), and
// the advice must read the one attempt's words, not the first host's.
func ownError(a *statelog.Attempt, e *statelog.Error) *statelog.Error {
	if a == nil || e == nil {
		return e
	}
	if a.Error != nil && alike(a.Error, e) {
		return a.Error
	}
	for i := len(a.Events) - 1; i >= 0; i-- {
		if x := a.Events[i].Error; x != nil && alike(x, e) {
			return x
		}
	}
	return e
}

// otherHosts adds to the final advice what the other hosts and addresses
// that failed need: libpq tried them before the last, and each failure
// has its own cause. Failures like the last one are only named; the
// others get their own advice.
func otherHosts(l *statelog.Log, last *statelog.Attempt, own *statelog.Error) string {
	if l == nil || last == nil || own == nil {
		return ""
	}
	kind := func(e *statelog.Error) string { return e.Class + "|" + e.SQLState + "|" + Short(e) }
	lastPlace := whereOf(own, last).hostport()
	var same, other []string
	seen := map[string]bool{lastPlace + "|" + kind(own): true}
	for _, a := range l.Attempts {
		if a == nil || a == last || a.Error == nil {
			continue
		}
		place := whereOf(a.Error, a).hostport()
		key := place + "|" + kind(a.Error)
		if place == lastPlace || seen[key] {
			continue // the same address: sslmode's retries speak for themselves
		}
		seen[key] = true
		if kind(a.Error) == kind(own) {
			same = append(same, place)
			continue
		}
		advice := a.Error.Advice
		if advice == "" {
			advice = Advise(a.Error, a)
		}
		other = append(other, fmt.Sprintf("Attempt %d, %s, failed with %s: %s. %s", a.Index+1, place, a.Error.Class, Short(a.Error), advice))
	}
	var b strings.Builder
	if len(same) > 0 {
		fmt.Fprintf(&b, " The same failure happened at %s first.", strings.Join(same, " and at "))
	}
	for _, s := range other {
		b.WriteString(" ")
		b.WriteString(s)
	}
	return b.String()
}

// checksAdvice is the advice for each failed check, one after another.
func checksAdvice(l *statelog.Log) string {
	var parts []string
	for i := range l.Checks {
		c := &l.Checks[i]
		if c.OK {
			continue
		}
		if c.Advice == "" {
			c.Advice = adviseCheck(c)
		}
		parts = append(parts, "--"+c.Name+": "+c.Advice)
	}
	return strings.Join(parts, " ")
}

// adviseCheck says what to do about one failed check.
func adviseCheck(c *statelog.Check) string {
	switch c.Name {
	case statelog.CheckMinCertDays:
		if c.Got == "" || strings.HasPrefix(c.Got, "no ") {
			return "The connection is not encrypted, so there is no certificate to check: connect with sslmode=require or stronger, and turn ssl on at the server."
		}
		return fmt.Sprintf("The server certificate has %s left; you asked for %s. Renew it (ssl_cert_file, ssl_key_file) before it expires and run `SELECT pg_reload_conf()`: the server reads its certificate again on reload.", c.Got, c.Want)
	case statelog.CheckMinTLSVersion:
		if c.Got == "" || strings.HasPrefix(c.Got, "no ") {
			return "The connection is not encrypted: connect with sslmode=require or stronger, and turn ssl on at the server."
		}
		return fmt.Sprintf("The connection negotiated %s; you asked for %s. Raise ssl_min_protocol_version on the server (and run `SELECT pg_reload_conf()`), or check that ssl_max_protocol_version on either side does not hold it back.", c.Got, c.Want)
	}
	return "A check you asked for failed: " + c.Message
}
