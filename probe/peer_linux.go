package probe

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID is getpeereid as libpq's port/getpeereid.c does it on Linux:
// SO_PEERCRED.
func peerUID(rc syscall.RawConn) (uint32, error) {
	var (
		cred *unix.Ucred
		gerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, gerr
	}
	return cred.Uid, nil
}
