package probe

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// This file is libpq's host-name check for sslmode=verify-full
// (pgtls_verify_peer_name_matches_certificate_guts in fe-secure-openssl.c and
// fe-secure-common.c). Go's x509.VerifyHostname differs on purpose from it —
// no CN fallback, other IP and wildcard rules — and a diagnostic tool must
// give libpq's verdict, so the rules are written out here.

// sanEntry is one subjectAltName, in certificate order.
type sanEntry struct {
	dns   string // dNSName, raw (may hold an embedded NUL)
	ip    []byte // iPAddress, raw bytes (any length)
	isDNS bool
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// subjectAltNames returns the dNSName and iPAddress entries in the order the
// certificate lists them (crypto/x509 splits them by type and loses the
// order libpq's messages depend on).
func subjectAltNames(cert *x509.Certificate) ([]sanEntry, bool) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		rest, err := asn1.Unmarshal(ext.Value, &seq)
		if err != nil || len(rest) != 0 {
			return nil, true
		}
		var out []sanEntry
		data := seq.Bytes
		for len(data) > 0 {
			var v asn1.RawValue
			data, err = asn1.Unmarshal(data, &v)
			if err != nil {
				return out, true
			}
			if v.Class != asn1.ClassContextSpecific {
				continue
			}
			switch v.Tag {
			case 2:
				out = append(out, sanEntry{dns: string(v.Bytes), isDNS: true})
			case 7:
				out = append(out, sanEntry{ip: append([]byte(nil), v.Bytes...)})
			}
		}
		return out, true
	}
	return nil, false
}

// inetAton parses an IPv4 address the way glibc's inet_aton does, accepting
// the legacy forms libpq accepts too: "192.000.002.001" (octal parts),
// "0x7f.1", "3221225985".
func inetAton(s string) ([4]byte, bool) {
	var out [4]byte
	if i := strings.IndexAny(s, " \t\n\v\f\r"); i >= 0 {
		s = s[:i] // glibc ignores whatever follows whitespace
	}
	if s == "" {
		return out, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return out, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return out, false
		}
		base := uint64(10)
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		var v uint64
		for _, c := range p {
			var d uint64
			switch {
			case c >= '0' && c <= '9':
				d = uint64(c - '0')
			case base == 16 && c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			case base == 16 && c >= 'A' && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				return out, false
			}
			if d >= base {
				return out, false
			}
			v = v*base + d
			if v > 0xffffffff {
				return out, false
			}
		}
		vals[i] = v
	}
	last := vals[len(vals)-1]
	max := []uint64{0xffffffff, 0xffffff, 0xffff, 0xff}[len(vals)-1]
	if last > max {
		return out, false
	}
	for _, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return out, false
		}
	}
	for i, v := range vals[:len(vals)-1] {
		out[i] = byte(v)
	}
	n := uint32(last)
	for i := 3; i >= len(vals)-1; i-- {
		out[i] = byte(n)
		n >>= 8
	}
	return out, true
}

// inetPton6 parses an IPv6 address as inet_pton(AF_INET6) does (no zone).
func inetPton6(s string) ([16]byte, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return [16]byte{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// hostIsIP is libpq's host_type test.
func hostIsIP(host string) bool {
	if _, ok := inetAton(host); ok {
		return true
	}
	_, ok := inetPton6(host)
	return ok
}

// certNameMatches compares one certificate name with the host: the
// case-insensitive exact match, then the wildcard rule. It returns an error
// for a name with an embedded NUL (CVE-2009-4034).
func certNameMatches(name, host string) (bool, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return false, fmt.Errorf("SSL certificate's name contains embedded null")
	}
	if strings.EqualFold(name, host) {
		return true, nil
	}
	return wildcardMatch(name, host), nil
}

// wildcardMatch: "*." must start the pattern, the wildcard stands for exactly
// one whole left-most label, and the rest compares case-insensitively.
func wildcardMatch(pattern, s string) bool {
	lp, ls := len(pattern), len(s)
	if lp < 3 || pattern[0] != '*' || pattern[1] != '.' {
		return false
	}
	if lp > ls {
		return false
	}
	if !strings.EqualFold(pattern[1:], s[ls-lp+1:]) {
		return false
	}
	// No dot may stand left of where the suffix starts: one label only.
	if dot := strings.IndexByte(s, '.'); dot >= 0 && dot < ls-lp {
		return false
	}
	return true
}

// ipSANMatches compares an iPAddress SAN with the host as bytes.
func ipSANMatches(ip []byte, host string) (bool, string, error) {
	switch len(ip) {
	case 4:
		name := net.IP(ip).String()
		if a, ok := inetAton(host); ok {
			return a == [4]byte(ip), name, nil
		}
		return false, name, nil
	case 16:
		name := net.IP(ip).String()
		if a, ok := inetPton6(host); ok {
			return a == [16]byte(ip), name, nil
		}
		return false, name, nil
	default:
		return false, "", fmt.Errorf("certificate contains IP address with invalid length %d", len(ip))
	}
}

// VerifyPeerName checks the server certificate against host as libpq's
// verify-full does. It returns nil on a match, or an error with libpq's
// message.
func VerifyPeerName(cert *x509.Certificate, host string) error {
	if host == "" {
		return fmt.Errorf("host name must be specified for a verified SSL connection")
	}
	hostIP := hostIsIP(host)
	examined := 0
	first := ""
	checkCN := true
	sans, _ := subjectAltNames(cert)
	for _, san := range sans {
		if san.isDNS != hostIP { // a SAN of the host's own type disables the CN fallback
			checkCN = false
		}
		examined++
		var (
			ok   bool
			err  error
			name string
		)
		if san.isDNS {
			name = san.dns
			ok, err = certNameMatches(san.dns, host)
		} else {
			ok, name, err = ipSANMatches(san.ip, host)
		}
		if first == "" {
			first = name
		}
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	if checkCN {
		if cn, ok := firstCommonName(cert); ok {
			examined++
			if first == "" {
				first = cn
			}
			ok, err := certNameMatches(cn, host)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
	}
	switch {
	case examined > 1:
		others := "other names"
		if examined-1 == 1 {
			others = "other name"
		}
		return fmt.Errorf("server certificate for \"%s\" (and %d %s) does not match host name \"%s\"", first, examined-1, others, host)
	case examined == 1:
		return fmt.Errorf("server certificate for \"%s\" does not match host name \"%s\"", first, host)
	default:
		return fmt.Errorf("could not get server's host name from server certificate")
	}
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// firstCommonName is the subject's first CN attribute, raw.
func firstCommonName(cert *x509.Certificate) (string, bool) {
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			if s, ok := atv.Value.(string); ok {
				return s, true
			}
		}
	}
	return "", false
}
