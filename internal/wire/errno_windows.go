//go:build windows

package wire

import (
	"strconv"
	"syscall"
)

// wsaNames maps Winsock's error codes to the POSIX names libpq uses for
// them (PostgreSQL's win32_port.h defines ECONNREFUSED as WSAECONNREFUSED
// and so on), so that a record's errno reads the same on every platform.
var wsaNames = map[syscall.Errno]string{
	2:     "ENOENT", // ERROR_FILE_NOT_FOUND: a Unix socket path that does not exist
	3:     "ENOENT", // ERROR_PATH_NOT_FOUND
	5:     "EACCES", // ERROR_ACCESS_DENIED
	10004: "EINTR",
	10009: "EBADF",
	10013: "EACCES",
	10014: "EFAULT",
	10022: "EINVAL",
	10024: "EMFILE",
	10035: "EWOULDBLOCK",
	10036: "EINPROGRESS",
	10037: "EALREADY",
	10038: "ENOTSOCK",
	10039: "EDESTADDRREQ",
	10040: "EMSGSIZE",
	10041: "EPROTOTYPE",
	10042: "ENOPROTOOPT",
	10043: "EPROTONOSUPPORT",
	10045: "EOPNOTSUPP",
	10047: "EAFNOSUPPORT",
	10048: "EADDRINUSE",
	10049: "EADDRNOTAVAIL",
	10050: "ENETDOWN",
	10051: "ENETUNREACH",
	10052: "ENETRESET",
	10053: "ECONNABORTED",
	10054: "ECONNRESET",
	10055: "ENOBUFS",
	10056: "EISCONN",
	10057: "ENOTCONN",
	10058: "ESHUTDOWN",
	10060: "ETIMEDOUT",
	10061: "ECONNREFUSED",
	10063: "ENAMETOOLONG",
	10064: "EHOSTDOWN",
	10065: "EHOSTUNREACH",
}

// errnoName is the POSIX name of a Winsock or Windows error, else its
// number (libpq prints only the message there).
func errnoName(en syscall.Errno) string {
	if n, ok := wsaNames[en]; ok {
		return n
	}
	return strconv.Itoa(int(en))
}

// WSAECONNRESET, WSAECONNABORTED (Windows's word for a write after the peer
// closed), and Go's own ECONNRESET/EPIPE values.
func isConnReset(en syscall.Errno) bool {
	return en == 10054 || en == 10053 || en == syscall.ECONNRESET || en == syscall.EPIPE
}
