package report

import (
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Short is an error in one short line, for a status line: the first line of
// libpq's message without its "connection to server … failed: " prefix or
// the severity ("Connection refused", "password authentication failed for
// user …").
func Short(e *statelog.Error) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(firstLine(core(e.Message)))
}
