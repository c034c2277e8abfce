package pgtest

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ProxyOptions says how a Proxy mistreats the traffic it forwards.
type ProxyOptions struct {
	// Up and Down delay each direction (client→server, server→client): a
	// chunk is delivered Up (Down) after the proxy read it. Chunks in
	// flight are delayed together, not one after another, so a stream
	// arrives late but at its own rate.
	Up, Down time.Duration
	// HoldUp and HoldDown, when not negative, forward only that many bytes
	// of each connection in that direction and then nothing more (what
	// follows is read and dropped): silence at a chosen point of the
	// conversation. 0 holds from the start; NoHold (-1) never holds.
	// The zero value of ProxyOptions therefore holds both directions from
	// the start: set what you do not hold to NoHold.
	HoldUp, HoldDown int
}

// NoHold is HoldUp's and HoldDown's "forward everything".
const NoHold = -1

// Proxy is a TCP proxy on a loopback port that forwards every connection to
// one target address, with the latency and silence of ProxyOptions.
type Proxy struct {
	Host string // "127.0.0.1"
	Port int

	target string
	opts   ProxyOptions
	ln     net.Listener

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
	conns  map[net.Conn]struct{}
	flows  [][]Flight // one transcript per connection, in accept order
	wg     sync.WaitGroup
}

// Flight is a run of bytes one side sent before the other side sent
// anything: in a request-and-answer protocol, one message or group of
// messages and its place in the conversation.
type Flight struct {
	Up    bool // client→server
	Bytes int  // read from the sender, held or not
	// Chunks are the flight's deliveries, in order.
	Chunks []Delivery
}

// Delivery is one chunk the proxy forwarded.
type Delivery struct {
	Read time.Time // when the proxy read it
	Sent time.Time // when the proxy began to write it to the other side
	// Delay is the delay actually applied: never less than the configured
	// one, more when the machine was slow to wake the proxy. Time spent
	// waiting for the server to accept the connection, or for an earlier
	// write, is not counted.
	Delay time.Duration
}

// NewProxy starts a proxy to target ("host:port") and registers a t.Cleanup
// that closes it. Failures fail the test.
func NewProxy(t testing.TB, target string, opts ProxyOptions) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: NewProxy: %v", err)
	}
	p := &Proxy{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		target: target, opts: opts, ln: ln, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Flights returns each connection's conversation so far, in accept order:
// the bytes read from each side, grouped into flights.
func (p *Proxy) Flights() [][]Flight {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][]Flight, len(p.flows))
	for i, f := range p.flows {
		out[i] = make([]Flight, len(f))
		for j, fl := range f {
			fl.Chunks = append([]Delivery(nil), fl.Chunks...)
			out[i][j] = fl
		}
	}
	return out
}

// Close stops accepting, closes every connection and waits until every
// goroutine of the proxy has returned.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		_ = p.ln.Close()
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c, or closes it and reports false once the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.mu.Lock()
		flow := len(p.flows)
		p.flows = append(p.flows, nil)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c, flow)
	}
}

// serve forwards one connection. The client is read from at once, so that
// a chunk's time is the time it was sent; the server is dialed Up later, as
// over a real link the server would accept the connection only when the
// client's ACK arrived.
func (p *Proxy) serve(client net.Conn, flow int) {
	defer p.wg.Done()
	defer p.untrack(client)
	upQ := p.read(client, true, flow, p.opts.HoldUp)
	defer func() {
		_ = client.Close()
		for range upQ { // until the client's reader has returned
		}
	}()
	if !p.sleep(p.opts.Up) {
		return
	}
	woke := time.Now()
	d := net.Dialer{Timeout: 10 * time.Second}
	server, err := d.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	downQ := p.read(server, false, flow, p.opts.HoldDown)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.write(client, server, downQ, flow, p.opts.Down, woke) }()
	p.write(server, client, upQ, flow, p.opts.Up, woke)
	wg.Wait()
}

// sleep waits d, or reports false when the proxy closes first.
func (p *Proxy) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.done:
		return false
	}
}

type chunk struct {
	at     time.Time
	data   []byte
	flight int // index in the connection's transcript
}

// read reads src until it ends, stamping each chunk with the time it was
// read; at most hold bytes (hold < 0: all) go into the returned queue.
func (p *Proxy) read(src net.Conn, up bool, flow, hold int) <-chan chunk {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		sent := 0
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				at := time.Now()
				fl := p.note(flow, up, n)
				data := append([]byte(nil), buf[:n]...)
				if hold >= 0 {
					data = data[:max(0, min(n, hold-sent))]
				}
				sent += len(data)
				if len(data) > 0 {
					q <- chunk{at: at, data: data, flight: fl}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return q
}

// write delivers each chunk of q delay after it was read, then half-closes
// dst. When dst fails, both connections close, which ends the other
// direction too. ready is when the proxy began to connect to the server.
func (p *Proxy) write(dst, src net.Conn, q <-chan chunk, flow int, delay time.Duration, ready time.Time) {
	broken := false
	for c := range q {
		if broken {
			continue // drain, so that the reader never blocks
		}
		// The delay applied is the time until the proxy was ready to
		// deliver: the timer's, or the connect's timer's. Waiting for the
		// server to accept, or for an earlier write, is not injected.
		applied := max(delay, ready.Sub(c.at))
		if wait := time.Until(c.at.Add(delay)); wait > 0 {
			if !p.sleep(wait) {
				broken = true // closing: undelivered chunks are dropped
				continue
			}
			applied = time.Since(c.at)
		}
		// Recorded before the write, so that whoever reads the chunk finds
		// its delivery in the transcript.
		p.mu.Lock()
		f := &p.flows[flow][c.flight]
		f.Chunks = append(f.Chunks, Delivery{Read: c.at, Sent: time.Now(), Delay: applied})
		p.mu.Unlock()
		if _, err := dst.Write(c.data); err != nil {
			broken = true
			_ = src.Close()
			_ = dst.Close()
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok && !broken {
		_ = tc.CloseWrite()
	}
}

// note adds n bytes read in one direction to the connection's transcript
// and returns the index of their flight.
func (p *Proxy) note(flow int, up bool, n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flows[flow]
	if len(f) > 0 && f[len(f)-1].Up == up {
		f[len(f)-1].Bytes += n
	} else {
		f = append(f, Flight{Up: up, Bytes: n})
	}
	p.flows[flow] = f
	return len(f) - 1
}
