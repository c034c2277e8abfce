// Package gsswrap holds the Kerberos V5 GSS-API token formats both sides of
// pgprobe speak: the initial context token's framing (RFC 2743 §3.1,
// RFC 4121 §4.1) and sealed wrap tokens (RFC 4121 §4.2.4, §4.2.6.2), as
// libpq's fe-secure-gssapi.c and PostgreSQL's be-secure-gssapi.c exchange
// them. The initiator is package probe, the acceptor package server.
package gsswrap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The token IDs of RFC 1964 §1.1 and RFC 4121 §4.2.6.2.
var (
	TokAPReq  = []byte{0x01, 0x00}
	TokAPRep  = []byte{0x02, 0x00}
	TokError  = []byte{0x03, 0x00}
	TokWrapV2 = []byte{0x05, 0x04}
	// OIDKerberos is the Kerberos V5 mechanism (1.2.840.113554.1.2.2).
	OIDKerberos = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
)

// GSS-API context flags (RFC 2744), as libpq asks for them.
const (
	DelegFlag    = 1
	MutualFlag   = 2
	ReplayFlag   = 4
	SequenceFlag = 8
	ConfFlag     = 16
	IntegFlag    = 32
)

// FlagNames names the context flags for the record.
func FlagNames(f uint32) []string {
	var out []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{DelegFlag, "delegation"}, {MutualFlag, "mutual"}, {ReplayFlag, "replay"}, {SequenceFlag, "sequence"}, {ConfFlag, "confidentiality"}, {IntegFlag, "integrity"}} {
		if f&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// MechToken is RFC 2743 §3.1's InitialContextToken: [APPLICATION 0] with
// the mechanism's OID, then the Kerberos token ID and message.
func MechToken(id, msg []byte) []byte {
	oid, _ := asn1.Marshal(OIDKerberos)
	b := append(append(oid, id...), msg...)
	return asn1tools.AddASNAppTag(b, 0)
}

// ParseMechToken splits a token made by MechToken into its token ID and
// Kerberos message.
func ParseMechToken(token []byte) (id, msg []byte, err error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(token, &oid, "application,explicit,tag:0")
	if err != nil || !oid.Equal(OIDKerberos) || len(rest) < 2 {
		return nil, nil, errors.New("not a Kerberos V5 token")
	}
	return rest[:2], rest[2:], nil
}

// PQ_GSS_MAX_PACKET_SIZE (fe-secure-gssapi.c, PQ_GSS_SEND_BUFFER_SIZE
// before 18): no packet, its 4-byte length included, may be larger. A
// sealed AES token adds at most 64 bytes to its plaintext: the header twice
// (16 each), the confounder (16) and the HMAC (12, or 16 with RFC 8009's
// SHA-2 enctypes).
const (
	MaxPacket   = 16384
	WrapPadding = 64
	MaxPlain    = MaxPacket - 4 - WrapPadding
)

// Wrap tokens with confidentiality (RFC 4121 §4.2.4, §4.2.6.2). gokrb5's
// gssapi.WrapToken only makes and checks integrity tokens (a checksum
// after the plaintext, the Sealed flag never set), while GSSAPI encryption
// (PostgreSQL's be-secure-gssapi.c wraps with conf_req_flag set and refuses
// anything unsealed) needs sealed ones: the header, then
// encrypt(plaintext || filler || header) with the subkey and the key usage
// of the sender (24 initiator seal, 22 acceptor seal), rotated right by
// RRC. The encryption is gokrb5's crypto package (RFC 3961/3962).
const (
	FlagFromAcceptor = 0x01
	FlagSealed       = 0x02
	FlagAcceptorSub  = 0x04
	HeaderLen        = 16
)

// Header is a sealed wrap token's header.
func Header(fromAcceptor, acceptorSub bool, seq uint64) []byte {
	h := make([]byte, HeaderLen)
	copy(h, TokWrapV2)
	f := byte(FlagSealed)
	if fromAcceptor {
		f |= FlagFromAcceptor
	}
	if acceptorSub {
		f |= FlagAcceptorSub
	}
	h[2], h[3] = f, 0xff
	// EC (filler length) 0: AES-CTS needs no padding; RRC 0: no rotation.
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

func sealUsage(fromAcceptor bool) uint32 {
	if fromAcceptor {
		return keyusage.GSSAPI_ACCEPTOR_SEAL
	}
	return keyusage.GSSAPI_INITIATOR_SEAL
}

// Seal makes the sealed wrap token of plain, sent by the acceptor or the
// initiator with sequence number seq.
func Seal(key types.EncryptionKey, fromAcceptor, acceptorSub bool, seq uint64, plain []byte) ([]byte, error) {
	h := Header(fromAcceptor, acceptorSub, seq)
	ed, err := crypto.GetEncryptedData(append(append([]byte{}, plain...), h...), key, sealUsage(fromAcceptor), 0)
	if err != nil {
		return nil, err
	}
	return append(h, ed.Cipher...), nil
}

// Open checks and decrypts a sealed wrap token sent by the peer (the
// acceptor when fromAcceptor) with sequence number seq.
func Open(key types.EncryptionKey, tok []byte, fromAcceptor bool, seq uint64) ([]byte, error) {
	if len(tok) < HeaderLen || !bytes.Equal(tok[:2], TokWrapV2) || tok[3] != 0xff {
		return nil, errors.New("not a GSS-API wrap token")
	}
	f := tok[2]
	switch {
	case fromAcceptor && f&FlagFromAcceptor == 0:
		return nil, errors.New("a wrap token that was not sent by the acceptor (a reflected token?)")
	case !fromAcceptor && f&FlagFromAcceptor != 0:
		return nil, errors.New("a wrap token that was not sent by the initiator (a reflected token?)")
	case f&FlagSealed == 0:
		return nil, errors.New("a wrap token without confidentiality: GSSAPI encryption needs sealed tokens")
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	body := append([]byte{}, tok[HeaderLen:]...)
	if len(body) > 0 {
		r := rrc % len(body)
		body = append(body[r:], body[:r]...) // undo the right rotation
	}
	plain, err := crypto.DecryptMessage(body, key, sealUsage(fromAcceptor))
	if err != nil {
		return nil, errors.New("a wrap token that does not decrypt: " + err.Error())
	}
	if len(plain) < HeaderLen+ec {
		return nil, errors.New("a wrap token too short for its header")
	}
	inner := plain[len(plain)-HeaderLen:]
	// The encrypted copy of the header has RRC 0; the rest must match.
	if !bytes.Equal(inner[:6], tok[:6]) || !bytes.Equal(inner[8:], tok[8:HeaderLen]) {
		return nil, errors.New("a wrap token whose header was modified")
	}
	if got := binary.BigEndian.Uint64(tok[8:16]); got != seq {
		return nil, fmt.Errorf("a wrap token out of sequence (%d, expected %d)", got, seq)
	}
	return plain[:len(plain)-HeaderLen-ec], nil
}

// ReadPacket reads one packet of a GSSAPI-encrypted session as libpq and
// the server frame it (fe-secure-gssapi.c, be-secure-gssapi.c): a 4-byte
// big-endian length, then that many bytes of wrap token. A length over
// MaxPacket is refused with the wording both sides use, naming sender
// ("server" or "client"); a peer gone in the middle of a packet reads as
// io.EOF.
func ReadPacket(r io.Reader, sender string) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > MaxPacket-4 {
		return nil, fmt.Errorf("oversize GSSAPI packet sent by the %s (%d > %d)", sender, n, MaxPacket-4)
	}
	tok := make([]byte, n)
	if _, err := io.ReadFull(r, tok); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return nil, err
	}
	return tok, nil
}
