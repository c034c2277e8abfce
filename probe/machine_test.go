//go:build unix

package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// peer is a scripted server on loopback for what PostgreSQL itself will not
// do: answer SSLRequest with 'E', send bytes after 'S', stay silent.
func peer(t *testing.T, handle func(c net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readStartupPacket reads one length-prefixed startup-phase packet and
// returns its code (SSLRequest 80877103, protocol 196608, …).
func readStartupPacket(c net.Conn) (uint32, error) {
	var h [8]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n > 8 {
		if _, err := io.CopyN(io.Discard, c, int64(n-8)); err != nil {
			return 0, err
		}
	}
	return binary.BigEndian.Uint32(h[4:]), nil
}

func settings(t *testing.T, target string) *conninfo.Settings {
	t.Helper()
	s, err := conninfo.Resolve(conninfo.Input{Target: target, HomeDir: t.TempDir(),
		Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func probeOnce(t *testing.T, target string, timeout time.Duration) *statelog.Log {
	t.Helper()
	return Run(context.Background(), Config{Settings: settings(t, target), Target: target, Timeout: timeout,
		HomeDir: t.TempDir(), Getenv: func(string) (string, bool) { return "", false }})
}

func wantError(t *testing.T, l *statelog.Log, class, msg string) {
	t.Helper()
	if l.Error == nil {
		t.Fatalf("no error; want %s %q", class, msg)
	}
	if l.Error.Class != class || !strings.Contains(l.Error.Message, msg) {
		t.Fatalf("error %s %q; want %s containing %q", l.Error.Class, l.Error.Message, class, msg)
	}
}

func TestSSLResponseE(t *testing.T) {
	// CVE-2024-10977: the text after 'E' must not be taken as the server's word.
	port := peer(t, func(c net.Conn) {
		if _, err := readStartupPacket(c); err != nil {
			return
		}
		c.Write([]byte("EFATAL:  please visit http://evil.example/ and enter your password\x00"))
	})
	l := probeOnce(t, "host=127.0.0.1 sslmode=prefer user=u port="+itoa(port), 5*time.Second)
	wantError(t, l, statelog.ClassSSL, "server sent an error response during SSL exchange")
	if strings.Contains(l.Error.Message, "evil") {
		t.Errorf("the untrusted text became the message: %q", l.Error.Message)
	}
	if !strings.Contains(l.Error.Untrusted, "evil") {
		t.Errorf("the untrusted text should be kept, marked untrusted: %q", l.Error.Untrusted)
	}
	if got := *l.Attempts[0].SSLResponse; got != "E" {
		t.Errorf("ssl_response %q", got)
	}
	if len(l.Attempts) != 1 {
		t.Errorf("%d attempts: libpq does not fall back after 'E'", len(l.Attempts))
	}
	if l.ExitCode != statelog.ExitNoAnswer {
		t.Errorf("exit %d, want 2", l.ExitCode)
	}
	samePsqlMessage(t, "host=127.0.0.1 sslmode=prefer user=u port="+itoa(port), l)
}

// samePsqlMessage checks that psql, on the same settings, fails with the
// message pgprobe recorded.
func samePsqlMessage(t *testing.T, target string, l *statelog.Log) {
	t.Helper()
	out, code := pgtest.RunPsql(t, target, "")
	if code != 2 {
		t.Fatalf("psql exit %d: %s", code, out)
	}
	if !strings.Contains(out, l.Error.Message) {
		t.Errorf("psql says %q\npgprobe says %q", out, l.Error.Message)
	}
}

func TestBytesAfterS(t *testing.T) {
	// CVE-2021-23222: bytes sent in the clear right after 'S'.
	certPEM, keyPEM := pgtest.SelfSigned(t, pgtest.CertOptions{CN: "localhost"})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	port := peer(t, func(c net.Conn) {
		if _, err := readStartupPacket(c); err != nil {
			return
		}
		// A man in the middle's AuthenticationOk, then a real TLS server.
		c.Write([]byte("SR\x00\x00\x00\x08\x00\x00\x00\x00"))
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		tc.Handshake()
		time.Sleep(time.Second)
	})
	l := probeOnce(t, "host=127.0.0.1 sslmode=require user=u port="+itoa(port), 5*time.Second)
	if l.Error == nil || l.Error.Class != statelog.ClassSSL && l.Error.Class != statelog.ClassTLS {
		t.Fatalf("want a failure, got %+v", l.Error)
	}
	if !strings.Contains(l.Error.Message, "received unencrypted data after SSL response") {
		t.Errorf("message %q", l.Error.Message)
	}
	samePsqlMessage(t, "host=127.0.0.1 sslmode=require user=u port="+itoa(port), l)
}

func TestInvalidSSLResponse(t *testing.T) {
	port := peer(t, func(c net.Conn) {
		if _, err := readStartupPacket(c); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	})
	l := probeOnce(t, "host=127.0.0.1 user=u port="+itoa(port), 5*time.Second)
	wantError(t, l, statelog.ClassProtocol, "received invalid response to SSL negotiation: H")
	samePsqlMessage(t, "host=127.0.0.1 user=u port="+itoa(port), l)
}

func TestOverallTimeoutNamesTheStep(t *testing.T) {
	port := peer(t, func(c net.Conn) {
		readStartupPacket(c)
		time.Sleep(3 * time.Second)
	})
	start := time.Now()
	l := probeOnce(t, "host=127.0.0.1 user=u port="+itoa(port), 300*time.Millisecond)
	wantError(t, l, statelog.ClassTimeout, "timeout expired")
	if l.Error.Step != statelog.StepSSLResponse {
		t.Errorf("the timeout should name the waiting step ssl_response, got %q", l.Error.Step)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s with a 300ms deadline", d)
	}
}

func TestConnectTimeoutMovesToNextHost(t *testing.T) {
	silent := peer(t, func(c net.Conn) {
		readStartupPacket(c)
		time.Sleep(3 * time.Second)
	})
	c := pgtest.Start(t, pgtest.Options{HBA: []string{"host all all 127.0.0.1/32 trust"}})
	target := "host=127.0.0.1,127.0.0.1 user=postgres dbname=postgres sslmode=disable connect_timeout=1 port=" + itoa(silent) + "," + itoa(c.Port)
	l := probeOnce(t, target, 10*time.Second)
	if !l.OK {
		t.Fatalf("want success on the second host: %+v", l.Error)
	}
	if len(l.Attempts) != 2 {
		t.Fatalf("%d attempts, want 2", len(l.Attempts))
	}
	if e := l.Attempts[0].Error; e == nil || e.Class != statelog.ClassTimeout || e.Message != `connection to server at "127.0.0.1", port `+itoa(silent)+` failed: timeout expired` {
		t.Errorf("first attempt: %+v", e)
	}
	if l.Attempts[1].Reason != "next host" || !l.Attempts[1].OK {
		t.Errorf("second attempt: %+v", l.Attempts[1])
	}
}

func TestNotPostgres(t *testing.T) {
	// After the startup message an SSH banner: libpq's "expected authentication request".
	port := peer(t, func(c net.Conn) {
		readStartupPacket(c)
		c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
	})
	l := probeOnce(t, "host=127.0.0.1 sslmode=disable user=u port="+itoa(port), 5*time.Second)
	wantError(t, l, statelog.ClassProtocol, "expected authentication request from server, but received S")
	samePsqlMessage(t, "host=127.0.0.1 sslmode=disable user=u port="+itoa(port), l)
}

func TestStepAdvancesOneStateAtATime(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{SSL: true, HBA: []string{"host all all 127.0.0.1/32 trust"}})
	m := New(context.Background(), Config{Settings: settings(t, c.ConnString("user=postgres", "dbname=postgres", "sslmode=require")), HomeDir: t.TempDir()})
	var seen []string
	for m.Step() {
		seen = append(seen, m.Status().String())
	}
	want := []string{"CONNECTION_NEEDED", "CONNECTION_STARTED", "CONNECTION_MADE", "CONNECTION_SSL_STARTUP", "CONNECTION_SSL_STARTUP", "CONNECTION_MADE", "CONNECTION_AWAITING_RESPONSE", "CONNECTION_AUTH_OK"}
	for i, w := range want {
		if i >= len(seen) || seen[i] != w {
			t.Fatalf("states after each Step: %v; want a prefix %v", seen, want)
		}
	}
	if !m.Log().OK {
		t.Fatalf("%+v", m.Log().Error)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
