package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/pgprobe/pgprobe/statelog"
	"golang.org/x/sys/unix"
)

// errnoOf digs the system call error number out of a Go network error.
func errnoOf(err error) (syscall.Errno, bool) {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en, true
	}
	return 0, false
}

// errnoName is the symbolic name (ECONNREFUSED) of a socket error, or "".
func errnoName(err error) string {
	if en, ok := errnoOf(err); ok {
		return unix.ErrnoName(en)
	}
	return ""
}

// strerror renders an errno as glibc's strerror does, which is what libpq
// prints ("Connection refused"); Go's texts are the same table, lower-cased.
func strerror(err error) string {
	if en, ok := errnoOf(err); ok {
		s := en.Error()
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	}
	if isTimeout(err) {
		return "Connection timed out"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// serverClosed is libpq's text for a connection the server dropped.
const serverClosed = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."

// readError turns a failed read from the server into libpq's wording.
func readError(err error) (class, msg string) {
	switch {
	case isTimeout(err):
		return statelog.ClassTimeout, "timeout expired"
	case isEOF(err):
		return statelog.ClassConnect, serverClosed
	}
	if en, ok := errnoOf(err); ok && (en == syscall.ECONNRESET || en == syscall.EPIPE) {
		return statelog.ClassConnect, serverClosed
	}
	return statelog.ClassConnect, "could not receive data from server: " + strerror(err)
}

func newError(class, msg string) *statelog.Error {
	return &statelog.Error{Class: class, Message: msg}
}
