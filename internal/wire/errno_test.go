package wire

import (
	"fmt"
	"net"
	"testing"
)

func TestErrnoNameOfARefusedConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Fatalf("connect to closed port %s succeeded", addr)
	}
	if got := ErrnoName(err); got != "ECONNREFUSED" {
		t.Errorf("ErrnoName(%v) = %q, want ECONNREFUSED", err, got)
	}
	if got := ErrnoName(fmt.Errorf("no errno")); got != "" {
		t.Errorf("ErrnoName of an error without errno = %q, want \"\"", got)
	}
}

func TestIsConnResetAfterAnAbortiveClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Read(make([]byte, 1))       // the client is connected: its connect cannot see the reset
		c.(*net.TCPConn).SetLinger(0) // close with RST, as a crashed server's kernel does
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	if !IsConnReset(err) {
		t.Errorf("IsConnReset(%v) = false after the peer reset the connection", err)
	}
	if got := ErrnoName(err); got != "ECONNRESET" {
		t.Errorf("ErrnoName(%v) = %q, want ECONNRESET", err, got)
	}
	if IsConnReset(fmt.Errorf("other")) {
		t.Error("IsConnReset of a plain error is true")
	}
}
