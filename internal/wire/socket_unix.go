//go:build unix

package wire

import (
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

var peekBufs = sync.Pool{New: func() any { return new([8192]byte) }}

// PendingBytes counts bytes already received on a raw socket without
// consuming them (recv with MSG_PEEK|MSG_DONTWAIT), up to 8 KiB (the size
// of PostgreSQL's and libpq's input buffers): the check of CVE-2021-23222 on
// the client and CVE-2021-23214 on the server.
//
// The peeked bytes are thrown away, so the buffer comes from a pool (a fleet
// checks once per TLS target: 8 KiB of garbage each otherwise).
func PendingBytes(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	buf := peekBufs.Get().(*[8192]byte)
	defer peekBufs.Put(buf)
	_ = rc.Read(func(fd uintptr) bool {
		k, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == nil && k > 0 {
			n = k
		}
		return true
	})
	return n
}
