package probe

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// loadClientCert is initialize_SSL's client-certificate part: sslcert and
// sslkey (defaults under ~/.postgresql), PEM or DER, a key encrypted with
// sslpassword, and libpq's key-file permission rule. A missing certificate
// file means no client certificate, silently, as in libpq.
func (m *Machine) loadClientCert() (*tls.Certificate, string, error) {
	s := m.settings
	if s.Get("sslcertmode") == "disable" {
		return nil, "", nil
	}
	certPath, keyPath := s.Get("sslcert"), s.Get("sslkey")
	if certPath == "" && m.cfg.HomeDir != "" {
		certPath = filepath.Join(m.cfg.HomeDir, conninfo.UserTLSDir, "postgresql.crt")
	}
	if keyPath == "" && m.cfg.HomeDir != "" {
		keyPath = filepath.Join(m.cfg.HomeDir, conninfo.UserTLSDir, "postgresql.key")
	}
	if certPath == "" {
		return nil, "", nil
	}
	data, err := os.ReadFile(certPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("could not open certificate file \"%s\": %s", certPath, wire.Strerror(err))
	}
	chain := parseCertChain(data)
	if len(chain) == 0 {
		return nil, "", fmt.Errorf("could not read certificate file \"%s\": no certificate found in it (PEM or DER)", certPath)
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("certificate present, but not private key file \"%s\"", keyPath)
		}
		return nil, "", fmt.Errorf("could not stat private key file \"%s\": %s", keyPath, wire.Strerror(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("private key file \"%s\" is not a regular file", keyPath)
	}
	if keyFileTooOpen(fi) {
		return nil, "", fmt.Errorf("private key file \"%s\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root", keyPath)
	}
	keyData, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, "", fmt.Errorf("could not load private key file \"%s\": %s", keyPath, wire.Strerror(err))
	}
	key, err := parsePrivateKey(keyData, s.Get("sslpassword"))
	if err != nil {
		return nil, "", fmt.Errorf("could not load private key file \"%s\": %s", keyPath, err)
	}
	leaf, _ := x509.ParseCertificate(chain[0])
	if leaf == nil || !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, "", fmt.Errorf("certificate does not match private key file \"%s\": key values mismatch", keyPath)
	}
	subject := leaf.Subject.String()
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, subject, nil
}

func parseCertChain(data []byte) [][]byte {
	chain := pemBlocks(data, "CERTIFICATE")
	if len(chain) == 0 {
		if _, err := x509.ParseCertificate(data); err == nil {
			chain = append(chain, data)
		}
	}
	return chain
}

// pemBlocks returns the contents of every PEM block of the given type.
func pemBlocks(data []byte, typ string) [][]byte {
	var out [][]byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return out
		}
		if b.Type == typ {
			out = append(out, b.Bytes)
		}
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}

var errBadDecrypt = errors.New("bad decrypt")

// parsePrivateKey reads a PEM (plain, legacy-encrypted or PKCS#8-encrypted)
// or DER private key, as OpenSSL does for libpq.
func parsePrivateKey(data []byte, password string) (crypto.Signer, error) {
	der := data
	b, _ := pem.Decode(data)
	if b == nil {
		// libpq hands a DER key file to OpenSSL as SSL_FILETYPE_ASN1, which
		// (OpenSSL 3, as psql here shows) cannot decrypt an encrypted one.
		if _, err := decryptPKCS8(data, "x"); err != errNotEncrypted {
			return nil, errors.New("unsupported")
		}
	}
	if b != nil {
		der = b.Bytes
		// Legacy "Proc-Type: 4,ENCRYPTED" keys (`openssl rsa -aes256
		// -traditional`) are deprecated in Go but libpq reads them.
		if x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck
			if password == "" {
				return nil, errors.New("the key is encrypted and no sslpassword was given")
			}
			plain, err := x509.DecryptPEMBlock(b, []byte(password)) //nolint:staticcheck
			if err != nil {
				return nil, errBadDecrypt
			}
			der = plain
		}
	}
	if k, err := decryptPKCS8(der, password); err != errNotEncrypted {
		if err != nil {
			return nil, err
		}
		der = k
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			switch s.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
				return s, nil
			}
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported or malformed private key (PEM or DER PKCS#1, PKCS#8 or SEC 1 expected)")
}

var errNotEncrypted = errors.New("not an encrypted PKCS#8 key")

var (
	oidPBES2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA25 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3   = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KDF    algorithmIdentifier
	Scheme algorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 decrypts a PBES2 EncryptedPrivateKeyInfo (what OpenSSL 3
// writes for `openssl pkcs8 -topk8` and `openssl genpkey -aes256`). Go's
// standard library reads only unencrypted PKCS#8, and libpq accepts these.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 || !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, errNotEncrypted
	}
	if password == "" {
		return nil, errors.New("the key is encrypted and no sslpassword was given")
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &p); err != nil || !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errors.New("unsupported key encryption (PBES2 with PBKDF2 expected)")
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil || kp.Iterations <= 0 || kp.Iterations > 1<<24 {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	var prf func() hash.Hash = sha1.New
	if kp.PRF.Algorithm.Equal(oidHMACSHA25) {
		prf = sha256.New
	} else if len(kp.PRF.Algorithm) > 0 && !kp.PRF.Algorithm.Equal(oidHMACSHA1) {
		return nil, errors.New("unsupported PBKDF2 pseudo-random function")
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("malformed encryption parameters")
	}
	var (
		keyLen  int
		newCiph func([]byte) (cipher.Block, error)
	)
	switch {
	case p.Scheme.Algorithm.Equal(oidAES128CBC):
		keyLen, newCiph = 16, aes.NewCipher
	case p.Scheme.Algorithm.Equal(oidAES192CBC):
		keyLen, newCiph = 24, aes.NewCipher
	case p.Scheme.Algorithm.Equal(oidAES256CBC):
		keyLen, newCiph = 32, aes.NewCipher
	case p.Scheme.Algorithm.Equal(oidDESEDE3):
		keyLen, newCiph = 24, des.NewTripleDESCipher
	default:
		return nil, errors.New("unsupported key encryption cipher")
	}
	key, err := pbkdf2.Key(prf, password, kp.Salt, kp.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCiph(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() || len(info.EncryptedData) == 0 || len(info.EncryptedData)%block.BlockSize() != 0 {
		return nil, errBadDecrypt
	}
	out := make([]byte, len(info.EncryptedData))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.EncryptedData)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() {
		return nil, errBadDecrypt
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errBadDecrypt
		}
	}
	return out[:len(out)-pad], nil
}
