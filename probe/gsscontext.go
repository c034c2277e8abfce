package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/pgprobe/pgprobe/internal/gsswrap"
)

// GSS-API context flags (RFC 2744), as libpq asks for them.
const (
	gssDelegFlag    = gsswrap.DelegFlag
	gssMutualFlag   = gsswrap.MutualFlag
	gssReplayFlag   = gsswrap.ReplayFlag
	gssSequenceFlag = gsswrap.SequenceFlag
	gssConfFlag     = gsswrap.ConfFlag
	gssIntegFlag    = gsswrap.IntegFlag
)

// gssFlagNames names the flags for the record.
func gssFlagNames(f uint32) []string { return gsswrap.FlagNames(f) }

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
	tokAPReq = gsswrap.TokAPReq
	tokAPRep = gsswrap.TokAPRep
	tokError = gsswrap.TokError
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

// mechToken is RFC 2743 §3.1's InitialContextToken.
func mechToken(id, msg []byte) []byte { return gsswrap.MechToken(id, msg) }

// step is the next gss_init_sec_context, with the server's token: an
// AP-REP completes the context, a KRB-ERROR ends it with the server's
// reason.
func (g *gssContext) step(token []byte) *krbError {
	if g.established {
		return &krbError{Major: "A token was invalid", Minor: "the context is already complete", Reason: krbOther}
	}
	id, msg, err := gsswrap.ParseMechToken(token)
	if err != nil {
		return &krbError{Major: "Invalid token was supplied", Minor: "the server's token is not a Kerberos V5 token", Reason: krbOther}
	}
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

// Sealed wrap tokens: see package gsswrap for why gokrb5's WrapToken does
// not do.
const (
	wrapFlagSealed      = gsswrap.FlagSealed
	wrapFlagAcceptorSub = gsswrap.FlagAcceptorSub
)

func (g *gssContext) wrapHeader(sentByAcceptor bool, seq uint64) []byte {
	return gsswrap.Header(sentByAcceptor, g.acceptorSub, seq)
}

// wrap seals one message from the initiator.
func (g *gssContext) wrap(plain []byte) ([]byte, error) {
	tok, err := gsswrap.Seal(g.key, false, g.acceptorSub, g.sendSeq, plain)
	g.sendSeq++
	return tok, err
}

// unwrap opens one sealed message from the acceptor.
func (g *gssContext) unwrap(tok []byte) ([]byte, error) {
	plain, err := gsswrap.Open(g.key, tok, true, g.recvSeq)
	if err != nil {
		return nil, err
	}
	g.recvSeq++
	return plain, nil
}
