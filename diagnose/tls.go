package diagnose

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// brokenOff: the peer ended the handshake without a TLS alert (an EOF, a
// reset), or answered with something that is not TLS.
func brokenOff(ve string) bool {
	return strings.Contains(ve, "eof detected") || strings.Contains(ve, "syscall error") || strings.Contains(ve, "closed unexpectedly") ||
		strings.Contains(ve, "connection reset") || strings.Contains(ve, "wrong version number") && !strings.Contains(ve, "alert protocol version")
}

func adviseTLS(e *statelog.Error, msg string, w where) string {
	var tls *statelog.TLS
	if w.a != nil {
		tls = w.a.TLS
	}
	ve := strings.ToLower(e.Message)
	if tls != nil && tls.VerifyError != "" {
		ve += " " + strings.ToLower(tls.VerifyError)
	}
	switch {
	case strings.Contains(msg, "private key file") && strings.Contains(msg, "group or world access"):
		return adviseKeyPermissions(msg)
	case strings.Contains(msg, "host name must be specified"):
		return adviseNoHostName(w)
	case w.a != nil && w.a.Direct && brokenOff(ve):
		if s := adviseDirectTLS(w); s != "" {
			return s
		}
	}
	switch {
	case strings.Contains(msg, "does not match host name"):
		names := ""
		if tls != nil && len(tls.PeerCertificates) > 0 && len(tls.PeerCertificates[0].SANs) > 0 {
			names = " (" + strings.Join(tls.PeerCertificates[0].SANs, ", ") + ")"
		}
		return fmt.Sprintf("The certificate is signed by a trusted CA but does not name the host you connected to (%s). Connect by a name the certificate lists%s, or reissue the server certificate with subjectAltName %s; sslmode=verify-ca checks the chain without the name.", w.host, names, sanFor(w.host))
	case strings.Contains(msg, "root certificate file") && strings.Contains(msg, "does not exist"):
		return "sslmode=verify-ca/verify-full needs the CA that signed the server's certificate, and the root certificate file is missing. Put the CA certificate in ~/.postgresql/root.crt or point sslrootcert= at it (sslrootcert=system for a public CA, libpq 16 or later), or use sslmode=require to encrypt without verifying."
	case strings.Contains(ve, "expired") || strings.Contains(ve, "not yet valid"):
		return "The server's certificate is outside its validity period. Renew it (ssl_cert_file/ssl_key_file on the server) and run `SELECT pg_reload_conf()`; also check both clocks."
	case strings.Contains(ve, "certificate verify failed") || strings.Contains(ve, "unknown authority") || strings.Contains(ve, "x509"):
		issuer := ""
		if tls != nil && len(tls.PeerCertificates) > 0 {
			issuer = " The server's certificate was issued by " + strconv.Quote(tls.PeerCertificates[0].Issuer) + "."
		}
		return "The server's certificate does not chain to a CA the client trusts: sslrootcert points at the wrong file, or the server uses a self-signed or private-CA certificate." + issuer + " Set sslrootcert= to that CA's certificate (default ~/.postgresql/root.crt), use sslrootcert=system for a public CA (libpq 16 or later), or make the server send its intermediate certificates in ssl_cert_file."
	case strings.Contains(ve, "unknown ca") || strings.Contains(ve, "bad certificate") || strings.Contains(ve, "certificate required"):
		return "The server rejected the client certificate (or wanted one): its ssl_ca_file does not trust the certificate given in sslcert, or pg_hba.conf requires clientcert. Give sslcert= and sslkey= signed by a CA in the server's ssl_ca_file."
	case strings.Contains(ve, "wrong version number") || strings.Contains(ve, "protocol version"):
		return adviseTLSVersion(msg, w, strings.Contains(ve, "wrong version number") && !strings.Contains(ve, "alert protocol version"))
	case strings.Contains(ve, "eof detected") || strings.Contains(ve, "syscall error"):
		return "The connection broke during the TLS handshake. Check the server log for SSL errors (an unreadable ssl_key_file, a missing certificate) and any proxy in between."
	}
	return "The TLS handshake or certificate verification failed. Check the server's ssl_* settings and the client's sslmode, sslrootcert, sslcert and sslkey."
}

// sanFor is the subjectAltName entry that would name host: IP:… for an
// IPv4 or IPv6 address, DNS:… for a name. libpq accepts either for an
// address (it compares dNSName entries with the host string too, as
// probe.VerifyPeerName does), but an iPAddress entry is what RFC 6125 and
// other clients (Go, JDBC) require. Legacy inet_aton forms that libpq takes
// for IPv4 ("0x7f.1", "3221225985"; probe's hostIsIP) are not recognised
// here and get DNS:…, which libpq accepts as written: diagnose cannot import
// probe (probe's tests import report, which imports diagnose), and probe
// does not export that parser.
func sanFor(host string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return "IP:" + ip.WithZone("").String()
	}
	return "DNS:" + host
}

// tlsRank orders libpq's TLS version names: TLSv1 < TLSv1.1 < … (0 unknown).
func tlsRank(v string) int {
	switch v {
	case "TLSv1", "TLSv1.0":
		return 10
	case "TLSv1.1":
		return 11
	case "TLSv1.2":
		return 12
	case "TLSv1.3":
		return 13
	}
	return 0
}

// adviseTLSVersion explains a handshake that failed on the protocol version.
// The versions offered are the client's ssl_min_protocol_version and
// ssl_max_protocol_version; --min-tls-version is checked only after a
// handshake succeeded, so it is no fix here.
//
// wrongVersion is OpenSSL's "wrong version number" without a
// protocol-version alert (pgprobe's text for Go's "first record does not
// look like a TLS handshake" and its own version checks, probe/tls.go):
// with OpenSSL, and so with libpq, its usual cause is a peer that does not
// speak TLS at all, so that comes first. A protocol-version alert is the
// server's own refusal of the versions offered.
func adviseTLSVersion(msg string, w where, wrongVersion bool) string {
	lo, hi := "", ""
	if m := re().tlsRange.FindStringSubmatch(msg); m != nil {
		lo, hi = m[1], m[2]
	}
	capped := tlsRank(hi) != 0 && tlsRank(hi) < tlsRank("TLSv1.3")
	offered := ""
	if lo != "" {
		offered = fmt.Sprintf(" (the client offered %s to %s)", lo, hi)
	}
	if wrongVersion {
		s := fmt.Sprintf("The peer at %s may not speak TLS at all: \"wrong version number\" usually means its answer to the ClientHello was not TLS. Check that the port is PostgreSQL's, that no proxy in between answered 'S' and then spoke plaintext, and that a server reached with sslnegotiation=direct is PostgreSQL 17 or newer (else use sslnegotiation=postgres).", w.hostport())
		if capped {
			return s + fmt.Sprintf(" Otherwise the client's ssl_max_protocol_version=%s%s may be below the server's ssl_min_protocol_version: raise or remove it.", hi, offered)
		}
		return s + " Otherwise client and server share no TLS version" + offered + ": compare ssl_min_protocol_version/ssl_max_protocol_version on both sides."
	}
	if capped {
		return fmt.Sprintf("Client and server share no TLS version: the client's ssl_max_protocol_version=%s caps it at %s (it offered %s to %s), below what the server accepts (its ssl_min_protocol_version is likely higher). Raise or remove the client's ssl_max_protocol_version= (or PGSSLMAXPROTOCOLVERSION), or lower ssl_min_protocol_version on the server and run `SELECT pg_reload_conf()`.", hi, hi, lo, hi)
	}
	return "Client and server share no TLS version" + offered + ". Compare the server's ssl_min_protocol_version/ssl_max_protocol_version with the client's ssl_min_protocol_version= and ssl_max_protocol_version= (or PGSSLMINPROTOCOLVERSION, PGSSLMAXPROTOCOLVERSION), and widen whichever range excludes the other."
}
