package gsswrap

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Each side opens what the other seals, and refuses its own tokens
// reflected back, under either sequence of direction.
func TestSealOpenBothDirections(t *testing.T) {
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: make([]byte, 32)}
	_, _ = rand.Read(key.KeyValue)
	msg := []byte("ReadyForQuery inside GSSAPI encryption")
	for _, fromAcceptor := range []bool{true, false} {
		tok, err := Seal(key, fromAcceptor, true, 42, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Open(key, tok, fromAcceptor, 42); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("fromAcceptor=%v: %q %v", fromAcceptor, got, err)
		}
		if _, err := Open(key, tok, !fromAcceptor, 42); err == nil || !strings.Contains(err.Error(), "reflected") {
			t.Errorf("fromAcceptor=%v: a reflected token gave %v", fromAcceptor, err)
		}
		if _, err := Open(key, tok, fromAcceptor, 43); err == nil || !strings.Contains(err.Error(), "out of sequence (42, expected 43)") {
			t.Errorf("fromAcceptor=%v: a token out of sequence gave %v", fromAcceptor, err)
		}
	}
	id, body, err := ParseMechToken(MechToken(TokAPRep, []byte("rep")))
	if err != nil || !bytes.Equal(id, TokAPRep) || string(body) != "rep" {
		t.Errorf("ParseMechToken: %x %q %v", id, body, err)
	}
	if _, _, err := ParseMechToken([]byte("NTLMSSP\x00")); err == nil {
		t.Error("ParseMechToken took an NTLM token")
	}
}
