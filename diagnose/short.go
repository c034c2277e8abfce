package diagnose

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
	return strings.TrimSpace(firstLine(Core(lastMessage(e.Message))))
}

// lastMessage is the last of the messages libpq accumulates when every
// host failed (each starts a line with "connection to server … failed: "):
// the failure that ended the attempts.
func lastMessage(msg string) string {
	for i := len(msg) - 1; i > 0; i-- {
		if msg[i-1] == '\n' && re().prefix.MatchString(msg[i:]) {
			return msg[i:]
		}
	}
	return msg
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Core is libpq's message without its "connection to server … failed: "
// prefix and without the severity.
func Core(msg string) string {
	if loc := re().prefix.FindStringIndex(msg); loc != nil {
		msg = msg[loc[1]:]
	}
	for _, sev := range []string{"FATAL:  ", "ERROR:  ", "PANIC:  "} {
		msg = strings.TrimPrefix(msg, sev)
	}
	return msg
}
