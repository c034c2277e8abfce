package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Script makes one connection of the test server do what PostgreSQL will
// not: answer SSLRequest with 'E' or with anything else, send bytes in the
// clear after 'S', wait before a message, negotiate the protocol version,
// offer SCRAM-SHA-256-PLUS alone, close or reset the connection at a chosen
// step, or write arbitrary bytes anywhere.
type Script struct {
	// Actions change the messages the server sends; for each message the
	// first Action whose Step and Nth match applies.
	Actions []Action
	// NegotiateProtocolVersion, when set, is sent right after the
	// StartupMessage whatever the client asked for (PostgreSQL sends one
	// only when the client asks for a newer minor version or for _pq_
	// options). The server then goes on with authentication, as PostgreSQL
	// does.
	NegotiateProtocolVersion *pgproto3.NegotiateProtocolVersion
	// SASLMechanisms replaces the list AuthenticationSASL offers. nil means
	// PostgreSQL's: SCRAM-SHA-256-PLUS (over TLS) then SCRAM-SHA-256.
	// SCRAM-SHA-256-PLUS is verified with the tls-server-end-point binding.
	SASLMechanisms []string
	// ThenError, when set, is sent after authentication instead of what
	// Config.Then says (57P03, 53300, 3D000, … as a server would).
	ThenError *pgproto3.ErrorResponse
	// GSSFault spoils the first packet the server sends inside GSSAPI
	// encryption: GSSFaultUnsealed, GSSFaultOversize or GSSFaultGarbage.
	GSSFault string
}

// Action changes one message the server sends. The message is the one of
// Step: ssl_response, gss_response, gss_handshake (the AP-REP packet, its
// length word included), tls_handshake (the
// server's first TLS flight), negotiate_protocol_version, auth_request (every authentication
// request: the first, SASLContinue, SASLFinal), auth_ok, parameter_status
// (the whole batch), backend_key_data, ready_for_query or error_response.
type Action struct {
	Step string
	// Nth chooses the occurrence of Step on the connection: 1 the first,
	// 2 the second, …; 0 every one.
	Nth int
	// Delay waits before anything is written.
	Delay time.Duration
	// Before is written just before the message, After just after (in the
	// same write: a client sees them arrive together).
	Before, After []byte
	// Replace, when not nil, is written instead of the message; the server
	// goes on as if it had sent the message, except for ssl_response and
	// gss_response, where the first byte of Replace decides ('S' → TLS,
	// 'N' → next packet, anything else → close, as after an 'E'), and
	// tls_handshake, after which the connection closes.
	Replace []byte
	// Close closes the connection once the bytes are written (without the
	// message if Replace is an empty, non-nil slice); Reset does it with a
	// TCP RST (SO_LINGER 0).
	Close, Reset bool
}

func (a Action) describe() string {
	var p []string
	if a.Delay > 0 {
		p = append(p, "waited "+a.Delay.String())
	}
	if len(a.Before) > 0 {
		p = append(p, fmt.Sprintf("%d raw bytes before", len(a.Before)))
	}
	if a.Replace != nil {
		p = append(p, fmt.Sprintf("replaced by %d raw bytes %s", len(a.Replace), quoteBytes(a.Replace, 24)))
	}
	if len(a.After) > 0 {
		p = append(p, fmt.Sprintf("%d raw bytes after %s", len(a.After), quoteBytes(a.After, 24)))
	}
	if a.Reset {
		p = append(p, "then reset")
	} else if a.Close {
		p = append(p, "then closed")
	}
	if len(p) == 0 {
		return ""
	}
	return "script: " + strings.Join(p, ", ")
}

// quoteBytes shows at most n bytes, quoted in ASCII.
func quoteBytes(b []byte, n int) string {
	s := b
	more := ""
	if len(s) > n {
		s, more = s[:n], "…"
	}
	return fmt.Sprintf("%+q%s", string(s), more)
}
