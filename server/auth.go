package server

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/statelog"
)

// authenticate is ClientAuthentication: ask for the configured method and
// check (or, with no password configured, just take) what comes back.
func (h *backend) authenticate() bool {
	method := h.s.cfg.Auth
	auth := &statelog.SessionAuth{Method: method}
	h.sess.Auth = auth
	switch method {
	case AuthTrust:
		return h.authOK(auth, "")
	case AuthPassword, AuthMD5:
		return h.passwordAuth(auth)
	case AuthGSS:
		return h.gssAuth(auth)
	default:
		return h.scramAuth(auth)
	}
}

func (h *backend) authOK(auth *statelog.SessionAuth, note string) bool {
	detail := "AuthenticationOk (method " + auth.Method + ")"
	if note != "" {
		detail += ": " + note
	}
	return h.emit(StateClientAuthentication, statelog.StepAuthOK, time.Now(), encode(&pgproto3.AuthenticationOk{}), detail, nil, map[string]any{"code": wire.AuthReqOK})
}

func (h *backend) passwordFailed(began time.Time) {
	h.fatal(StateClientAuthentication, began, "28P01", fmt.Sprintf("password authentication failed for user \"%s\"", h.user), "", "", statelog.ClassAuth)
}

// readAuthMessage reads the client's answer to an authentication request.
func (h *backend) readAuthMessage(began time.Time, request, kind string) ([]byte, bool) {
	typ, body, err := h.readMessage(maxAuthToken)
	if err != nil {
		if errors.Is(err, errMessageLength) {
			h.commerror(StateClientAuthentication, statelog.StepAuthResponse, began, statelog.ClassProtocol, "08P01", "invalid message length", err.Error())
			return nil, false
		}
		h.readFailed(StateClientAuthentication, statelog.StepAuthResponse, began, err, "instead of answering "+request,
			"a client with no password gives up here (libpq: \"fe_sendauth: no password supplied\"), as does one whose require_auth or channel_binding=require forbids "+request)
		return nil, false
	}
	if typ != 'p' {
		h.fatal(StateClientAuthentication, began, "08P01", fmt.Sprintf("expected %s response, got message type %d", kind, typ), "", "", statelog.ClassProtocol)
		return nil, false
	}
	return body, true
}

func (h *backend) passwordAuth(auth *statelog.SessionAuth) bool {
	began := time.Now()
	md5 := auth.Method == AuthMD5
	var salt [4]byte
	var msg pgproto3.BackendMessage = &pgproto3.AuthenticationCleartextPassword{}
	name, code := "AuthenticationCleartextPassword", wire.AuthReqPassword
	if md5 {
		_, _ = rand.Read(salt[:])
		msg = &pgproto3.AuthenticationMD5Password{Salt: salt}
		name, code = "AuthenticationMD5Password", wire.AuthReqMD5
	}
	detail := name
	if md5 {
		detail += " (with a random 4-byte salt)"
	}
	if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, began, encode(msg), detail, nil, map[string]any{"code": code}) {
		return false
	}
	t := time.Now()
	body, ok := h.readAuthMessage(t, name, "password")
	if !ok {
		return false
	}
	defer clear(body)
	if len(body) == 0 || bytes.IndexByte(body, 0) != len(body)-1 {
		h.fatal(StateClientAuthentication, t, "08P01", "invalid password packet size", "", "", statelog.ClassProtocol)
		return false
	}
	pw := body[:len(body)-1]
	if len(pw) == 0 {
		h.record(StateClientAuthentication, statelog.StepAuthResponse, t, "PasswordMessage: an empty password", nil, nil)
		h.passwordFailed(time.Now())
		return false
	}
	auth.PasswordReceived = true
	what := "PasswordMessage: the cleartext password (not recorded)"
	if md5 {
		what = "PasswordMessage: an MD5 hash of the password and the salt (not recorded)"
	}
	h.record(StateClientAuthentication, statelog.StepAuthResponse, t, what, nil, nil)
	if h.s.known {
		want := []byte(h.s.cfg.Password)
		if md5 {
			want = []byte(wire.MD5Password(h.s.cfg.Password, h.user, salt[:]))
		}
		match := subtle.ConstantTimeCompare(pw, want) == 1
		auth.PasswordVerified = &match
		if !match {
			h.passwordFailed(time.Now())
			return false
		}
		return h.authOK(auth, "the password matches")
	}
	return h.authOK(auth, "pgprobe has no password to check it against and accepts it")
}

const (
	mechSCRAM     = "SCRAM-SHA-256"
	mechSCRAMPlus = "SCRAM-SHA-256-PLUS"
)

// scramAuth is CheckSASLAuth with auth-scram.c's mechanisms:
// AuthenticationSASL, SASLInitialResponse, AuthenticationSASLContinue,
// SASLResponse, then AuthenticationSASLFinal and AuthenticationOk.
func (h *backend) scramAuth(auth *statelog.SessionAuth) bool {
	mechs := h.saslMechanisms()
	auth.Mechanisms = append([]string{}, mechs...)
	began := time.Now()
	if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, began, encode(&pgproto3.AuthenticationSASL{AuthMechanisms: mechs}),
		"AuthenticationSASL: "+strings.Join(mechs, ", "), nil, map[string]any{"code": wire.AuthReqSASL, "mechanisms": mechs}) {
		return false
	}
	mech, clientFirst, ok := h.saslInitialResponse(auth, mechs)
	if !ok || !h.checkGS2Flag(mech, auth.ChannelBindingFlag, slices.Contains(mechs, mechSCRAMPlus)) {
		return false
	}
	conv, ok := h.scramConversation(mech)
	if !ok {
		return false
	}
	serverFirst, err := conv.Step(clientFirst)
	if err != nil {
		h.fatal(StateClientAuthentication, time.Now(), "08P01", "malformed SCRAM message", err.Error(), "", statelog.ClassProtocol)
		return false
	}
	if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, time.Now(), encode(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}),
		"AuthenticationSASLContinue: server-first-message (salt, 4096 iterations)", nil, map[string]any{"code": wire.AuthReqSASLCont, "iterations": 4096}) {
		return false
	}
	return h.scramFinal(auth, conv)
}

// saslMechanisms is what AuthenticationSASL offers: the script's list, the
// configured one, or PostgreSQL's (SCRAM-SHA-256-PLUS first over TLS).
func (h *backend) saslMechanisms() []string {
	switch {
	case h.script.SASLMechanisms != nil:
		return h.script.SASLMechanisms
	case h.s.cfg.SASLMechanisms != nil:
		return h.s.cfg.SASLMechanisms
	case h.tc != nil:
		return []string{mechSCRAMPlus, mechSCRAM}
	}
	return []string{mechSCRAM}
}

var gs2FlagWords = map[string]string{
	"p": "binds the channel (tls-server-end-point)",
	"y": "could bind the channel, but thinks the server cannot",
	"n": "does not bind the channel",
}

// saslInitialResponse reads the mechanism the client chose and its
// client-first-message, whose first letter is the GS2 channel binding flag.
func (h *backend) saslInitialResponse(auth *statelog.SessionAuth, mechs []string) (mech, clientFirst string, ok bool) {
	t := time.Now()
	body, ok := h.readAuthMessage(t, "AuthenticationSASL", "SASL")
	if !ok {
		return "", "", false
	}
	var init pgproto3.SASLInitialResponse
	if err := init.Decode(body); err != nil {
		h.fatal(StateClientAuthentication, t, "08P01", "invalid SASLInitialResponse", "", "", statelog.ClassProtocol)
		return "", "", false
	}
	mech = init.AuthMechanism
	if !slices.Contains(mechs, mech) || (mech != mechSCRAM && mech != mechSCRAMPlus) {
		h.fatal(StateClientAuthentication, t, "08P01", "client selected an invalid SASL authentication mechanism", "", "", statelog.ClassProtocol)
		return "", "", false
	}
	auth.Mechanism = mech
	clientFirst = string(init.Data)
	flag := ""
	if clientFirst != "" {
		flag = clientFirst[:1]
	}
	auth.ChannelBindingFlag = flag
	if mech == mechSCRAMPlus {
		auth.Method = "scram-sha-256-plus"
	}
	h.record(StateClientAuthentication, statelog.StepAuthResponse, t, fmt.Sprintf("SASLInitialResponse: %s, client-first-message: the client %s", mech, cmp.Or(gs2FlagWords[flag], "sent GS2 flag "+flag)),
		nil, map[string]any{"mechanism": mech, "gs2_flag": flag})
	return mech, clientFirst, true
}

// checkGS2Flag refuses a channel binding flag that contradicts the
// mechanism, or a downgrade ('y' when -PLUS was offered over TLS).
func (h *backend) checkGS2Flag(mech, flag string, plusOffered bool) bool {
	switch {
	case mech == mechSCRAMPlus && flag != "p":
		h.fatal(StateClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.", "", statelog.ClassProtocol)
		return false
	case mech == mechSCRAM && flag == "p":
		h.fatal(StateClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.", "", statelog.ClassProtocol)
		return false
	case flag == "y" && plusOffered && h.tc != nil:
		h.fatal(StateClientAuthentication, time.Now(), "28000", "SCRAM channel binding negotiation error",
			"The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.", "", statelog.ClassAuth)
		return false
	}
	return true
}

// scramConversation starts the exchange; with -PLUS it binds it to the
// server's certificate (tls-server-end-point).
func (h *backend) scramConversation(mech string) (*scram.ServerConversation, bool) {
	if mech != mechSCRAMPlus {
		return h.s.scram.NewConversation(), true
	}
	if h.tc == nil || h.s.leaf == nil {
		h.fatal(StateClientAuthentication, time.Now(), "08P01", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256-PLUS over a connection without TLS.", "", statelog.ClassProtocol)
		return nil, false
	}
	cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{h.s.leaf}}
	cb, err := scram.NewTLSServerEndpointBinding(&cs)
	if err != nil {
		h.fatal(StateClientAuthentication, time.Now(), "XX000", "could not compute the channel binding data: "+err.Error(), "", "", statelog.ClassServer)
		return nil, false
	}
	return h.s.scram.NewConversationWithChannelBinding(cb), true
}

// scramFinal reads the SASLResponse (the client-final-message with the
// proof) and ends the exchange: SASLFinal and AuthenticationOk, or FATAL.
func (h *backend) scramFinal(auth *statelog.SessionAuth, conv *scram.ServerConversation) bool {
	flag := auth.ChannelBindingFlag
	t := time.Now()
	body, ok := h.readAuthMessage(t, "AuthenticationSASLContinue", "SASL")
	if !ok {
		return false
	}
	defer clear(body)
	auth.PasswordReceived = true
	what := "SASLResponse: client-final-message with the proof (not recorded)"
	if flag == "p" {
		what = "SASLResponse: client-final-message with the channel binding data and the proof (not recorded)"
	}
	h.record(StateClientAuthentication, statelog.StepAuthResponse, t, what, nil, nil)
	serverFinal, err := conv.Step(string(body))
	t = time.Now()
	switch {
	case err == nil && conv.Valid():
		verified := true
		auth.PasswordVerified = &verified
		auth.ChannelBinding = flag == "p"
		if !h.emit(StateClientAuthentication, statelog.StepAuthRequest, t, encode(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)}),
			"AuthenticationSASLFinal: server-final-message: the server's signature proves it knows the password", nil, map[string]any{"code": wire.AuthReqSASLFin}) {
			return false
		}
		return h.authOK(auth, "the proof matches")
	case serverFinal == scram.ErrChannelBindingsDontMatch:
		h.fatal(StateClientAuthentication, t, "08P01", "SCRAM channel binding check failed", "", "", statelog.ClassAuth)
		return false
	case serverFinal == scram.ErrInvalidProof:
		// The channel binding and the nonce were checked before the proof.
		auth.ChannelBinding = flag == "p"
		if h.s.known {
			verified := false
			auth.PasswordVerified = &verified
			h.passwordFailed(t)
			return false
		}
		return h.authOK(auth, "no SASLFinal: pgprobe has no password, so it can neither check the proof nor prove it knows the password (libpq accepts this unless channel_binding=require or require_auth)")
	case err != nil && strings.Contains(err.Error(), "nonce"):
		h.fatal(StateClientAuthentication, t, "08P01", "invalid SCRAM response (nonce mismatch)", "", "", statelog.ClassProtocol)
		return false
	default:
		// xdg-go's parse errors quote the field they choke on, which may be
		// the proof: say nothing more than PostgreSQL does.
		h.fatal(StateClientAuthentication, t, "08P01", "malformed SCRAM message", "The client-final-message could not be parsed.", "", statelog.ClassProtocol)
		return false
	}
}
