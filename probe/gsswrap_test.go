package probe

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// acceptorWrap seals plain as the server does (be-secure-gssapi.c through
// MIT's gss_wrap), rotated right by rrc bytes as Windows' SSPI does.
func acceptorWrap(t *testing.T, g *gssContext, seq uint64, plain []byte, rrc int) []byte {
	t.Helper()
	h := g.wrapHeader(true, seq)
	ed, err := crypto.GetEncryptedData(append(append([]byte{}, plain...), h...), g.key, keyusage.GSSAPI_ACCEPTOR_SEAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := ed.Cipher
	if rrc > 0 {
		r := rrc % len(body)
		body = append(append([]byte{}, body[len(body)-r:]...), body[:len(body)-r]...)
		binary.BigEndian.PutUint16(h[6:8], uint16(rrc))
	}
	return append(h, body...)
}

func TestSealedWrapTokens(t *testing.T) {
	for _, et := range []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA256_128} {
		e, _ := crypto.GetEtype(et)
		key := types.EncryptionKey{KeyType: et, KeyValue: make([]byte, e.GetKeyByteSize())}
		_, _ = rand.Read(key.KeyValue)
		g := &gssContext{key: key, acceptorSub: true, sendSeq: 7, recvSeq: 100}
		msg := []byte("StartupMessage inside GSSAPI encryption")

		tok, err := g.wrap(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tok[:4], []byte{0x05, 0x04, wrapFlagSealed | wrapFlagAcceptorSub, 0xff}) || binary.BigEndian.Uint64(tok[8:16]) != 7 {
			t.Errorf("etype %d: header %x", et, tok[:16])
		}
		if bytes.Contains(tok, msg) {
			t.Errorf("etype %d: the plaintext is visible in the token", et)
		}
		plain, err := crypto.DecryptMessage(tok[16:], key, keyusage.GSSAPI_INITIATOR_SEAL)
		if err != nil || !bytes.Equal(plain[:len(msg)], msg) || !bytes.Equal(plain[len(msg):], tok[:16]) {
			t.Errorf("etype %d: the token does not decrypt to plaintext||header: %v", et, err)
		}

		for _, tc := range []struct {
			name   string
			tok    []byte
			errHas string
		}{
			{"in sequence", acceptorWrap(t, g, 100, msg, 0), ""},
			{"rotated (RRC 28)", acceptorWrap(t, g, 101, msg, 28), ""},
			{"replayed", acceptorWrap(t, g, 101, msg, 0), "out of sequence"},
			{"reflected", tok, "not sent by the acceptor"},
			{"tampered", func() []byte { b := acceptorWrap(t, g, 102, msg, 0); b[len(b)-1] ^= 1; return b }(), "does not decrypt"},
			{"unsealed", func() []byte { b := acceptorWrap(t, g, 102, msg, 0); b[2] &^= wrapFlagSealed; return b }(), "without confidentiality"},
		} {
			got, err := g.unwrap(tc.tok)
			switch {
			case tc.errHas == "" && (err != nil || !bytes.Equal(got, msg)):
				t.Errorf("etype %d, %s: %q, %v", et, tc.name, got, err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("etype %d, %s: error %v, want %q", et, tc.name, err, tc.errHas)
			}
		}
	}
}
