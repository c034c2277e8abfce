package scan

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
)

// tlsVersions are the versions tried, oldest first, by their names in
// the JSON document.
var tlsVersions = []struct {
	name string
	id   uint16
}{
	{"TLSv1.0", tls.VersionTLS10},
	{"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12},
	{"TLSv1.3", tls.VersionTLS13},
}

// groups are the key-exchange groups tried one by one.
var groups = []struct {
	name string
	id   tls.CurveID
}{
	{"X25519", tls.X25519},
	{"P-256", tls.CurveP256},
	{"P-384", tls.CurveP384},
	{"P-521", tls.CurveP521},
	{"X25519MLKEM768", tls.X25519MLKEM768},
}

// allSuites is every suite crypto/tls can offer, secure ones first.
func allSuites() []*tls.CipherSuite {
	return append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
}

// suitesFor are the ids of the suites usable with version v (below 1.3).
func suitesFor(v uint16, keep func(*tls.CipherSuite) bool) []uint16 {
	var out []uint16
	for _, s := range allSuites() {
		if slices.Contains(s.SupportedVersions, v) && (keep == nil || keep(s)) {
			out = append(out, s.ID)
		}
	}
	return out
}

func isECDHE(s *tls.CipherSuite) bool { return strings.HasPrefix(s.Name, "TLS_ECDHE_") }

// baseConfig is what every handshake of the scan starts from: no
// verification (the certificate is judged afterwards, by libpq's rules),
// libpq's SNI and ALPN.
func (t *target) baseConfig() *tls.Config {
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"postgresql"}} //nolint:gosec // a scanner looks at whatever certificate is shown
	if t.host != "" && net.ParseIP(t.host) == nil {
		cfg.ServerName = t.host
	}
	return cfg
}

// versionConfig offers version v alone, with every suite Go has for it.
func (t *target) versionConfig(v uint16) *tls.Config {
	cfg := t.baseConfig()
	cfg.MinVersion, cfg.MaxVersion = v, v
	if v < tls.VersionTLS13 {
		cfg.CipherSuites = suitesFor(v, nil)
	}
	return cfg
}

// wideConfig offers every version and suite Go has.
func (t *target) wideConfig() *tls.Config {
	cfg := t.baseConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS13
	cfg.CipherSuites = suitesFor(tls.VersionTLS10, nil)
	cfg.CipherSuites = append(cfg.CipherSuites, suitesFor(tls.VersionTLS12, func(s *tls.CipherSuite) bool { return !slices.Contains(cfg.CipherSuites, s.ID) })...)
	return cfg
}

// suiteConfig offers one suite at version v.
func (t *target) suiteConfig(v, suite uint16) *tls.Config {
	cfg := t.baseConfig()
	cfg.MinVersion, cfg.MaxVersion = v, v
	cfg.CipherSuites = []uint16{suite}
	return cfg
}

// groupConfig offers one key-exchange group at version v (TLS 1.3, or 1.2
// with the ECDHE suites only, so that no other key exchange stands in).
func (t *target) groupConfig(v uint16, g tls.CurveID) *tls.Config {
	cfg := t.baseConfig()
	cfg.MinVersion, cfg.MaxVersion = v, v
	cfg.CurvePreferences = []tls.CurveID{g}
	if v < tls.VersionTLS13 {
		cfg.CipherSuites = suitesFor(v, isECDHE)
	}
	return cfg
}

// helloRetryConfig leads with X25519, as most clients do (its key share
// alone in the first flight), and also offers the NIST curves.
func (t *target) helloRetryConfig() *tls.Config {
	cfg := t.baseConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
	return cfg
}
