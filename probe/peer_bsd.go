//go:build darwin || freebsd

package probe

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID is getpeereid, which macOS and FreeBSD implement with
// LOCAL_PEERCRED: the same call, made directly.
func peerUID(rc syscall.RawConn) (uint32, error) {
	var (
		cred *unix.Xucred
		gerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, gerr
	}
	return cred.Uid, nil
}
