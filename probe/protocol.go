package probe

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// Protocol versions as libpq writes them: PG_PROTOCOL(major, minor).
const (
	protocol30 uint32 = 3 << 16
	protocol31 uint32 = 3<<16 | 1 // never released: 3.0 went straight to 3.2
	protocol32 uint32 = 3<<16 | 2
)

func versionString(v uint32) string { return fmt.Sprintf("%d.%d", v>>16, v&0xffff) }

// startProtocol is what libpq 18 puts in the StartupMessage: conn->pversion
// starts at max_protocol_version. It opens the attempt's protocol record.
func (m *Machine) startProtocol() uint32 {
	minV, maxV := m.settings.ProtocolVersions()
	m.conn.pversion, m.conn.minPversion = maxV, minV
	var why string
	switch {
	case m.settings.Get("max_protocol_version") != "":
		why = "max_protocol_version=" + m.settings.Get("max_protocol_version")
	case minV > protocol30:
		why = "max_protocol_version is not set and min_protocol_version is above 3.0, so libpq 18 asks for the latest"
	default:
		why = "max_protocol_version is not set: libpq 18 still asks for 3.0 by default"
	}
	m.attempt.Protocol = &statelog.Protocol{Requested: versionString(maxV), Min: versionString(minV),
		Reason: "asked for " + versionString(maxV) + ": " + why}
	return maxV
}

// protocolAccepted notes that the server answered the StartupMessage with
// something other than NegotiateProtocolVersion: it speaks the version the
// client asked for (or the one the client already accepted).
func (m *Machine) protocolAccepted() {
	p := m.attempt.Protocol
	if p == nil || p.Granted != "" {
		return
	}
	p.Granted = versionString(m.conn.pversion)
	p.Reason += "; the server answered without NegotiateProtocolVersion, so " + p.Granted + " it is"
}

// handleNegotiate is NegotiateProtocolVersion, as libpq 18's
// pqGetNegotiateProtocolVersion3: the server offers its newest version
// (the whole version number, as PostgreSQL sends FrontendProtocol) and the
// _pq_ options it did not recognise. libpq requests no option, accepts a
// lower version that min_protocol_version allows, and then waits for the
// authentication request that follows.
func (m *Machine) handleNegotiate(began time.Time, body []byte) {
	p := m.attempt.Protocol
	fail := func(detail, msg string) {
		if p != nil {
			p.Reason += "; " + msg
		}
		e := m.prefixed(newError(statelog.ClassProtocol, msg))
		m.record(statelog.StepNegotiate, began, detail, e, nil)
		m.bad(e)
	}
	if m.conn.pversionNegotiated {
		fail("a second NegotiateProtocolVersion", "received duplicate protocol negotiation message")
		return
	}
	theirs, opts, err := parseNegotiate(body)
	if p != nil {
		p.Negotiated = true
		p.ServerVersion = versionString(theirs)
		p.UnsupportedOptions = opts
	}
	if err != "" {
		fail("NegotiateProtocolVersion cut short", "received invalid protocol negotiation message: "+err)
		return
	}
	detail := fmt.Sprintf("NegotiateProtocolVersion: the server offers %s (asked for %s)", versionString(theirs), versionString(m.conn.pversion))
	if len(opts) > 0 {
		detail += ", does not recognise " + strings.Join(opts, ", ")
	}
	if msg := m.negotiateRefusal(theirs, opts); msg != "" {
		fail(detail, msg)
		return
	}
	asked := m.conn.pversion
	m.conn.pversion, m.conn.pversionNegotiated = theirs, true
	if p != nil {
		p.Granted = versionString(theirs)
		p.Reason += fmt.Sprintf("; the server supports only %s and min_protocol_version=%s allows it", p.Granted, p.Min)
	}
	m.record(statelog.StepNegotiate, began, detail+": "+versionString(asked)+" → "+versionString(theirs)+", within min_protocol_version",
		nil, map[string]any{"requested": versionString(asked), "granted": versionString(theirs)})
}

// negotiateRefusal is libpq 18's checks of a NegotiateProtocolVersion, in
// its order, with its words; "" when the client accepts it.
func (m *Machine) negotiateRefusal(theirs uint32, opts []string) string {
	const invalid = "received invalid protocol negotiation message: "
	switch {
	case theirs > m.conn.pversion:
		return invalid + "server requested downgrade to a higher-numbered version"
	case theirs < protocol30:
		return invalid + "server requested downgrade to pre-3.0 protocol version"
	case theirs == protocol31:
		return invalid + "server requested downgrade to non-existent 3.1 protocol version"
	case theirs == m.conn.pversion && len(opts) == 0:
		return invalid + "server negotiated but asks for no changes"
	case theirs < m.conn.minPversion:
		return fmt.Sprintf("server only supports protocol version %s, but \"%s\" was set to %s",
			versionString(theirs), "min_protocol_version", versionString(m.conn.minPversion))
	}
	// libpq requests no _pq_ option, so the server cannot refuse one.
	for _, o := range opts {
		if !strings.HasPrefix(o, "_pq_.") {
			return fmt.Sprintf(invalid+"server reported unsupported parameter name without a \"%s\" prefix (\"%s\")", "_pq_.", o)
		}
		return fmt.Sprintf(invalid+"server reported an unsupported parameter that was not requested (\"%s\")", o)
	}
	return ""
}

// parseNegotiate reads NegotiateProtocolVersion's body: int32 version,
// int32 count, count strings. A short message gives libpq's reason.
func parseNegotiate(body []byte) (version uint32, opts []string, err string) {
	if len(body) < 8 {
		return 0, nil, "message too short"
	}
	version = binary.BigEndian.Uint32(body)
	n := int32(binary.BigEndian.Uint32(body[4:]))
	if n < 0 {
		return version, nil, "server reported negative number of unsupported parameters"
	}
	rest := body[8:]
	for i := int32(0); i < n; i++ {
		j := indexByte(rest, 0)
		if j < 0 {
			return version, opts, "message too short"
		}
		opts = append(opts, string(rest[:j]))
		rest = rest[j+1:]
	}
	return version, opts, ""
}

// backendKeyData is BackendKeyData as libpq 18's getBackendKeyData checks
// it: a cancel key of exactly 4 bytes in protocol 3.0, 4 to 256 in 3.2.
// The record keeps the pid and the key's length, never the key.
func (m *Machine) backendKeyData(began time.Time, body []byte) {
	if len(body) < 4 {
		e := m.prefixed(newError(statelog.ClassProtocol, "unexpected message from server during startup"))
		m.record(statelog.StepBackendKeyData, began, fmt.Sprintf("BackendKeyData of %d bytes", len(body)), e, nil)
		m.bad(e)
		return
	}
	pid, keyLen := binary.BigEndian.Uint32(body), len(body)-4
	var msg string
	switch {
	case keyLen != 4 && m.conn.pversion == protocol30:
		msg = fmt.Sprintf("received invalid BackendKeyData message: cancel key with length %d not allowed in protocol version 3.0 (must be 4 bytes)", keyLen)
	case keyLen < 4:
		msg = fmt.Sprintf("received invalid BackendKeyData message: cancel key with length %d is too short (minimum 4 bytes)", keyLen)
	case keyLen > 256:
		msg = fmt.Sprintf("received invalid BackendKeyData message: cancel key with length %d is too long (maximum 256 bytes)", keyLen)
	}
	data := map[string]any{"pid": pid, "cancel_key_length": keyLen}
	detail := fmt.Sprintf("backend pid %d, %d-byte cancel key (not shown)", pid, keyLen)
	if msg != "" {
		e := m.prefixed(newError(statelog.ClassProtocol, msg))
		m.record(statelog.StepBackendKeyData, began, detail, e, data)
		m.bad(e)
		return
	}
	si := m.serverInfo()
	si.BackendPID, si.CancelKeyLength = pid, keyLen
	m.record(statelog.StepBackendKeyData, began, detail, nil, data)
}
