package diagnose

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// sslOnlyRetry explains a failure that libpq reports last but that is not
// the one to fix. With sslmode=prefer, libpq retries without SSL after the
// SSL attempt fails, even when it failed in authentication (a wrong
// password). When pg_hba.conf allows only SSL, that retry fails with 28000
// "no pg_hba.conf entry … no encryption", and that is the error libpq
// ends with, though the SSL attempt's error is the real cause: advising a
// hostnossl line would open an unencrypted path and leave the cause alone.
// It returns the advice for that case, or "" when last's error is not such
// a retry.
func sslOnlyRetry(l *statelog.Log, last *statelog.Attempt) string {
	if l == nil || last == nil || l.Error == nil || l.Error.SQLState != "28000" || last.Encryption != "plaintext" {
		return ""
	}
	m := re().hba.FindStringSubmatch(ownError(last, l.Error).Message)
	if m == nil || (m[5] != "no encryption" && m[5] != "SSL off") {
		return ""
	}
	var first *statelog.Attempt
	for _, a := range l.Attempts {
		if a == last {
			break
		}
		if a != nil && a.Encryption == "ssl" && a.Error != nil && a.Host == last.Host && a.HostAddr == last.HostAddr && a.Port == last.Port {
			first = a
		}
	}
	if first == nil {
		return ""
	}
	return fmt.Sprintf("This is sslmode=%s's retry without SSL, and pg_hba.conf has no line for this user and database without encryption, so it could not succeed. "+
		"The SSL attempt before it failed with: %s — that is the error to fix. %s "+
		"(Add a hostnossl line only if unencrypted connections are wanted; sslmode=require would make libpq report the SSL attempt's error.)",
		cmp.Or(last.SSLMode, "prefer"), strings.TrimSpace(firstLine(Core(first.Error.Message))), adviseIn(l, first.Error, first))
}
