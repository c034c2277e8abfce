package scan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// grade turns what the scan saw into findings, most severe first.
func grade(doc *statelog.Scan, res *results) []statelog.ScanFinding {
	var out []statelog.ScanFinding
	add := func(id, detail string) {
		r := ruleByID(id)
		out = append(out, statelog.ScanFinding{ID: id, Severity: r.severity, Title: r.title, Detail: detail, Advice: r.advice})
	}
	gradeAuth(doc, add)
	if !doc.SSL {
		add("no-ssl", "the server answered 'N' to SSLRequest")
	} else {
		gradeTLS(doc, res, add)
	}
	if doc.SSLRequestInjection == "accepted" {
		add("cve-2021-23214", doc.SSLRequestInjectionDetail)
	}
	if doc.ProtocolVersions["3.0"] && !doc.ProtocolVersions["3.2"] {
		add("no-protocol-3.2", "the server answered max_protocol_version=3.2 with NegotiateProtocolVersion 3.0")
	}
	order := map[string]int{}
	for i, r := range rules {
		order[r.id] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].ID] < order[out[j].ID] })
	if out == nil {
		out = []statelog.ScanFinding{}
	}
	return out
}

// gradeAuth grades the users' authentication requests.
func gradeAuth(doc *statelog.Scan, add func(id, detail string)) {
	byMethod := map[string][]string{} // "trust/ssl" → users
	reached := map[string]bool{}
	var users []string
	for _, a := range doc.Auth {
		if !slices.Contains(users, a.User) {
			users = append(users, a.User)
		}
		if a.Method == "" {
			continue
		}
		reached[a.User] = true
		key := a.Method + "/" + a.Encryption
		if a.Encryption == encSSL && a.Method != "trust" && a.Method != "cert" && !slices.Contains(a.Mechanisms, "SCRAM-SHA-256-PLUS") {
			byMethod["nocb"] = append(byMethod["nocb"], a.User+" ("+a.Method+")")
		}
		byMethod[key] = append(byMethod[key], a.User)
	}
	list := func(keys ...string) []string {
		var out []string
		for _, k := range keys {
			out = append(out, byMethod[k]...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if u := list("trust/plaintext", "trust/ssl"); len(u) > 0 {
		add("trust-over-network", "logged in with no password asked: "+usersOver(doc, "trust"))
	}
	if u := list("password/plaintext"); len(u) > 0 {
		add("password-over-plaintext", "asked for a clear-text password without TLS: "+strings.Join(u, ", "))
	}
	var plain []string
	for _, a := range doc.Auth {
		if a.Encryption == encPlaintext && a.Method != "" {
			plain = append(plain, a.User+" ("+a.Method+")")
		}
	}
	if len(plain) > 0 {
		add("plaintext-login", "without encryption: "+strings.Join(plain, ", "))
	}
	if u := list("md5/plaintext", "md5/ssl"); len(u) > 0 {
		add("md5-auth", "asked for an MD5 password: "+usersOver(doc, "md5"))
	}
	if u := list("password/ssl"); len(u) > 0 {
		add("password-auth", "asked for a clear-text password through TLS: "+strings.Join(u, ", "))
	}
	if u := byMethod["nocb"]; len(u) > 0 {
		add("no-channel-binding", "through TLS: "+strings.Join(u, ", "))
	}
	for _, u := range users {
		if reached[u] {
			continue
		}
		var errs []string
		for _, a := range doc.Auth {
			if a.User == u && a.Error != "" {
				errs = append(errs, a.Encryption+": "+a.Error)
			}
		}
		add("user-not-reached", u+": "+strings.Join(errs, "; "))
	}
}

// usersOver lists the users asked for method, with the encryptions.
func usersOver(doc *statelog.Scan, method string) string {
	var parts []string
	for _, a := range doc.Auth {
		if a.Method == method {
			parts = append(parts, a.User+" ("+a.Encryption+")")
		}
	}
	return strings.Join(parts, ", ")
}

// gradeTLS grades versions, suites, groups, direct TLS and the certificate.
func gradeTLS(doc *statelog.Scan, res *results, add func(id, detail string)) {
	v := doc.TLS.Versions
	if v["TLSv1.0"] {
		add("tls-1.0-accepted", "a handshake offering TLS 1.0 alone succeeded")
	}
	if v["TLSv1.1"] {
		add("tls-1.1-accepted", "a handshake offering TLS 1.1 alone succeeded")
	}
	var rc4, des3, kRSA, cbc []string
	for _, s := range allSuites() {
		if !res.suites[s.ID] {
			continue
		}
		switch {
		case strings.Contains(s.Name, "RC4"):
			rc4 = append(rc4, s.Name)
		case strings.Contains(s.Name, "3DES"):
			des3 = append(des3, s.Name)
		}
		if strings.HasPrefix(s.Name, "TLS_RSA_") {
			kRSA = append(kRSA, s.Name)
		}
		if strings.Contains(s.Name, "_CBC_") {
			cbc = append(cbc, s.Name)
		}
	}
	for _, f := range []struct {
		id    string
		names []string
	}{{"tls-rc4-accepted", rc4}, {"tls-3des-accepted", des3}, {"tls-no-forward-secrecy", kRSA}, {"tls-cbc-suites", cbc}} {
		if len(f.names) > 0 {
			add(f.id, strings.Join(f.names, ", "))
		}
	}
	anyVersion := v["TLSv1.0"] || v["TLSv1.1"] || v["TLSv1.2"] || v["TLSv1.3"]
	if anyVersion && !v["TLSv1.3"] {
		add("no-tls-1.3", "the newest version accepted is below TLS 1.3")
	}
	if !doc.DirectTLS {
		add("no-direct-tls", "a ClientHello with ALPN \"postgresql\" as the first bytes did not complete a handshake (PostgreSQL 16 or older, or a proxy in the way)")
	}
	if doc.TLS.HelloRetry {
		var ok []string
		for _, g := range groups {
			if doc.TLS.Groups[g.name] {
				ok = append(ok, g.name)
			}
		}
		add("tls-hello-retry", "the server does not take X25519 in the first flight; groups accepted: "+strings.Join(ok, ", "))
	}
	if c := doc.TLS.Certificate; c != nil {
		gradeCert(c, res.now, add)
	}
}

// gradeCert grades the certificate.
func gradeCert(c *statelog.ScanCertificate, now time.Time, add func(id, detail string)) {
	leaf := c.Chain[0]
	switch {
	case c.DaysLeft < 0:
		add("cert-expired", fmt.Sprintf("not after %s (%d days ago)", leaf.NotAfter.Format("2006-01-02"), -c.DaysLeft))
	case leaf.NotBefore.After(now):
		add("cert-expired", "not valid before "+leaf.NotBefore.Format("2006-01-02"))
	case c.DaysLeft < 30:
		add("cert-expires-soon", fmt.Sprintf("not after %s: %d days left", leaf.NotAfter.Format("2006-01-02"), c.DaysLeft))
	}
	if !c.HostnameMatch {
		add("cert-name-mismatch", fmt.Sprintf("%s (subject %s, SANs %s)", c.NameError, leaf.Subject, strings.Join(leaf.SANs, " ")))
	}
	if weakKey(c.KeyType, c.KeyBits) {
		add("cert-weak-key", fmt.Sprintf("%s %d bits", c.KeyType, c.KeyBits))
	}
	var weakSig []string
	for _, cert := range c.Chain {
		// A self-signed root's own signature is not checked by anyone.
		if cert.Subject == cert.Issuer && cert.IsCA {
			continue
		}
		s := strings.ToUpper(cert.SignatureAlgorithm)
		if strings.Contains(s, "SHA1") || strings.Contains(s, "MD5") || strings.Contains(s, "MD2") {
			weakSig = append(weakSig, cert.Subject+": "+cert.SignatureAlgorithm)
		}
	}
	if len(weakSig) > 0 {
		add("cert-weak-signature", strings.Join(weakSig, "; "))
	}
	if !c.Verified {
		add("cert-not-trusted", "against "+c.VerifiedWith+": "+c.VerifyError)
	}
}

// weakKey: RSA (and DSA) below 2048 bits, elliptic curves below 256.
func weakKey(typ string, bits int) bool {
	switch {
	case bits == 0:
		return false
	case typ == "RSA" || typ == "DSA":
		return bits < 2048
	case strings.HasPrefix(typ, "ECDSA"):
		return bits < 256
	}
	return false
}
