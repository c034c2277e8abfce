package pgtest

import (
	"bytes"
	"io"
	"math"
	"net"
	"runtime"
	"testing"
	"time"
)

// upstream accepts one connection on loopback and hands it to serve, which
// runs in its own goroutine; the listener and connection close with the test.
func upstream(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Each direction is delayed by its own amount, never less. Every exchange
// must be at least as late as its delay; the fastest of several must be
// close to it, which a second delay would not be (a loaded machine can
// slow any one exchange by tens of milliseconds).
func TestProxyDelaysEachDirection(t *testing.T) {
	const up, down, rounds = 30 * time.Millisecond, 70 * time.Millisecond, 5
	arrived := make(chan time.Time, rounds)
	sentAt := make(chan time.Time, rounds)
	addr := upstream(t, func(c net.Conn) {
		b := make([]byte, 1)
		for range rounds {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			arrived <- time.Now()
			sentAt <- time.Now()
			c.Write([]byte("y"))
		}
	})
	p := NewProxy(t, addr, ProxyOptions{Up: up, Down: down, HoldUp: NoHold, HoldDown: NoHold})
	c := dialProxy(t, p)
	fastestUp, fastestDown := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range rounds {
		t0 := time.Now()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'y' {
			t.Fatalf("read %q, %v", b, err)
		}
		t3 := time.Now()
		t1, t2 := <-arrived, <-sentAt
		// Lower bounds are exact: a timer never fires early.
		if d := t1.Sub(t0); d < up {
			t.Errorf("client→server took %v, want at least %v", d, up)
		} else {
			fastestUp = min(fastestUp, d)
		}
		if d := t3.Sub(t2); d < down {
			t.Errorf("server→client took %v, want at least %v", d, down)
		} else {
			fastestDown = min(fastestDown, d)
		}
	}
	if fastestUp > up+25*time.Millisecond {
		t.Errorf("client→server took %v at best, want %v", fastestUp, up)
	}
	if fastestDown > down+25*time.Millisecond {
		t.Errorf("server→client took %v at best, want %v", fastestDown, down)
	}
}

// A stream of chunks arrives delay late, in order, at the rate it was sent:
// the delays overlap instead of adding up.
func TestProxyDelayIsNotSerialised(t *testing.T) {
	const delay, n, gap = 100 * time.Millisecond, 10, 10 * time.Millisecond
	type arrival struct {
		at   time.Time
		data []byte
	}
	got := make(chan arrival, 100)
	addr := upstream(t, func(c net.Conn) {
		defer close(got)
		for {
			b := make([]byte, 64)
			k, err := c.Read(b)
			if k > 0 {
				got <- arrival{time.Now(), b[:k]}
			}
			if err != nil {
				return
			}
		}
	})
	p := NewProxy(t, addr, ProxyOptions{Up: delay, HoldUp: NoHold, HoldDown: NoHold})
	c := dialProxy(t, p)
	var want []byte
	first := time.Now()
	var last time.Time
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		msg := []byte{byte('a' + i)}
		want = append(want, msg...)
		last = time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	var all []byte
	var firstAt, lastAt time.Time
	for a := range got {
		if firstAt.IsZero() {
			firstAt = a.at
		}
		lastAt = a.at
		all = append(all, a.data...)
	}
	if !bytes.Equal(all, want) {
		t.Fatalf("server received %q, want %q", all, want)
	}
	if firstAt.Sub(first) < delay || lastAt.Sub(last) < delay {
		t.Errorf("delivered early: first after %v, last after %v; want %v", firstAt.Sub(first), lastAt.Sub(last), delay)
	}
	// Serialised delays would take n×delay = 1 s; a slow wake-up on a loaded
	// machine takes tens of milliseconds.
	if d := lastAt.Sub(first); d > last.Sub(first)+delay+400*time.Millisecond {
		t.Errorf("the last chunk arrived %v after the first was sent; sending took %v and the delay is %v", d, last.Sub(first), delay)
	}
}

// A hold forwards exactly N bytes and then silence; the other direction
// still flows.
func TestProxyHold(t *testing.T) {
	got := make(chan []byte, 1)
	addr := upstream(t, func(c net.Conn) {
		c.Write([]byte("hello"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		b, _ := io.ReadAll(c)
		got <- b
	})
	p := NewProxy(t, addr, ProxyOptions{HoldUp: 5, HoldDown: NoHold})
	c := dialProxy(t, p)
	if _, err := c.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hello" {
		t.Fatalf("client read %q, %v", b, err)
	}
	if b := <-got; string(b) != "01234" {
		t.Errorf("server received %q, want the first 5 bytes only", b)
	}
	// The transcript counts what was read, held or not.
	want := []Flight{{Up: true, Bytes: 10}, {Up: false, Bytes: 5}}
	fl := p.Flights()
	if len(fl) != 1 || len(fl[0]) != 2 || fl[0][0].Bytes+fl[0][1].Bytes != 15 {
		t.Errorf("flights %v, want one connection with 10 bytes up and 5 down (%v in some order)", fl, want)
	}
}

func TestProxyHoldFromStart(t *testing.T) {
	addr := upstream(t, func(c net.Conn) {
		c.Write([]byte("hello"))
		io.Copy(io.Discard, c)
	})
	p := NewProxy(t, addr, ProxyOptions{HoldUp: NoHold, HoldDown: 0})
	c := dialProxy(t, p)
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 5)
	if n, err := c.Read(b); n != 0 || !isTimeout(err) {
		t.Errorf("read %q, %v; want nothing until the deadline", b[:n], err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Flights follow the conversation: who spoke, and how much, in turn.
func TestProxyFlights(t *testing.T) {
	addr := upstream(t, func(c net.Conn) {
		b := make([]byte, 3)
		io.ReadFull(c, b)
		c.Write([]byte("A"))
		b = make([]byte, 4)
		io.ReadFull(c, b)
		c.Write([]byte("BB"))
	})
	p := NewProxy(t, addr, ProxyOptions{Up: time.Millisecond, HoldUp: NoHold, HoldDown: NoHold})
	c := dialProxy(t, p)
	c.Write([]byte("abc"))
	io.ReadFull(c, make([]byte, 1))
	c.Write([]byte("de"))
	c.Write([]byte("fg"))
	io.ReadFull(c, make([]byte, 2))
	want := []Flight{{Up: true, Bytes: 3}, {Bytes: 1}, {Up: true, Bytes: 4}, {Bytes: 2}}
	got := p.Flights()
	if len(got) != 1 || len(got[0]) != len(want) {
		t.Fatalf("flights %v, want [%v]", got, want)
	}
	for i, w := range want {
		g := got[0][i]
		if g.Up != w.Up || g.Bytes != w.Bytes {
			t.Errorf("flight %d = %v, want %v", i, g, w)
		}
		if len(g.Chunks) == 0 {
			t.Errorf("flight %d: no delivery recorded", i)
		}
		for _, c := range g.Chunks {
			if g.Up && (c.Delay < time.Millisecond || c.Sent.Sub(c.Read) < time.Millisecond) {
				t.Errorf("flight %d: %+v, delivered before the 1 ms delay", i, c)
			}
		}
	}
}

// Close ends open connections, delayed chunks and all, and leaves no
// goroutine behind.
func TestProxyCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	// The server is dialed Up after the client connects: keep Up short.
	p := NewProxy(t, ln.Addr().String(), ProxyOptions{Up: 200 * time.Millisecond, Down: time.Hour, HoldUp: NoHold, HoldDown: NoHold})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	defer s.Close()
	s.Write([]byte("stuck for an hour"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("still in the proxy when it closes"))
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("client connection still open after Close: %d bytes, %v", n, err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Error("the proxy still accepts connections after Close")
	}
	c.Close()
	s.Close()
	ln.Close()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
