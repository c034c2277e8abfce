package pgtest

// Loopback peers for tests, on every platform: a port nothing listens on, a
// listener that never answers, and a buffer a test reads while a command
// writes to it.

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// FreePort returns a TCP port free on both 127.0.0.1 and ::1 (when the
// machine has IPv6), never the same one twice in a process. Another process
// may still take it before it is used: Start retries with another port when
// the server cannot bind.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pgtest: FreePort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		if l6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			l6.Close()
		} else if errors.Is(err, syscall.EADDRINUSE) {
			ok = false
		}
		l.Close()
		portMu.Lock()
		if portsUsed[port] {
			ok = false
		} else if ok {
			portsUsed[port] = true
		}
		portMu.Unlock()
		if ok {
			return port
		}
	}
	t.Fatalf("pgtest: FreePort: no free port found")
	return 0
}

// SilentPeer listens on a loopback port, accepts every connection and never
// answers: a hung or hostile server. The test's cleanup closes it and the
// connections it holds.
func SilentPeer(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: SilentPeer: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// SyncBuffer is a writer a test can read while another goroutine writes
// to it (a command's stdout, a server's log).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
