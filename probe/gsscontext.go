package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSS-API context flags (RFC 2744), as libpq asks for them.
const (
	gssDelegFlag    = 1
	gssMutualFlag   = 2
	gssReplayFlag   = 4
	gssSequenceFlag = 8
	gssConfFlag     = 16
	gssIntegFlag    = 32
)

// gssFlagNames names the flags for the record.
func gssFlagNames(f uint32) []string {
	var out []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{gssDelegFlag, "delegation"}, {gssMutualFlag, "mutual"}, {gssReplayFlag, "replay"}, {gssSequenceFlag, "sequence"}, {gssConfFlag, "confidentiality"}, {gssIntegFlag, "integrity"}} {
		if f&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// gssContext is the initiator's side of a Kerberos V5 GSS-API context
// (RFC 4121): the AP-REQ it sends, the AP-REP it checks, and the keys and
// sequence numbers its wrap tokens use.
type gssContext struct {
	service     string // the service principal asked for: postgres/localhost@REALM
	flags       uint32
	ticketEnd   time.Time
	sessionKey  types.EncryptionKey
	auth        types.Authenticator
	key         types.EncryptionKey // the key of wrap tokens: the acceptor's subkey, else the initiator's
	acceptorSub bool
	sendSeq     uint64
	recvSeq     uint64
	established bool
}

// The token IDs of RFC 1964 §1.1 and RFC 4121 §4.2.6.2.
var (
	tokAPReq  = []byte{0x01, 0x00}
	tokAPRep  = []byte{0x02, 0x00}
	tokError  = []byte{0x03, 0x00}
	tokWrapV2 = []byte{0x05, 0x04}
	oidKRB5   = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
)

// initContext is the first gss_init_sec_context: a service ticket for
// srvname/host and the AP-REQ token carrying it.
func initContext(ctx context.Context, c *krbCreds, srvname, host string, gssFlags uint32) (*gssContext, []byte, *krbError) {
	g := &gssContext{service: srvname + "/" + host + "@" + c.serviceRealm(host), flags: gssFlags}
	tkt, key, end, kerr := c.serviceTicket(ctx, srvname, host)
	if kerr != nil {
		return g, nil, kerr
	}
	g.ticketEnd, g.sessionKey = end, key
	auth, err := types.NewAuthenticator(c.realm, c.client)
	if err == nil {
		et, eerr := crypto.GetEtype(key.KeyType)
		if eerr != nil {
			err = eerr
		} else {
			err = auth.GenerateSeqNumberAndSubKey(key.KeyType, et.GetKeyByteSize())
		}
	}
	if err != nil {
		return g, nil, &krbError{Major: majorFailure, Minor: err.Error(), Reason: krbOther}
	}
	// RFC 4121 §4.1.1: the checksum carries no channel bindings and the flags.
	cksum := make([]byte, 24)
	binary.LittleEndian.PutUint32(cksum[0:4], 16)
	binary.LittleEndian.PutUint32(cksum[20:24], gssFlags&^gssDelegFlag)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: cksum}
	g.auth = auth
	g.sendSeq = uint64(auth.SeqNumber)
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		return g, nil, &krbError{Major: majorFailure, Minor: err.Error(), Reason: krbOther}
	}
	if gssFlags&gssMutualFlag != 0 {
		types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	}
	b, err := req.Marshal()
	if err != nil {
		return g, nil, &krbError{Major: majorFailure, Minor: err.Error(), Reason: krbOther}
	}
	if gssFlags&gssMutualFlag == 0 {
		g.key, g.established = auth.SubKey, true
	}
	return g, mechToken(tokAPReq, b), nil
}

// mechToken is RFC 2743 §3.1's InitialContextToken: [APPLICATION 0] with
// the mechanism's OID, then the Kerberos token ID and message.
func mechToken(id, msg []byte) []byte {
	oid, _ := asn1.Marshal(oidKRB5)
	b := append(append(oid, id...), msg...)
	return asn1tools.AddASNAppTag(b, 0)
}

// step is the next gss_init_sec_context, with the server's token: an
// AP-REP completes the context, a KRB-ERROR ends it with the server's
// reason.
func (g *gssContext) step(token []byte) *krbError {
	if g.established {
		return &krbError{Major: "A token was invalid", Minor: "the context is already complete", Reason: krbOther}
	}
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(token, &oid, "application,explicit,tag:0")
	if err != nil || !oid.Equal(oidKRB5) || len(rest) < 2 {
		return &krbError{Major: "Invalid token was supplied", Minor: "the server's token is not a Kerberos V5 token", Reason: krbOther}
	}
	id, msg := rest[:2], rest[2:]
	switch {
	case bytes.Equal(id, tokError):
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return &krbError{Major: majorFailure, Minor: "the server sent a KRB-ERROR that does not parse", Reason: krbOther}
		}
		e := kdcError(ke, g.service)
		return e
	case !bytes.Equal(id, tokAPRep):
		return &krbError{Major: "Invalid token was supplied", Minor: fmt.Sprintf("unexpected token ID %x", id), Reason: krbOther}
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return &krbError{Major: "Invalid token was supplied", Minor: "the server's AP-REP does not parse", Reason: krbOther}
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, g.sessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return &krbError{Major: majorFailure, Minor: "Mutual authentication failed", Code: 46, Reason: krbOther}
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return &krbError{Major: majorFailure, Minor: "the server's AP-REP does not parse", Reason: krbOther}
	}
	if part.CTime.Unix() != g.auth.CTime.Unix() || part.Cusec != g.auth.Cusec {
		return &krbError{Major: majorFailure, Minor: "Mutual authentication failed", Code: 46, Reason: krbOther}
	}
	g.key = g.auth.SubKey
	if len(part.Subkey.KeyValue) > 0 {
		g.key, g.acceptorSub = part.Subkey, true
	}
	g.recvSeq = uint64(part.SequenceNumber)
	g.established = true
	return nil
}

// Wrap tokens with confidentiality (RFC 4121 §4.2.4, §4.2.6.2). gokrb5's
// gssapi.WrapToken only makes and checks integrity tokens (a checksum
// after the plaintext, the Sealed flag never set), while GSSAPI encryption
// (PostgreSQL's be-secure-gssapi.c wraps with conf_req_flag set and refuses
// anything unsealed) needs sealed ones: the header, then
// encrypt(plaintext || filler || header) with the subkey and the key usage
// of the sender (24 initiator seal, 22 acceptor seal), rotated right by
// RRC. The encryption is gokrb5's crypto package (RFC 3961/3962).
const (
	wrapFlagFromAcceptor = 0x01
	wrapFlagSealed       = 0x02
	wrapFlagAcceptorSub  = 0x04
	wrapHeaderLen        = 16
)

func (g *gssContext) wrapHeader(sentByAcceptor bool, seq uint64) []byte {
	h := make([]byte, wrapHeaderLen)
	copy(h, tokWrapV2)
	f := byte(wrapFlagSealed)
	if sentByAcceptor {
		f |= wrapFlagFromAcceptor
	}
	if g.acceptorSub {
		f |= wrapFlagAcceptorSub
	}
	h[2], h[3] = f, 0xff
	// EC (filler length) 0: AES-CTS needs no padding; RRC 0: no rotation.
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

// wrap seals one message from the initiator.
func (g *gssContext) wrap(plain []byte) ([]byte, error) {
	h := g.wrapHeader(false, g.sendSeq)
	g.sendSeq++
	ed, err := crypto.GetEncryptedData(append(append([]byte{}, plain...), h...), g.key, keyusage.GSSAPI_INITIATOR_SEAL, 0)
	if err != nil {
		return nil, err
	}
	return append(h, ed.Cipher...), nil
}

// unwrap opens one sealed message from the acceptor.
func (g *gssContext) unwrap(tok []byte) ([]byte, error) {
	if len(tok) < wrapHeaderLen || !bytes.Equal(tok[:2], tokWrapV2) || tok[3] != 0xff {
		return nil, errors.New("not a GSS-API wrap token")
	}
	f := tok[2]
	switch {
	case f&wrapFlagFromAcceptor == 0:
		return nil, errors.New("a wrap token that was not sent by the acceptor (a reflected token?)")
	case f&wrapFlagSealed == 0:
		return nil, errors.New("a wrap token without confidentiality: GSSAPI encryption needs sealed tokens")
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	body := append([]byte{}, tok[wrapHeaderLen:]...)
	if len(body) > 0 {
		r := rrc % len(body)
		body = append(body[r:], body[:r]...) // undo the right rotation
	}
	plain, err := crypto.DecryptMessage(body, g.key, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return nil, errors.New("a wrap token that does not decrypt: " + err.Error())
	}
	if len(plain) < wrapHeaderLen+ec {
		return nil, errors.New("a wrap token too short for its header")
	}
	inner := plain[len(plain)-wrapHeaderLen:]
	// The encrypted copy of the header has RRC 0; the rest must match.
	if !bytes.Equal(inner[:6], tok[:6]) || !bytes.Equal(inner[8:], tok[8:wrapHeaderLen]) {
		return nil, errors.New("a wrap token whose header was modified")
	}
	seq := binary.BigEndian.Uint64(tok[8:16])
	if seq != g.recvSeq {
		return nil, fmt.Errorf("a wrap token out of sequence (%d, expected %d)", seq, g.recvSeq)
	}
	g.recvSeq++
	return plain[:len(plain)-wrapHeaderLen-ec], nil
}
