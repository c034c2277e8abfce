package probe

import (
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// startSSL is CONNECTION_MADE's SSL branch: an SSLRequest, or with
// sslnegotiation=direct (PostgreSQL 17) no request at all, the ClientHello
// going first.
func (m *Machine) startSSL() {
	if m.settings.Get("sslnegotiation") == "direct" {
		m.attempt.Direct = true
		m.conn.sslInUse = true
		m.status = ConnectionSSLStartup
		return
	}
	began := time.Now()
	if err := m.send(&pgproto3.SSLRequest{}); err != nil {
		m.sendFailed(statelog.StepSSLRequest, began, "could not send SSL negotiation packet: ", err)
		return
	}
	m.attempt.SSLResponse = nil
	m.record(statelog.StepSSLRequest, began, "SSLRequest (8 bytes, code 80877103)", nil, nil)
	m.conn.sslInUse = false
	m.status = ConnectionSSLStartup
}

// stepSSLStartup is CONNECTION_SSL_STARTUP: first the server's one-byte
// answer to SSLRequest, then (on 'S', or at once for direct TLS) the
// handshake.
func (m *Machine) stepSSLStartup() {
	if !m.conn.sslInUse {
		m.readSSLResponse()
		return
	}
	m.tlsHandshake()
}

// readSSLResponse reads the server's one-byte answer to SSLRequest ('S',
// 'N' or 'E'), exactly one byte: what follows 'S' belongs to TLS.
func (m *Machine) readSSLResponse() {
	began := time.Now()
	m.setDeadline()
	m.awaitReply()
	var b [1]byte
	// Exactly one byte, straight from the socket: what follows belongs to TLS.
	_, err := m.conn.raw.Read(b[:])
	if err != nil {
		if wire.IsTimeout(err) {
			m.timeoutWhile(statelog.StepSSLResponse, began, "no answer to SSLRequest")
			return
		}
		class, msg := readError(err)
		e := m.prefixed(newError(class, msg))
		e.Errno = wire.ErrnoName(err)
		m.record(statelog.StepSSLResponse, began, "", e, nil)
		m.bad(e)
		return
	}
	m.attempt.SSLResponse = statelog.Str(string(b[0]))
	switch b[0] {
	case 'S':
		m.record(statelog.StepSSLResponse, began, "'S': the server will do TLS", nil, map[string]any{"byte": "S"})
		m.conn.sslInUse = true
	case 'N':
		m.record(statelog.StepSSLResponse, began, "'N': the server does not do SSL", nil, map[string]any{"byte": "N"})
		m.encryptionNegotiationFailed("server does not support SSL, but SSL was required")
	case 'E':
		// CVE-2024-10977: the text after 'E' comes from an unauthenticated
		// peer; libpq no longer reads it, and neither do we trust it.
		e := m.prefixed(newError(statelog.ClassSSL, "server sent an error response during SSL exchange"))
		e.Untrusted = m.peekUntrusted()
		m.record(statelog.StepSSLResponse, began, "'E': an error before any encryption", e, map[string]any{"byte": "E"})
		m.bad(e)
	default:
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("received invalid response to SSL negotiation: %c", b[0])))
		m.record(statelog.StepSSLResponse, began, fmt.Sprintf("byte 0x%02x is not S, N or E: is this a PostgreSQL server?", b[0]), e, map[string]any{"byte": string(b[0])})
		m.bad(e)
	}
}

// peekUntrusted reads, briefly and boundedly, what an 'E' answer carried, so
// the record can show it as untrusted bytes.
func (m *Machine) peekUntrusted() string {
	buf := make([]byte, 512)
	_ = m.conn.raw.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, _ := m.conn.raw.Read(buf)
	return strconv.QuoteToASCII(string(buf[:n]))
}

// encryptionNegotiationFailed is ENCRYPTION_NEGOTIATION_FAILED(): the server
// said 'N'; the next method may reuse this very connection.
func (m *Machine) encryptionNegotiationFailed(msg string) {
	if m.whichEnc+1 < len(m.allowedEnc) {
		m.whichEnc++
		m.attempt.Encryption = m.currentEnc().String()
		m.status = ConnectionMade
		return
	}
	e := m.prefixed(newError(statelog.ClassSSL, msg))
	m.attempt.Error = e
	m.attempt.Events[len(m.attempt.Events)-1].Error = e
	if prev := m.lastErr; prev != nil && prev.SQLState != "" && m.whichEnc > 0 {
		// sslmode=allow: plaintext was refused by the server, then SSL was
		// refused too. libpq reports both; the server's refusal is the one
		// to act on, so it decides the verdict.
		m.bad(prev)
		return
	}
	m.bad(e)
}
