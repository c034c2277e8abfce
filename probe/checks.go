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

// apply runs the checks against the attempt that connected.
func (c Checks) apply(l *statelog.Log) {
	if !l.OK || l.Ping != "" || (c.MinCertDays <= 0 && c.MinTLSVersion == "") {
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
	fail := func(msg string) {
		l.Finish(&statelog.Error{Class: statelog.ClassCheck, Message: msg, Step: "check"})
	}
	if c.MinTLSVersion != "" {
		if a.TLS == nil || a.TLS.Version == "" {
			fail(fmt.Sprintf("the connection is not encrypted, but TLS %s or newer is required", c.MinTLSVersion))
			return
		}
		if strings.TrimPrefix(a.TLS.Version, "TLSv") < c.MinTLSVersion {
			fail(fmt.Sprintf("the connection uses %s, but TLS %s or newer is required", a.TLS.Version, c.MinTLSVersion))
			return
		}
	}
	if c.MinCertDays > 0 {
		if a.TLS == nil || len(a.TLS.PeerCertificates) == 0 {
			fail(fmt.Sprintf("the server showed no certificate, but one valid at least %d more days is required", c.MinCertDays))
			return
		}
		leaf := a.TLS.PeerCertificates[0]
		if leaf.DaysLeft < c.MinCertDays {
			fail(fmt.Sprintf("the server certificate %s expires on %s, in %d days: fewer than the %d days required",
				leaf.Subject, leaf.NotAfter.Format("2006-01-02"), leaf.DaysLeft, c.MinCertDays))
		}
	}
}
