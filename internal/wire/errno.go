package wire

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Errno digs the system call error number out of a Go network error.
func Errno(err error) (syscall.Errno, bool) {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en, true
	}
	return 0, false
}

// ErrnoName is the symbolic name (ECONNREFUSED) of a socket error, or "".
func ErrnoName(err error) string {
	if en, ok := Errno(err); ok {
		return errnoName(en)
	}
	return ""
}

// IsConnReset reports a peer that reset the connection or a write to a
// connection the peer already closed (ECONNRESET, EPIPE and their Winsock
// twins): "server closed the connection unexpectedly" territory.
func IsConnReset(err error) bool {
	en, ok := Errno(err)
	return ok && isConnReset(en)
}

// Strerror renders an errno as glibc's strerror does, which is what libpq
// prints ("Connection refused"); Go's texts are the same table, lower-cased.
func Strerror(err error) string {
	if en, ok := Errno(err); ok {
		s := en.Error()
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	}
	if IsTimeout(err) {
		return "Connection timed out"
	}
	return err.Error()
}

// IsTimeout reports a deadline that expired, from a context or a socket.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsEOF reports a peer that closed the connection.
func IsEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
