package server

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/pgprobe/pgprobe/internal/gsswrap"
	"github.com/pgprobe/pgprobe/statelog"
)

// GSSConfig makes the server a GSS-API (Kerberos V5) acceptor, as
// PostgreSQL built with GSSAPI and given krb_server_keyfile: it answers
// GSSENCRequest with 'G' and can ask for gss authentication (Auth "gss").
type GSSConfig struct {
	// Keytab is the keytab file (krb_server_keyfile), read by New.
	Keytab string
	// ServicePrincipal, when set ("postgres/localhost", with or without
	// "@REALM"), is the only service whose tickets are accepted; empty
	// accepts a ticket for any principal the keytab has a key for, as
	// PostgreSQL does (GSS_C_NO_CREDENTIAL).
	ServicePrincipal string
	// IncludeRealm is pg_hba's include_realm=1: the user name must be the
	// whole principal (gssuser@REALM). Off, as include_realm=0, the
	// principal without its realm must be the user name.
	IncludeRealm bool
	// NoEncryption answers GSSENCRequest with 'N' (a hostnogssenc line for
	// everyone): gss authentication only.
	NoEncryption bool
}

// Faults of a GSSAPI-encrypted session a Script can ask for.
const (
	// GSSFaultUnsealed sends the first wrap token without confidentiality
	// (the Sealed flag off), which libpq refuses.
	GSSFaultUnsealed = "unsealed"
	// GSSFaultOversize sends a first packet whose length word is over
	// PQ_GSS_MAX_PACKET_SIZE (16 KiB).
	GSSFaultOversize = "oversize"
	// GSSFaultGarbage sends a first packet that is not a wrap token.
	GSSFaultGarbage = "garbage"
)

// maxClockSkew is MIT's default clockskew.
const maxClockSkew = 5 * time.Minute

// loadKeytab reads cfg's keytab.
func loadKeytab(cfg *GSSConfig) (*keytab.Keytab, error) {
	kt, err := keytab.Load(cfg.Keytab)
	if err != nil {
		return nil, fmt.Errorf("reading the keytab %s: %w", cfg.Keytab, err)
	}
	return kt, nil
}

// gssAcceptor is the server's side of an established context: the key
// and sequence numbers of its wrap tokens.
type gssAcceptor struct {
	key         types.EncryptionKey
	acceptorSub bool
	sendSeq     uint64
	recvSeq     uint64
	client      string // gssuser@REALM
}

// gssReject is a context the server does not accept: what MIT's
// gss_accept_sec_context would say (Major, Minor) and the KRB-ERROR code
// it would answer with (0: none).
type gssReject struct {
	Minor string
	Code  int32
}

func (r *gssReject) Error() string { return r.Minor }

// acceptContext is gss_accept_sec_context with the client's initial
// token: the AP-REQ is checked with the keytab; the answer is the
// context and its AP-REP token (nil without mutual authentication). It
// fills rec with what the tokens show, never a key.
func (s *Server) acceptContext(token []byte, rec *statelog.SessionGSS) (*gssAcceptor, []byte, *gssReject) {
	rec.TokenBytes = len(token)
	rec.Mechanism, rec.MechanismOID = "kerberos_v5", gsswrap.OIDKerberos.String()
	id, msg, err := gsswrap.ParseMechToken(token)
	if err != nil {
		rec.Mechanism, rec.MechanismOID = "unknown", ""
		return nil, nil, &gssReject{Minor: "An unsupported mechanism was requested: the client's token is not a Kerberos V5 token"}
	}
	if string(id) != string(gsswrap.TokAPReq) {
		return nil, nil, &gssReject{Minor: fmt.Sprintf("Invalid token was supplied: token ID %x, not an AP-REQ", id)}
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, nil, &gssReject{Minor: "Invalid token was supplied: the AP-REQ does not parse"}
	}
	tkt := &req.Ticket
	rec.ServicePrincipal = tkt.SName.PrincipalNameString() + "@" + tkt.Realm
	rec.Etype = etypeName(tkt.EncPart.EType)
	if want := s.cfg.GSS.ServicePrincipal; want != "" && want != rec.ServicePrincipal && want+"@"+tkt.Realm != rec.ServicePrincipal {
		return nil, nil, &gssReject{Minor: "Wrong principal in request: the ticket is for " + rec.ServicePrincipal + ", the server is " + want, Code: errorcode.KRB_AP_ERR_NOT_US}
	}
	if err := tkt.DecryptEncPart(s.keytab, nil); err != nil {
		var ke messages.KRBError
		if errors.As(err, &ke) && ke.ErrorCode == errorcode.KRB_AP_ERR_NOKEY {
			return nil, nil, &gssReject{Minor: "No key table entry found matching " + rec.ServicePrincipal + " (" + rec.Etype + ", kvno " + fmt.Sprint(tkt.EncPart.KVNO) + ")", Code: errorcode.KRB_AP_ERR_NOKEY}
		}
		return nil, nil, &gssReject{Minor: "Request ticket server " + rec.ServicePrincipal + " found in keytab but does not match the ticket's key (a stale keytab: kvno " + fmt.Sprint(tkt.EncPart.KVNO) + ")", Code: errorcode.KRB_AP_ERR_BAD_INTEGRITY}
	}
	if err := req.DecryptAuthenticator(tkt.DecryptedEncPart.Key); err != nil {
		return nil, nil, &gssReject{Minor: "Decrypt integrity check failed: the authenticator", Code: errorcode.KRB_AP_ERR_BAD_INTEGRITY}
	}
	auth := req.Authenticator
	rec.ClientPrincipal = auth.CName.PrincipalNameString() + "@" + auth.CRealm
	if r := checkTicket(&req); r != nil {
		return nil, nil, r
	}
	gflags := uint32(0)
	if auth.Cksum.CksumType == chksumtype.GSSAPI && len(auth.Cksum.Checksum) >= 24 {
		gflags = binary.LittleEndian.Uint32(auth.Cksum.Checksum[20:24])
	}
	rec.Flags = gsswrap.FlagNames(gflags)
	g := &gssAcceptor{key: auth.SubKey, recvSeq: uint64(auth.SeqNumber), sendSeq: uint64(auth.SeqNumber), client: rec.ClientPrincipal}
	if len(g.key.KeyValue) == 0 {
		g.key = tkt.DecryptedEncPart.Key
	}
	if !types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		return g, nil, nil
	}
	rep, err := g.apRep(auth, tkt.DecryptedEncPart.Key)
	if err != nil {
		return nil, nil, &gssReject{Minor: "could not make the AP-REP: " + err.Error()}
	}
	return g, rep, nil
}

// checkTicket is the time checks of the ticket and the authenticator.
func checkTicket(req *messages.APReq) *gssReject {
	tkt, auth := &req.Ticket, &req.Authenticator
	now := time.Now()
	switch {
	case !auth.CName.Equal(tkt.DecryptedEncPart.CName) || auth.CRealm != tkt.DecryptedEncPart.CRealm:
		return &gssReject{Minor: "Ticket and authenticator don't match", Code: errorcode.KRB_AP_ERR_BADMATCH}
	case now.Sub(tkt.DecryptedEncPart.EndTime) > maxClockSkew:
		return &gssReject{Minor: "Ticket expired (at " + tkt.DecryptedEncPart.EndTime.UTC().Format(time.RFC3339) + ")", Code: errorcode.KRB_AP_ERR_TKT_EXPIRED}
	case tkt.DecryptedEncPart.StartTime.Sub(now) > maxClockSkew:
		return &gssReject{Minor: "Ticket not yet valid", Code: errorcode.KRB_AP_ERR_TKT_NYV}
	}
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > maxClockSkew || -d > maxClockSkew {
		return &gssReject{Minor: fmt.Sprintf("Clock skew too great (%s between the client and the server)", d.Round(time.Second)), Code: errorcode.KRB_AP_ERR_SKEW}
	}
	return nil
}

// apRep is the mutual authentication token: the authenticator's time
// encrypted with the session key, with an acceptor subkey (as MIT's
// acceptor sends) and the server's initial sequence number.
func (g *gssAcceptor) apRep(auth types.Authenticator, sessionKey types.EncryptionKey) ([]byte, error) {
	et, err := crypto.GetEtype(g.key.KeyType)
	if err != nil {
		return nil, err
	}
	sub := types.EncryptionKey{KeyType: g.key.KeyType, KeyValue: make([]byte, et.GetKeyByteSize())}
	if _, err := rand.Read(sub.KeyValue); err != nil {
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<31-1))
	if err != nil {
		return nil, err
	}
	seq := n.Int64() + 1
	part := messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: sub, SequenceNumber: seq}
	b, err := asn1.Marshal(part)
	if err != nil {
		return nil, err
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart), sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rb, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return nil, err
	}
	g.key, g.acceptorSub, g.sendSeq = sub, true, uint64(seq)
	return gsswrap.MechToken(gsswrap.TokAPRep, asn1tools.AddASNAppTag(rb, asnAppTag.APREP)), nil
}

// errorToken is the KRB-ERROR token MIT's acceptor answers a rejected
// AP-REQ with (nil when the rejection has no Kerberos error code).
func errorToken(r *gssReject, service string) []byte {
	if r.Code == 0 {
		return nil
	}
	sname, realm := types.ParseSPNString(service)
	ke := messages.NewKRBError(sname, realm, r.Code, r.Minor)
	b, err := ke.Marshal()
	if err != nil {
		return nil
	}
	return gsswrap.MechToken(gsswrap.TokError, b)
}

// etypeName is the enctype's longest name (aes256-cts-hmac-sha1-96, not
// its alias aes256-cts).
func etypeName(id int32) string {
	best := ""
	for name, v := range etypeID.ETypesByName {
		if v == id && (len(name) > len(best) || len(name) == len(best) && name < best) {
			best = name
		}
	}
	if best == "" {
		return fmt.Sprintf("etype %d", id)
	}
	return best
}

// gssConn is a session encrypted with GSSAPI (be-secure-gssapi.c): each
// packet a 4-byte big-endian length, then one sealed wrap token.
type gssConn struct {
	net.Conn
	g       *gssAcceptor
	rec     *statelog.SessionGSS
	pending []byte
	fault   string // a GSSFault* for the first packet sent
	onFault func(string)
}

var gssFaultWords = map[string]string{
	GSSFaultUnsealed: "script: the first wrap token was sent without confidentiality (Sealed flag off)",
	GSSFaultOversize: fmt.Sprintf("script: the first packet was sent with length %d, over PQ_GSS_MAX_PACKET_SIZE", gsswrap.MaxPacket),
	GSSFaultGarbage:  "script: the first packet was sent as random bytes, not a wrap token",
}

func (c *gssConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		tok, err := gsswrap.ReadPacket(c.Conn, "client")
		if err != nil {
			return 0, err
		}
		plain, err := gsswrap.Open(c.g.key, tok, false, c.g.recvSeq)
		if err != nil {
			return 0, fmt.Errorf("GSSAPI unwrap error: %v", err)
		}
		c.g.recvSeq++
		c.rec.PacketsReceived++
		c.pending = plain
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *gssConn) Write(p []byte) (int, error) {
	var out []byte
	for off := 0; off < len(p); off += gsswrap.MaxPlain {
		end := min(off+gsswrap.MaxPlain, len(p))
		tok, err := gsswrap.Seal(c.g.key, true, c.g.acceptorSub, c.g.sendSeq, p[off:end])
		if err != nil {
			return 0, fmt.Errorf("GSSAPI wrap error: %v", err)
		}
		c.g.sendSeq++
		length := uint32(len(tok))
		switch c.fault {
		case GSSFaultUnsealed:
			tok[2] &^= gsswrap.FlagSealed
		case GSSFaultOversize:
			length = gsswrap.MaxPacket
			tok = append(tok, make([]byte, gsswrap.MaxPacket-len(tok))...)
		case GSSFaultGarbage:
			_, _ = rand.Read(tok)
		}
		if c.fault != "" && c.onFault != nil {
			c.onFault(gssFaultWords[c.fault])
		}
		c.fault = ""
		out = binary.BigEndian.AppendUint32(out, length)
		out = append(out, tok...)
		c.rec.PacketsSent++
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
