package scan

// The TLS layer is enumerated with handshakes of the scan's own, on a
// plain net.Conn after the SSLRequest's 'S' (or straight away for direct
// TLS), because probe.Probe re-enacts libpq: it offers what libpq offers
// and cannot restrict a handshake to one version, one cipher suite or one
// key-exchange group. Every connection closes as libpq closes one it gives
// up during startup: a TLS close_notify when TLS is up, then the socket;
// never a Terminate.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Wire codes of the special startup packets (pqcomm.h).
const (
	sslRequestCode = 80877103
	gssRequestCode = 80877104
)

// errNoSSL is the server's 'N' to SSLRequest.
var errNoSSL = errors.New("the server answered 'N' to SSLRequest: SSL is off")

// request is one of the 8-byte special startup packets.
func request(code uint32) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[0:4], 8)
	binary.BigEndian.PutUint32(b[4:8], code)
	return b
}

// dialer opens the scan's connections, each with its deadline.
type dialer struct {
	addr    string
	timeout time.Duration
	count   func() // counts each connection opened
}

func (d *dialer) dial(ctx context.Context) (net.Conn, error) {
	if d.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
		defer cancel()
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	d.count()
	if d.timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(d.timeout))
	}
	return c, nil
}

// answer sends a special startup packet (and extra bytes in the same
// write) and reads the server's one-byte answer.
func answer(c net.Conn, code uint32, extra []byte) (byte, error) {
	if _, err := c.Write(append(request(code), extra...)); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// sslAnswer is the server's answer to SSLRequest.
func (d *dialer) sslAnswer(ctx context.Context) (byte, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return answer(c, sslRequestCode, nil)
}

// gssAnswer is the server's answer to GSSENCRequest: 'G' or 'N', or a
// description of anything else.
func (d *dialer) gssAnswer(ctx context.Context) (string, string) {
	c, err := d.dial(ctx)
	if err != nil {
		return "", "could not connect: " + err.Error()
	}
	defer c.Close()
	b, err := answer(c, gssRequestCode, nil)
	switch {
	case err != nil:
		return "", "no answer: " + err.Error()
	case b == 'G':
		return "G", "GSSAPI encryption is possible (the scan closed the connection there)"
	case b == 'N':
		return "N", "GSSAPI encryption is not offered"
	case b == 'E':
		return "", "an error: the server is older than PostgreSQL 12 or not PostgreSQL"
	}
	return "", fmt.Sprintf("byte 0x%02x: not PostgreSQL's answer", b)
}

// handshake makes one TLS handshake with cfg, after SSLRequest or
// directly, and closes the connection.
func (d *dialer) handshake(ctx context.Context, cfg *tls.Config, direct bool) (tls.ConnectionState, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	if !direct {
		b, err := answer(c, sslRequestCode, nil)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		if b != 'S' {
			return tls.ConnectionState{}, errNoSSL
		}
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	cs := tc.ConnectionState()
	_ = tc.Close()
	return cs, nil
}

// injection is CVE-2021-23214's check. It sends SSLRequest and, in the same
// write, a plaintext StartupMessage (what a man in the middle would
// inject), then makes the TLS handshake and reads the server's first
// message through TLS. A fixed server ends the connection with "received
// unencrypted data after SSL request"; a vulnerable one answers the
// injected StartupMessage as if it had come through TLS.
func (d *dialer) injection(ctx context.Context, cfg *tls.Config, user, dbname string) (string, string) {
	c, err := d.dial(ctx)
	if err != nil {
		return "unknown", "could not connect: " + err.Error()
	}
	defer c.Close()
	params := map[string]string{"user": user}
	if dbname != "" {
		params["database"] = dbname
	}
	startup, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: params}).Encode(nil)
	if err != nil {
		return "unknown", err.Error()
	}
	b, err := answer(c, sslRequestCode, startup)
	if err != nil {
		return "unknown", "no answer to SSLRequest: " + err.Error()
	}
	if b != 'S' {
		return "unknown", "SSL is off"
	}
	tc := tls.Client(c, cfg)
	defer tc.Close()
	if err := tc.HandshakeContext(ctx); err != nil {
		// A fixed server ends the connection before TLS is up (PostgreSQL
		// 15 with its FATAL in the clear, 17 and later by failing the
		// handshake), where a vulnerable one reads the ClientHello from
		// the socket and completes it.
		if strings.Contains(err.Error(), "does not look like a TLS handshake") {
			return "refused", "the server answered with an error in the clear instead of the TLS handshake"
		}
		return "refused", "the server ended the TLS handshake: " + err.Error()
	}
	typ, body, err := readMessage(bufio.NewReader(tc))
	switch {
	case err != nil && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")):
		return "refused", "the server closed the connection"
	case err != nil:
		return "unknown", "no answer through TLS: " + err.Error()
	case typ == 'E':
		msg := errorMessage(body)
		if strings.Contains(msg, "unencrypted data after SSL request") {
			return "refused", "the server said: " + msg
		}
		return "accepted", "the server answered the injected StartupMessage: " + msg
	case typ == 'R' || typ == 'v':
		return "accepted", "the server answered the injected StartupMessage with an authentication request"
	}
	return "unknown", fmt.Sprintf("the server sent message %q", typ)
}

// readMessage reads one backend message.
func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(head[1:])) - 4
	if n < 0 || n > 1<<16 {
		return head[0], nil, fmt.Errorf("message %q of invalid length %d", head[0], n+4)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return head[0], body, err
}

// errorMessage is an ErrorResponse's severity and message.
func errorMessage(body []byte) string {
	var e pgproto3.ErrorResponse
	if err := e.Decode(body); err != nil {
		return "an ErrorResponse"
	}
	return e.Severity + ": " + e.Message
}
