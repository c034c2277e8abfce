package probe

import (
	"syscall"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// serverClosed is libpq's text for a connection the server dropped.
const serverClosed = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."

// readError turns a failed read from the server into libpq's wording.
func readError(err error) (class, msg string) {
	switch {
	case wire.IsTimeout(err):
		return statelog.ClassTimeout, "timeout expired"
	case wire.IsEOF(err):
		return statelog.ClassConnect, serverClosed
	}
	if en, ok := wire.Errno(err); ok && (en == syscall.ECONNRESET || en == syscall.EPIPE) {
		return statelog.ClassConnect, serverClosed
	}
	return statelog.ClassConnect, "could not receive data from server: " + wire.Strerror(err)
}

func newError(class, msg string) *statelog.Error {
	return &statelog.Error{Class: class, Message: msg}
}
