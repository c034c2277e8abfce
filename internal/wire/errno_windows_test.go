package wire

import (
	"syscall"
	"testing"
)

func TestWinsockErrnoNames(t *testing.T) {
	for _, tc := range []struct {
		en   syscall.Errno
		want string
	}{
		{10061, "ECONNREFUSED"},
		{10060, "ETIMEDOUT"},
		{10054, "ECONNRESET"},
		{10065, "EHOSTUNREACH"},
		{10093, "10093"}, // WSANOTINITIALISED: no POSIX twin
	} {
		if got := errnoName(tc.en); got != tc.want {
			t.Errorf("errnoName(%d) = %q, want %q", tc.en, got, tc.want)
		}
	}
}
