//go:build !linux && !darwin && !freebsd

package probe

import "syscall"

// peerUID is libpq's getpeereid stub (Windows among others): ENOSYS, which
// libpq reports as "requirepeer parameter is not supported on this platform".
func peerUID(syscall.RawConn) (uint32, error) { return 0, errNoPeerCred }
