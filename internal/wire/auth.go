package wire

import (
	"crypto/md5"
	"encoding/hex"
)

// Authentication request codes (src/include/libpq/protocol.h).
const (
	AuthReqOK       = 0
	AuthReqKrb4     = 1
	AuthReqKrb5     = 2
	AuthReqPassword = 3
	AuthReqCrypt    = 4
	AuthReqMD5      = 5
	AuthReqGSS      = 7
	AuthReqGSSCont  = 8
	AuthReqSSPI     = 9
	AuthReqSASL     = 10
	AuthReqSASLCont = 11
	AuthReqSASLFin  = 12
)

var authReqNames = map[uint32]string{
	AuthReqOK: "AuthenticationOk", AuthReqPassword: "AuthenticationCleartextPassword",
	AuthReqMD5: "AuthenticationMD5Password", AuthReqGSS: "AuthenticationGSS",
	AuthReqGSSCont: "AuthenticationGSSContinue", AuthReqSSPI: "AuthenticationSSPI",
	AuthReqSASL: "AuthenticationSASL", AuthReqSASLCont: "AuthenticationSASLContinue",
	AuthReqSASLFin: "AuthenticationSASLFinal",
}

// AuthReqName is the protocol's name of an authentication request code
// ("AuthenticationMD5Password"), or "" for a code it does not name.
func AuthReqName(code uint32) string { return authReqNames[code] }

// MD5Password is the answer to AuthenticationMD5Password: "md5" and
// md5(md5(password || user) || salt) in hex, as both sides compute it.
func MD5Password(password, user string, salt []byte) string {
	inner := md5.Sum([]byte(password + user))
	innerHex := hex.EncodeToString(inner[:])
	outer := md5.Sum(append([]byte(innerHex), salt...))
	return "md5" + hex.EncodeToString(outer[:])
}
