package wire

import (
	"crypto/tls"
	"fmt"
)

// TLSVersionName renders a crypto/tls version as libpq and OpenSSL name it.
func TLSVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// OpenSSLAlertName turns Go's alert text ("unknown certificate authority")
// into OpenSSL's ("unknown ca"), which is what psql prints.
func OpenSSLAlertName(goName string) string {
	switch goName {
	case "unknown certificate authority":
		return "unknown ca"
	case "protocol version not supported":
		return "protocol version"
	}
	// The rest read the same in both: bad certificate, certificate
	// required, handshake failure, no application protocol, internal
	// error, access denied, certificate revoked, certificate expired.
	return goName
}

// GroupName names a TLS key-exchange group as OpenSSL and PostgreSQL's
// ssl_ecdh_curve / ssl_groups do ("P-256" is prime256v1).
func GroupName(id tls.CurveID) string {
	switch id {
	case 0:
		return ""
	case tls.CurveP256:
		return "P-256"
	case tls.CurveP384:
		return "P-384"
	case tls.CurveP521:
		return "P-521"
	}
	return id.String() // X25519, X25519MLKEM768, …
}
