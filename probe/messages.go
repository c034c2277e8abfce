package probe

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/statelog"
)

// maxMessageBody bounds what a server may make us buffer. libpq accepts
// ErrorResponses up to 30000 bytes during startup and authentication
// requests up to 2000; ParameterStatus and the rest are small. 1 MiB leaves
// room for any real server and keeps a hostile one from bloating us.
const maxMessageBody = 1 << 20

// msgConn frames backend messages itself instead of using pgproto3.Frontend's
// Receive: the probe must see the type byte and length before trusting them
// (libpq checks them per state), must survive a hostile peer, and must never
// read past the one-byte answer to SSLRequest. pgproto3 still decodes bodies
// and encodes every frontend message.
type msgConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// newMsgConn frames messages on c (plain or TLS).
func newMsgConn(c net.Conn) *msgConn {
	return &msgConn{conn: c, r: bufio.NewReaderSize(c, 8192)}
}

// header reads a message's type and length.
func (mc *msgConn) header() (byte, int, error) {
	var h [5]byte
	if _, err := io.ReadFull(mc.r, h[:]); err != nil {
		return 0, 0, err
	}
	return h[0], int(int32(binary.BigEndian.Uint32(h[1:]))), nil
}

// length reads a message's int32 length, after its type byte.
func (mc *msgConn) length() (int, error) {
	var b [4]byte
	if _, err := io.ReadFull(mc.r, b[:]); err != nil {
		return 0, err
	}
	return int(int32(binary.BigEndian.Uint32(b[:]))), nil
}

// body reads n bytes of message body (n = length - 4).
func (mc *msgConn) body(n int) ([]byte, error) {
	if n < 0 || n > maxMessageBody {
		return nil, fmt.Errorf("message body of %d bytes exceeds the %d-byte limit", n, maxMessageBody)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(mc.r, b)
	return b, err
}

// send encodes the messages and writes them in one write.
func (mc *msgConn) send(msgs ...pgproto3.FrontendMessage) error {
	var buf []byte
	for _, m := range msgs {
		var err error
		buf, err = m.Encode(buf)
		if err != nil {
			return err
		}
	}
	_, err := mc.conn.Write(buf)
	return err
}

// send writes one frontend message within the current deadline.
func (m *Machine) send(msg pgproto3.FrontendMessage) error {
	m.setDeadline()
	m.conn.wroteSinceRead = true
	return m.conn.msgs.send(msg)
}

// awaitReply counts a round trip when the client reads after it wrote:
// round trips are counted by the protocol's exchanges, not by how the
// kernel happens to split the bytes.
func (m *Machine) awaitReply() {
	if m.conn.wroteSinceRead {
		m.attempt.RoundTrips++
		m.conn.wroteSinceRead = false
	}
}

// readMessage reads one backend message after startup; on failure it has
// already ended the machine.
func (m *Machine) readMessage(step string, began time.Time, waiting string) (pgproto3.BackendMessage, bool) {
	m.awaitReply() // the check query is one more round trip
	m.setDeadline()
	typ, length, err := m.conn.msgs.header()
	if err != nil {
		m.readFailed(step, began, err, waiting)
		return nil, false
	}
	if length < 4 {
		e := m.prefixed(newError(statelog.ClassProtocol, fmt.Sprintf("invalid message length %d from server", length)))
		m.record(step, began, "", e, nil)
		m.bad(e)
		return nil, false
	}
	body, err := m.conn.msgs.body(length - 4)
	if err != nil {
		m.readFailed(step, began, err, "a message was cut short")
		return nil, false
	}
	msg, derr := decode(typ, body)
	if derr != nil {
		e := m.prefixed(newError(statelog.ClassProtocol, "unexpected message from server: "+derr.Error()))
		m.record(step, began, "", e, nil)
		m.bad(e)
		return nil, false
	}
	return msg, true
}

// decode parses a backend message body of the given type with pgproto3.
func decode(typ byte, body []byte) (pgproto3.BackendMessage, error) {
	var m pgproto3.BackendMessage
	switch typ {
	case 'E':
		m = &pgproto3.ErrorResponse{}
	case 'N':
		m = &pgproto3.NoticeResponse{}
	case 'S':
		m = &pgproto3.ParameterStatus{}
	case 'K':
		m = &pgproto3.BackendKeyData{}
	case 'Z':
		m = &pgproto3.ReadyForQuery{}
	case 'v':
		m = &pgproto3.NegotiateProtocolVersion{}
	case 'T':
		m = &pgproto3.RowDescription{}
	case 'D':
		m = &pgproto3.DataRow{}
	case 'C':
		m = &pgproto3.CommandComplete{}
	case 'I':
		m = &pgproto3.EmptyQueryResponse{}
	default:
		return nil, fmt.Errorf("unexpected message type %q", typ)
	}
	if err := m.Decode(body); err != nil {
		return nil, err
	}
	return m, nil
}

// authCode is the int32 that starts an 'R' message.
func authCode(body []byte) (uint32, bool) {
	if len(body) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(body), true
}

// saslMechanisms parses AuthenticationSASL's NUL-terminated list.
func saslMechanisms(data []byte) ([]string, error) {
	var out []string
	for len(data) > 0 {
		i := indexByte(data, 0)
		if i < 0 {
			return out, fmt.Errorf("mechanism list is not terminated")
		}
		if i == 0 {
			return out, nil
		}
		out = append(out, string(data[:i]))
		data = data[i+1:]
	}
	return out, fmt.Errorf("mechanism list is not terminated")
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
