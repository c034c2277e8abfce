//go:build unix

package wire

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func errnoName(en syscall.Errno) string { return unix.ErrnoName(en) }

func isConnReset(en syscall.Errno) bool { return en == syscall.ECONNRESET || en == syscall.EPIPE }
