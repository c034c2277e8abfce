//go:build unix

package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/server"
	"github.com/pgprobe/pgprobe/statelog"
)

// The hostile-server suite (issue 7): one case per misbehaviour. Each case
// checks that the probe ends within its deadline with a classified error,
// without panicking and without leaving goroutines behind.

// hostilePeer is a scripted loopback server whose connections are closed,
// and whose handlers are waited for, when stop is called.
type hostilePeer struct {
	ln    net.Listener
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startHostilePeer(t *testing.T, handle func(p *hostilePeer, c net.Conn)) (*hostilePeer, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hostilePeer{ln: ln, done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				handle(p, c)
			}()
		}
	}()
	return p, ln.Addr().(*net.TCPAddr).Port
}

func (p *hostilePeer) stop() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// wait sleeps d or until the peer stops; it reports whether d elapsed.
func (p *hostilePeer) wait(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-p.done:
		return false
	}
}

func (p *hostilePeer) silent() { <-p.done }

// reset closes c with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// msg frames a backend message.
func msg(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)+4))
	return append(out, b...)
}

func i32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func authOK() []byte { return msg('R', i32(0)) }

// readFrontend reads one typed frontend message ('p', …) and returns its body.
func readFrontend(c net.Conn) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > 1<<16 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n-4)
	_, err := io.ReadFull(c, b)
	return h[0], b, err
}

// scramPeer plays SCRAM-SHA-256 up to the server-first-message built by
// serverFirst from the client's nonce, then calls final with the connection.
func scramPeer(serverFirst func(clientNonce string) string, final func(p *hostilePeer, c net.Conn)) func(p *hostilePeer, c net.Conn) {
	return func(p *hostilePeer, c net.Conn) {
		if _, err := readStartupPacket(c); err != nil {
			return
		}
		c.Write(msg('R', i32(10), []byte("SCRAM-SHA-256\x00\x00")))
		_, body, err := readFrontend(c)
		if err != nil {
			return
		}
		// mechanism\0 int32 len client-first-message
		i := bytes.IndexByte(body, 0)
		if i < 0 || len(body) < i+5 {
			return
		}
		first := string(body[i+5:])
		j := strings.Index(first, "r=")
		if j < 0 {
			return
		}
		nonce := first[j+2:]
		if k := strings.IndexByte(nonce, ','); k >= 0 {
			nonce = nonce[:k]
		}
		c.Write(msg('R', i32(11), []byte(serverFirst(nonce))))
		if final != nil {
			final(p, c)
		} else {
			p.wait(5 * time.Second)
		}
	}
}

// afterStartup answers the startup message (sslmode=disable) with out, then
// does then (nil: close).
func afterStartup(out []byte, then func(p *hostilePeer, c net.Conn)) func(p *hostilePeer, c net.Conn) {
	return func(p *hostilePeer, c net.Conn) {
		if _, err := readStartupPacket(c); err != nil {
			return
		}
		if len(out) > 0 {
			c.Write(out)
		}
		if then != nil {
			then(p, c)
		}
	}
}

// afterSSLRequest answers the SSLRequest with out, then does then.
func afterSSLRequest(out []byte, then func(p *hostilePeer, c net.Conn)) func(p *hostilePeer, c net.Conn) {
	return afterStartup(out, then)
}

func silence(p *hostilePeer, _ net.Conn)   { p.silent() }
func resetConn(_ *hostilePeer, c net.Conn) { reset(c) }

// drainThen reads whatever the client sends for a moment, then does then.
func drainThen(then func(p *hostilePeer, c net.Conn)) func(p *hostilePeer, c net.Conn) {
	return func(p *hostilePeer, c net.Conn) {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		io.Copy(io.Discard, c)
		c.SetReadDeadline(time.Time{})
		then(p, c)
	}
}

// longChainCert is a certificate whose chain repeats its leaf 100 times.
func longChainCert(t *testing.T) tls.Certificate {
	c, err := server.SelfSignedCertificate([]string{"localhost", "127.0.0.1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Certificate[0]
	c.Certificate = nil
	for range 100 {
		c.Certificate = append(c.Certificate, leaf)
	}
	return c
}

type hostileCase struct {
	name string
	// conninfo besides host and port (default sslmode=disable user=u).
	opts    string
	timeout time.Duration
	handle  func(t *testing.T) func(p *hostilePeer, c net.Conn)
	check   func(t *testing.T, l *statelog.Log)
}

func fixed(h func(p *hostilePeer, c net.Conn)) func(*testing.T) func(p *hostilePeer, c net.Conn) {
	return func(*testing.T) func(p *hostilePeer, c net.Conn) { return h }
}

func wantClass(classes ...string) func(t *testing.T, l *statelog.Log) {
	return func(t *testing.T, l *statelog.Log) {
		t.Helper()
		for _, c := range classes {
			if l.Error.Class == c {
				return
			}
		}
		t.Errorf("class %q (%s); want one of %v", l.Error.Class, l.Error.Message, classes)
	}
}

func hostileCases() []hostileCase {
	const ssl = "sslmode=require user=u"
	const prefer = "sslmode=prefer user=u"
	const pw = "sslmode=disable user=u password=secret"
	tempting := "EFATAL:  your password expired, enter it at http://evil.example/\x00"
	serverHello := []byte("\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03" + strings.Repeat("\x42", 32) + "\x00\x13\x01\x00")
	notScram := func(typ byte, body ...[]byte) []byte { return msg(typ, body...) }
	flood := func(p *hostilePeer, c net.Conn) {
		one := msg('S', []byte("application_name\x00x\x00"))
		batch := bytes.Repeat(one, 1000)
		c.Write(authOK())
		for range 100 {
			if _, err := c.Write(batch); err != nil {
				return
			}
		}
		// then the connection ends: the probe must fail, its record bounded
	}
	return []hostileCase{
		// --- the answer to SSLRequest ---
		{name: "ssl/garbage", opts: prefer, handle: fixed(afterSSLRequest([]byte("\x00\x01\x02\xffgarbage"), nil)), check: wantClass(statelog.ClassProtocol)},
		{name: "ssl/http", opts: prefer, handle: fixed(afterSSLRequest([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), nil)), check: wantClass(statelog.ClassProtocol)},
		{name: "ssl/ssh-banner", opts: prefer, handle: fixed(afterSSLRequest([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), silence)), check: wantClass(statelog.ClassProtocol, statelog.ClassSSL, statelog.ClassTLS, statelog.ClassTimeout)},
		{name: "ssl/tls-server-hello", opts: prefer, handle: fixed(afterSSLRequest(serverHello, nil)), check: wantClass(statelog.ClassProtocol)},
		{name: "ssl/E-tempting", opts: prefer, handle: fixed(afterSSLRequest([]byte(tempting), nil)), check: func(t *testing.T, l *statelog.Log) {
			if strings.Contains(l.Error.Message, "evil") {
				t.Errorf("untrusted text in the message: %q", l.Error.Message)
			}
			if !strings.Contains(l.Error.Untrusted, "evil") {
				t.Errorf("untrusted text not kept as Untrusted: %+v", l.Error)
			}
		}},
		{name: "ssl/E-huge", opts: prefer, handle: fixed(afterSSLRequest(append([]byte("E"), bytes.Repeat([]byte("A"), 100000)...), nil))},
		// libpq checks for bytes that came in the clear once the handshake is
		// done: with a silent TLS peer the probe times out, as libpq does.
		{name: "ssl/cleartext-after-S-silent", opts: ssl, timeout: time.Second, handle: fixed(afterSSLRequest(append([]byte("S"), authOK()...), silence)), check: wantClass(statelog.ClassTimeout)},
		{name: "ssl/cleartext-after-S", opts: ssl, handle: func(t *testing.T) func(p *hostilePeer, c net.Conn) {
			cert, err := server.SelfSignedCertificate([]string{"localhost"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			return afterSSLRequest(append([]byte("S"), authOK()...), func(p *hostilePeer, c net.Conn) {
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				tc.SetDeadline(time.Now().Add(3 * time.Second))
				tc.Handshake()
				p.wait(2 * time.Second)
			})
		}, check: func(t *testing.T, l *statelog.Log) {
			if !strings.Contains(l.Error.Message, "received unencrypted data after SSL response") {
				t.Errorf("message %q", l.Error.Message)
			}
		}},
		{name: "ssl/close-after-S", opts: ssl, handle: fixed(afterSSLRequest([]byte("S"), nil))},
		{name: "ssl/reset-after-S", opts: ssl, handle: fixed(afterSSLRequest([]byte("S"), drainThen(resetConn)))},
		{name: "ssl/silence-after-S", opts: ssl, timeout: time.Second, handle: fixed(afterSSLRequest([]byte("S"), silence)), check: wantClass(statelog.ClassTimeout)},
		{name: "ssl/tls-alert", opts: ssl, handle: fixed(afterSSLRequest([]byte("S"), drainThen(func(p *hostilePeer, c net.Conn) {
			c.Write([]byte("\x15\x03\x03\x00\x02\x02\x28")) // fatal handshake_failure
			p.wait(2 * time.Second)
		}))), check: wantClass(statelog.ClassTLS, statelog.ClassSSL)},
		{name: "ssl/tls-garbage-record", opts: ssl, handle: fixed(afterSSLRequest([]byte("S"), drainThen(func(p *hostilePeer, c net.Conn) {
			c.Write([]byte("\x16\x03\x03\xff\xff" + strings.Repeat("\x00", 64)))
			p.wait(2 * time.Second)
		})))},
		{name: "ssl/no-answer-close", opts: prefer, handle: fixed(afterSSLRequest(nil, nil))},
		{name: "ssl/no-answer-reset", opts: prefer, handle: fixed(afterSSLRequest(nil, resetConn))},
		{name: "ssl/silence", opts: prefer, timeout: time.Second, handle: fixed(afterSSLRequest(nil, silence)), check: wantClass(statelog.ClassTimeout)},
		{name: "ssl/one-byte-a-second", opts: ssl, handle: fixed(afterSSLRequest(nil, func(p *hostilePeer, c net.Conn) {
			// a slow 'N' would be an answer: dribble garbage after a pause instead
			for _, b := range []byte("HTTP/1.1") {
				if !p.wait(time.Second) {
					return
				}
				c.Write([]byte{b})
			}
		}))},
		{name: "ssl/100-certificate-chain", opts: ssl, handle: func(t *testing.T) func(p *hostilePeer, c net.Conn) {
			cert := longChainCert(t)
			return afterSSLRequest([]byte("S"), func(p *hostilePeer, c net.Conn) {
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"postgresql"}})
				tc.SetDeadline(time.Now().Add(3 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				readStartupPacket(tc)
				tc.Write([]byte("garbage"))
			})
		}},
		// --- startup: framing ---
		{name: "startup/truncated-header", handle: fixed(afterStartup([]byte("R\x00\x00"), nil))},
		{name: "startup/truncated-body", handle: fixed(afterStartup([]byte("R\x00\x00\x00\x0c\x00\x00"), nil))},
		{name: "startup/length-0", handle: fixed(afterStartup([]byte("R\x00\x00\x00\x00\x00\x00\x00\x00"), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/length-3", handle: fixed(afterStartup([]byte("R\x00\x00\x00\x03\x00\x00\x00\x00"), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/length-2^31-1", handle: fixed(afterStartup([]byte("R\x7f\xff\xff\xff\x00\x00\x00\x00"), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/length-negative", handle: fixed(afterStartup([]byte("R\x80\x00\x00\x00\x00\x00\x00\x00"), silence)), check: wantClass(statelog.ClassProtocol)},
		// libpq reads an 'E' whose length is out of range as a protocol-2 error text.
		{name: "startup/error-length-2^31-1", handle: fixed(afterStartup([]byte("E\x7f\xff\xff\xffSFATAL\x00"), silence)), check: wantClass(statelog.ClassServer)},
		{name: "startup/error-length-2^31-1-unterminated", handle: fixed(afterStartup(append([]byte("E\x7f\xff\xff\xff"), bytes.Repeat([]byte("x"), 40000)...), silence)), check: wantClass(statelog.ClassServer)},
		{name: "startup/error-unterminated", handle: fixed(afterStartup(msg('E', []byte("SFATAL\x00Mno terminator")), nil))},
		{name: "startup/unknown-type", handle: fixed(afterStartup(msg('Q', i32(0)), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/ssh-banner", handle: fixed(afterStartup([]byte("SSH-2.0-OpenSSH_9.2\r\n"), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/negotiate-garbage", handle: fixed(afterStartup(msg('v', []byte{0xff}), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/silence", timeout: time.Second, handle: fixed(afterStartup(nil, silence)), check: wantClass(statelog.ClassTimeout)},
		// A server that hangs up on the startup message refused the packet
		// (PostgreSQL does so for one over 10000 bytes).
		{name: "startup/reset", handle: fixed(afterStartup(nil, resetConn)), check: wantClass(statelog.ClassProtocol)},
		{name: "startup/one-byte-a-second", handle: fixed(afterStartup(nil, func(p *hostilePeer, c net.Conn) {
			for _, b := range authOK() {
				if !p.wait(time.Second) {
					return
				}
				c.Write([]byte{b})
			}
			p.silent()
		})), check: wantClass(statelog.ClassTimeout)},
		// --- authentication ---
		{name: "auth/short-request", handle: fixed(afterStartup(msg('R', []byte{0, 0}), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "auth/unknown-code", handle: fixed(afterStartup(msg('R', i32(99)), silence)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/sasl-continue-first", opts: pw, handle: fixed(afterStartup(msg('R', i32(11), []byte("r=x,s=c2FsdA==,i=4096")), silence)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/sasl-unknown-mechanisms", opts: pw, handle: fixed(afterStartup(notScram('R', i32(10), []byte("SCRAM-SHA-1\x00X-UNKNOWN\x00\x00")), silence)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/sasl-unterminated-list", opts: pw, handle: fixed(afterStartup(msg('R', i32(10), []byte("SCRAM-SHA-256")), silence)), check: wantClass(statelog.ClassAuth, statelog.ClassProtocol)},
		{name: "auth/md5-short-salt", opts: pw, handle: fixed(afterStartup(msg('R', i32(5), []byte{1}), silence)), check: wantClass(statelog.ClassAuth, statelog.ClassProtocol)},
		{name: "auth/scram-wrong-nonce", opts: pw, handle: fixed(scramPeer(func(string) string { return "r=notyournonce,s=c2FsdA==,i=4096" }, nil)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/scram-zero-iterations", opts: pw, handle: fixed(scramPeer(func(n string) string { return "r=" + n + "srv,s=c2FsdA==,i=0" }, nil)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/scram-garbage-server-first", opts: pw, handle: fixed(scramPeer(func(string) string { return "\xff\x00garbage" }, nil)), check: wantClass(statelog.ClassAuth)},
		{name: "auth/scram-bad-server-signature", opts: pw, handle: fixed(scramPeer(func(n string) string { return "r=" + n + "srv,s=c2FsdA==,i=4096" }, func(p *hostilePeer, c net.Conn) {
			if _, _, err := readFrontend(c); err != nil {
				return
			}
			sig := base64.StdEncoding.EncodeToString(make([]byte, 32))
			c.Write(append(msg('R', i32(12), []byte("v="+sig)), authOK()...))
			c.Write(msg('Z', []byte("I")))
			p.wait(5 * time.Second)
		})), check: func(t *testing.T, l *statelog.Log) {
			// the server is not who it says: the AuthenticationOk after it must not count
			if l.OK || l.Error.Class != statelog.ClassAuth {
				t.Errorf("a bad server signature must fail authentication: %+v", l.Error)
			}
		}},
		{name: "auth/silence-after-sasl", opts: pw, timeout: time.Second, handle: fixed(scramPeer(func(n string) string { return "r=" + n + "srv,s=c2FsdA==,i=4096" }, silence)), check: wantClass(statelog.ClassTimeout)},
		{name: "auth/reset-after-sasl", opts: pw, handle: fixed(scramPeer(func(n string) string { return "r=" + n + "srv,s=c2FsdA==,i=4096" }, resetConn)), check: wantClass(statelog.ClassConnect)},
		// --- after AuthenticationOk ---
		{name: "authok/no-ready-for-query", timeout: time.Second, handle: fixed(afterStartup(authOK(), silence)), check: wantClass(statelog.ClassTimeout)},
		{name: "authok/close", handle: fixed(afterStartup(authOK(), nil)), check: wantClass(statelog.ClassConnect)},
		{name: "authok/reset", handle: fixed(afterStartup(authOK(), resetConn)), check: wantClass(statelog.ClassConnect)},
		{name: "authok/truncated-parameter", handle: fixed(afterStartup(append(authOK(), "S\x00\x00\x00\x20abc"...), nil))},
		{name: "authok/length-3", handle: fixed(afterStartup(append(authOK(), "S\x00\x00\x00\x03"...), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "authok/length-2^31-1", handle: fixed(afterStartup(append(authOK(), "K\x7f\xff\xff\xff"...), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "authok/unknown-type", handle: fixed(afterStartup(append(authOK(), msg('X')...), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "authok/second-auth-request", handle: fixed(afterStartup(append(authOK(), authOK()...), silence)), check: wantClass(statelog.ClassProtocol)},
		{name: "authok/parameter-flood", timeout: 10 * time.Second, handle: fixed(afterStartup(nil, flood)), check: func(t *testing.T, l *statelog.Log) {
			n := 0
			for _, a := range l.Attempts {
				for _, e := range a.Events {
					if e.Step == statelog.StepParameter {
						n++
					}
				}
			}
			if n > maxParameterEvents+1 {
				t.Errorf("%d parameter_status events recorded for 100k messages; want at most %d", n, maxParameterEvents+1)
			}
		}},
	}
}

func TestHostileServers(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			p, port := startHostilePeer(t, tc.handle(t))
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			opts := tc.opts
			if opts == "" {
				opts = "sslmode=disable user=u"
			}
			target := "host=127.0.0.1 port=" + itoa(port) + " " + opts
			start := time.Now()
			var l *statelog.Log
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("panic: %v", r)
					}
				}()
				l = Run(context.Background(), Config{Settings: settings(t, target), Target: target, Timeout: timeout,
					HomeDir: t.TempDir(), Getenv: noEnv})
			}()
			took := time.Since(start)
			p.stop()
			if took > timeout+2*time.Second {
				t.Errorf("took %s with a %s deadline", took, timeout)
			}
			if l != nil {
				switch {
				case l.OK || l.Error == nil:
					t.Errorf("no error: %+v", l)
				case l.Error.Class == "" || l.Error.Class == statelog.ClassUsage:
					t.Errorf("unclassified error %+v", l.Error)
				case tc.check != nil:
					tc.check(t, l)
				}
				if l.Error != nil {
					t.Logf("%s: %s", l.Error.Class, l.Error.Message)
				}
			}
			checkNoLeak(t, before)
		})
	}
}

// TestHostileScriptedServer drives the project's test server through the
// same checks where its Script can express the misbehaviour.
func TestHostileScriptedServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    server.Action
		then string
	}{
		{"reset-at-auth-request", server.Action{Step: statelog.StepAuthRequest, Replace: []byte{}, Reset: true}, server.ThenOK},
		{"garbage-auth-request", server.Action{Step: statelog.StepAuthRequest, Replace: []byte("R\x00\x00\x00\x02")}, server.ThenOK},
		{"close-at-auth-ok", server.Action{Step: statelog.StepAuthOK, Replace: []byte{}, Close: true}, server.ThenOK},
		{"garbage-before-parameters", server.Action{Step: statelog.StepParameter, Before: []byte("\x00\x00garbage")}, server.ThenOK},
		{"silent-ready-for-query", server.Action{Step: statelog.StepReadyForQuery, Delay: 5 * time.Second}, server.ThenOK},
		{"reset-at-ready-for-query", server.Action{Step: statelog.StepReadyForQuery, Replace: []byte{}, Reset: true}, server.ThenOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ts := startServerNoCleanup(t, server.Config{Auth: server.AuthPassword, Then: tc.then, Timeout: 3 * time.Second,
				Script: func(int) *server.Script { return &server.Script{Actions: []server.Action{tc.a}} }})
			target := ts.conninfo("host=127.0.0.1 sslmode=disable user=u password=x")
			start := time.Now()
			l := Run(context.Background(), Config{Settings: settings(t, target), Target: target, Timeout: time.Second,
				HomeDir: t.TempDir(), Getenv: noEnv})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
			ts.stop(t)
			if l.OK || l.Error == nil || l.Error.Class == "" || l.Error.Class == statelog.ClassUsage {
				t.Errorf("want a classified error, got %+v", l.Error)
			} else {
				t.Logf("%s: %s", l.Error.Class, l.Error.Message)
			}
			checkNoLeak(t, before)
		})
	}
}

type stoppableServer struct {
	srv    *server.Server
	port   int
	served chan error
}

func startServerNoCleanup(t *testing.T, cfg server.Config) *stoppableServer {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stoppableServer{srv: srv, port: ln.Addr().(*net.TCPAddr).Port, served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(ln) }()
	return s
}

func noEnv(string) (string, bool) { return "", false }

func (s *stoppableServer) conninfo(extra string) string { return "port=" + itoa(s.port) + " " + extra }

func (s *stoppableServer) stop(t *testing.T) {
	s.srv.Close()
	if err := <-s.served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// checkNoLeak waits a little for goroutines to wind down, then fails if
// more are left than before the case.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
