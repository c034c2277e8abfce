package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The Kerberos side of GSSAPI, as MIT's libgssapi_krb5 does it for libpq:
// the credential cache libkrb5 would use, the service ticket for
// KRBSRVNAME/HOST, and errors in MIT's words. Nothing here ever puts a key
// or a ticket into the record.

// krbCreds is what the credential cache holds for the client.
type krbCreds struct {
	cacheName string // as libkrb5 names it: FILE:/tmp/krb5cc_1000
	ccache    *credentials.CCache
	client    types.PrincipalName
	realm     string
	tgt       *credentials.Credential
	cfg       *config.Config
	cfgNote   string // why the configuration could not be used as is
}

// principal is "name@REALM".
func (c *krbCreds) principal() string { return c.client.PrincipalNameString() + "@" + c.realm }

// krbError is a GSSAPI failure as MIT words it: the major status text and
// the minor (Kerberos) text, which libpq joins with ": ". Code is the
// Kerberos error code when the KDC or the server sent one (0 otherwise);
// Reason names the failure for the diagnosis.
type krbError struct {
	Major, Minor string
	Code         int32
	Reason       string
}

func (e *krbError) Error() string { return e.Major + ": " + e.Minor }

// MIT's texts for the GSS major statuses libpq meets.
const (
	majorFailure = "Unspecified GSS failure.  Minor code may provide more information"
	majorNoCred  = "No credentials were supplied, or the credentials were unavailable or inaccessible"
)

// Reasons, for the diagnosis (statelog.Error.Cause).
const (
	krbNoCache        = "kerberos_no_ccache"
	krbExpired        = "kerberos_ticket_expired"
	krbNoPrincipal    = "kerberos_unknown_service_principal"
	krbUnreachable    = "kerberos_kdc_unreachable"
	krbSkew           = "kerberos_clock_skew"
	krbNotInKeytab    = "kerberos_not_in_keytab"
	krbOther          = "kerberos_error"
	mechKerberos      = "1.2.840.113554.1.2.2"
	defaultCCacheDir  = "/tmp"
	kdcDialTimeout    = 5 * time.Second
	maxKDCReplyLength = 1 << 20
)

// ccacheName is the credential cache libkrb5 would use: KRB5CCNAME, else
// FILE:/tmp/krb5cc_UID (krb5.conf's default_ccache_name is not read).
func ccacheName(getenv func(string) (string, bool)) string {
	if name, ok := getenv("KRB5CCNAME"); ok && name != "" {
		return name
	}
	return fmt.Sprintf("FILE:%s/krb5cc_%d", defaultCCacheDir, os.Getuid())
}

// ccacheFile is the file of a FILE: or DIR: cache ("" for other types),
// and whether the type is one a new process could find credentials in
// without libkrb5 (a MEMORY: cache is always empty).
func ccacheFile(name string) (path string, readable bool) {
	typ, rest, hasType := strings.Cut(name, ":")
	if !hasType || strings.HasPrefix(name, "/") {
		return name, true
	}
	switch typ {
	case "FILE":
		return rest, true
	case "DIR":
		if strings.HasPrefix(rest, ":") { // DIR::/dir/tktXXX names one cache of the collection
			return rest[1:], true
		}
		primary := "tkt"
		if b, err := os.ReadFile(filepath.Join(rest, "primary")); err == nil {
			primary = strings.TrimSpace(string(b))
		}
		return filepath.Join(rest, primary), true
	}
	return "", false
}

// krb5Config reads what libkrb5 reads: the files of KRB5_CONFIG (a colon
// list), else /etc/krb5.conf. A missing file is an empty configuration,
// as for libkrb5.
func krb5Config(getenv func(string) (string, bool)) (*config.Config, string) {
	files := "/etc/krb5.conf"
	if v, ok := getenv("KRB5_CONFIG"); ok && v != "" {
		files = v
	}
	var text strings.Builder
	for _, f := range filepath.SplitList(files) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		text.Write(b)
		text.WriteString("\n")
	}
	if text.Len() == 0 {
		return config.New(), ""
	}
	cfg, err := config.NewFromString(text.String())
	if err != nil {
		// gokrb5 refuses some files MIT reads; what it did parse still holds
		// the realms and KDCs more often than not.
		note := fmt.Sprintf("%s: %v", files, err)
		if cfg == nil {
			cfg = config.New()
		}
		return cfg, note
	}
	return cfg, ""
}

// loadCreds is gss_acquire_cred(GSS_C_INITIATE) as pg_GSS_have_cred_cache
// calls it: a credential cache with a client principal and its TGT.
func loadCreds(getenv func(string) (string, bool)) (*krbCreds, *krbError) {
	name := ccacheName(getenv)
	c := &krbCreds{cacheName: name}
	noCred := func() *krbError {
		return &krbError{Major: majorNoCred, Minor: fmt.Sprintf("No Kerberos credentials available (default cache: %s)", name), Reason: krbNoCache}
	}
	path, readable := ccacheFile(name)
	if !readable {
		return c, &krbError{Major: majorNoCred, Minor: fmt.Sprintf("pgprobe cannot read credential caches of this type (%s): use a FILE: or DIR: cache (KRB5CCNAME)", name), Reason: krbNoCache}
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		return c, noCred()
	}
	c.ccache = cc
	c.client = cc.DefaultPrincipal.PrincipalName
	c.realm = cc.DefaultPrincipal.Realm
	tgtName := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", c.realm}}
	tgt, ok := cc.GetEntry(tgtName)
	if !ok {
		return c, noCred()
	}
	c.tgt = tgt
	// krb5.conf only now: without credentials libpq never gets this far,
	// and parsing it (gokrb5 compiles regexps per line) cost a default
	// gssencmode=prefer probe milliseconds on every machine with a
	// krb5.conf but no ticket.
	c.cfg, c.cfgNote = krb5Config(getenv)
	return c, nil
}

// serviceTicket is the ticket for service (krbsrvname/host): from the
// cache when it holds a valid one, else from the KDC with the TGT (a
// TGS exchange; the cache is not written).
func (c *krbCreds) serviceTicket(ctx context.Context, service string, host string) (messages.Ticket, types.EncryptionKey, time.Time, *krbError) {
	var tkt messages.Ticket
	var key types.EncryptionKey
	realm := c.serviceRealm(host)
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_HST, NameString: []string{service, host}}
	full := sname.PrincipalNameString() + "@" + realm
	now := time.Now()
	for _, e := range c.ccache.GetEntries() {
		if e.Server.Realm == realm && e.Server.PrincipalName.PrincipalNameString() == sname.PrincipalNameString() &&
			now.After(e.StartTime) && now.Before(e.EndTime) {
			if err := tkt.Unmarshal(e.Ticket); err == nil {
				return tkt, e.Key, e.EndTime, nil
			}
		}
	}
	if c.tgt == nil {
		return tkt, key, time.Time{}, &krbError{Major: majorNoCred, Minor: "No Kerberos credentials available", Reason: krbNoCache}
	}
	if !now.Before(c.tgt.EndTime) {
		// libkrb5 refuses an expired TGT before asking the KDC.
		return tkt, key, time.Time{}, &krbError{Major: majorFailure, Minor: "Ticket expired", Code: 32, Reason: krbExpired}
	}
	var tgt messages.Ticket
	if err := tgt.Unmarshal(c.tgt.Ticket); err != nil {
		return tkt, key, time.Time{}, &krbError{Major: majorNoCred, Minor: "the ticket-granting ticket in the cache is not valid: " + err.Error(), Reason: krbOther}
	}
	req, err := messages.NewTGSReq(c.client, c.realm, c.cfg, tgt, c.tgt.Key, sname, false)
	if err != nil {
		return tkt, key, time.Time{}, &krbError{Major: majorFailure, Minor: err.Error(), Reason: krbOther}
	}
	// The request names the service's realm: ask that realm's KDC.
	req.ReqBody.Realm = realm
	b, err := req.Marshal()
	if err != nil {
		return tkt, key, time.Time{}, &krbError{Major: majorFailure, Minor: err.Error(), Reason: krbOther}
	}
	reply, kerr := c.sendKDC(ctx, c.realm, b)
	if kerr != nil {
		return tkt, key, time.Time{}, kerr
	}
	var ke messages.KRBError
	if ke.Unmarshal(reply) == nil {
		return tkt, key, time.Time{}, kdcError(ke, full)
	}
	var rep messages.TGSRep
	if err := rep.Unmarshal(reply); err != nil {
		return tkt, key, time.Time{}, &krbError{Major: majorFailure, Minor: "the KDC's reply is not a TGS-REP: " + err.Error(), Reason: krbOther}
	}
	if err := rep.DecryptEncPart(c.tgt.Key); err != nil {
		return tkt, key, time.Time{}, &krbError{Major: majorFailure, Minor: "the KDC's reply does not decrypt with the TGT's session key", Reason: krbOther}
	}
	return rep.Ticket, rep.DecryptedEncPart.Key, rep.DecryptedEncPart.EndTime, nil
}

// serviceRealm is the realm of host: krb5.conf's [domain_realm] mapping,
// else (as MIT's referral realm does with one KDC) the client's realm.
func (c *krbCreds) serviceRealm(host string) string {
	h := strings.ToLower(host)
	best, realm := -1, ""
	for dom, r := range c.cfg.DomainRealm {
		d := strings.ToLower(dom)
		switch {
		case d == h && len(d) > best:
			best, realm = len(d)+1, r
		case strings.HasPrefix(d, ".") && strings.HasSuffix(h, d) && len(d) > best:
			best, realm = len(d), r
		}
	}
	if realm != "" {
		return realm
	}
	if c.realm == "" {
		return c.cfg.LibDefaults.DefaultRealm
	}
	return c.realm
}

// sendKDC sends a request to one of realm's KDCs over TCP (RFC 4120
// §7.2.2: a 4-byte length, then the message) and returns its reply.
func (c *krbCreds) sendKDC(ctx context.Context, realm string, req []byte) ([]byte, *krbError) {
	unreachable := &krbError{Major: majorFailure, Minor: fmt.Sprintf("Cannot contact any KDC for realm '%s'", realm), Reason: krbUnreachable}
	_, kdcs, err := c.cfg.GetKDCs(realm, true)
	if err != nil || len(kdcs) == 0 {
		return nil, unreachable
	}
	for i := 1; i <= len(kdcs); i++ {
		addr, ok := kdcs[i]
		if !ok {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "88")
		}
		if reply, err := exchangeTCP(ctx, addr, req); err == nil {
			return reply, nil
		}
	}
	return nil, unreachable
}

func exchangeTCP(ctx context.Context, addr string, req []byte) ([]byte, error) {
	d := net.Dialer{Timeout: kdcDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(3 * kdcDialTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := conn.Write(append(msg, req...)); err != nil {
		return nil, err
	}
	var lb [4]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > maxKDCReplyLength {
		return nil, errors.New("KDC reply too long")
	}
	reply := make([]byte, n)
	_, err = io.ReadFull(conn, reply)
	return reply, err
}

// kdcError words a KRB-ERROR as MIT's com_err table does (krb5_err.et),
// naming the principal where MIT's extended message does.
func kdcError(ke messages.KRBError, principal string) *krbError {
	e := &krbError{Major: majorFailure, Code: ke.ErrorCode, Reason: krbOther}
	switch ke.ErrorCode {
	case 7:
		e.Minor, e.Reason = fmt.Sprintf("Server %s not found in Kerberos database", principal), krbNoPrincipal
	case 32:
		e.Reason = krbExpired
	case 37:
		e.Reason = krbSkew
	case 35, 44, 45:
		e.Reason = krbNotInKeytab
	}
	if e.Minor == "" {
		e.Minor = krbErrorText(ke.ErrorCode)
	}
	return e
}

// krbErrorText is MIT's text for a Kerberos protocol error code.
func krbErrorText(code int32) string {
	if t, ok := mitErrorTexts[code]; ok {
		return t
	}
	return fmt.Sprintf("Kerberos error %d", code)
}

var mitErrorTexts = map[int32]string{
	6:  "Client not found in Kerberos database",
	7:  "Server not found in Kerberos database",
	12: "KDC policy rejects request",
	13: "KDC can't fulfill requested option",
	14: "KDC has no support for encryption type",
	18: "Client's credentials have been revoked",
	23: "Password has expired",
	24: "Preauthentication failed",
	29: "A service is not available that is required to process the request",
	31: "Decrypt integrity check failed",
	32: "Ticket expired",
	33: "Ticket not yet valid",
	34: "Request is a replay",
	35: "The ticket isn't for us",
	36: "Ticket/authenticator don't match",
	37: "Clock skew too great",
	41: "Message stream modified",
	44: "Key version is not available",
	45: "Service key not available",
	46: "Mutual authentication failed",
	60: "Generic error (see e-text)",
	68: "Wrong realm",
}
