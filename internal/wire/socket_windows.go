//go:build windows

package wire

import (
	"net"
	"syscall"
	"unsafe"
)

// fionread is FIONREAD from winsock2.h (_IOR('f', 127, u_long)).
const fionread = 0x4004667f

// PendingBytes counts bytes already received on a raw socket without
// consuming them, up to 8 KiB: Winsock has no MSG_DONTWAIT, so it asks
// FIONREAD, which does not block either.
func PendingBytes(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var n uint32
	_ = rc.Control(func(fd uintptr) {
		var ret uint32
		if syscall.WSAIoctl(syscall.Handle(fd), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), 4, &ret, nil, 0) != nil {
			n = 0
		}
	})
	return int(min(n, 8192))
}
