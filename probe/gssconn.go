package probe

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/pgprobe/pgprobe/internal/gsswrap"
)

// PQ_GSS_MAX_PACKET_SIZE and the largest plaintext one packet carries.
const (
	gssMaxPacket = gsswrap.MaxPacket
	gssMaxPlain  = gsswrap.MaxPlain
)

// gssConn is a connection encrypted with GSSAPI as libpq frames it: each
// packet a 4-byte big-endian length, then one sealed wrap token.
type gssConn struct {
	net.Conn
	ctx     *gssContext
	pending []byte // unwrapped bytes not read yet
	packets int    // packets received, for the record
	sent    int    // packets sent
}

func (c *gssConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		tok, err := gsswrap.ReadPacket(c.Conn, "server")
		if err != nil {
			return 0, err
		}
		plain, err := c.ctx.unwrap(tok)
		if err != nil {
			return 0, fmt.Errorf("GSSAPI unwrap error: %v", err)
		}
		c.packets++
		c.pending = plain
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *gssConn) Write(p []byte) (int, error) {
	var out []byte
	for off := 0; off < len(p); off += gssMaxPlain {
		end := min(off+gssMaxPlain, len(p))
		tok, err := c.ctx.wrap(p[off:end])
		if err != nil {
			return 0, fmt.Errorf("GSSAPI wrap error: %v", err)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(tok)))
		out = append(out, tok...)
		c.sent++
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
