package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// SelfSignedCertificate makes a self-signed ECDSA P-256 server certificate
// (signed with SHA-256, so tls-server-end-point hashes it with SHA-256) for
// hosts: IP addresses become IP subjectAltNames, anything else a DNS one. The
// first host is also the subject's common name. It is valid from an hour ago
// for validFor (a year when zero). The key never leaves memory.
func SelfSignedCertificate(hosts []string, validFor time.Duration) (tls.Certificate, error) {
	if validFor <= 0 {
		validFor = 365 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pgprobe", Organization: []string{"pgprobe (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
		if tmpl.Subject.CommonName == "pgprobe" {
			tmpl.Subject.CommonName = h
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making a self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// CertificateHosts lists the names a server listening on addr ("host:port")
// should hold a certificate for: the host itself, and for a loopback or
// unspecified address "localhost" and the loopback addresses; for an
// unspecified address also hostname (the machine's name, when known).
func CertificateHosts(addr, hostname string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	var out []string
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		out = append(out, "localhost", "127.0.0.1", "::1")
		if hostname != "" {
			out = append(out, hostname)
		}
	case host == "localhost" || (ip != nil && ip.IsLoopback()):
		out = append(out, "localhost", host)
		if host != "127.0.0.1" && host != "::1" {
			out = append(out, "127.0.0.1", "::1")
		}
	default:
		out = append(out, host)
	}
	return out
}
