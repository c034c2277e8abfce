package scan

import "github.com/pgprobe/pgprobe/statelog"

// rule is one kind of finding: its stable id, severity, title and the
// configuration change that removes it. The README's table is this list.
type rule struct {
	id, severity, title, advice string
}

// Rules lists every finding a scan can report, most severe first. The
// order is the report's order within a severity.
var rules = []rule{
	{"trust-over-network", statelog.SeverityCritical, "trust authentication over the network: anyone who reaches the port logs in without a password",
		"pg_hba.conf: replace trust with scram-sha-256 on every host, hostssl and hostnossl line (keep trust, if anywhere, on local lines), then reload (pg_ctl reload or SELECT pg_reload_conf())."},
	{"password-over-plaintext", statelog.SeverityCritical, "the password is asked for in clear text on an unencrypted connection",
		"pg_hba.conf: turn the host … password lines into hostssl … scram-sha-256 and add hostnossl all all 0.0.0.0/0 reject (and ::/0) above them; postgresql.conf: password_encryption = 'scram-sha-256', then set the passwords again; reload."},
	{"no-ssl", statelog.SeverityHigh, "SSL is off: every connection is unencrypted",
		"postgresql.conf: ssl = on with ssl_cert_file and ssl_key_file (a certificate for the server's name), then require it in pg_hba.conf with hostssl lines; reload."},
	{"plaintext-login", statelog.SeverityHigh, "users reach authentication without encryption",
		"pg_hba.conf: turn host lines into hostssl and put hostnossl all all 0.0.0.0/0 reject (and ::/0) first; reload."},
	{"tls-1.0-accepted", statelog.SeverityHigh, "TLS 1.0 is accepted",
		"postgresql.conf: ssl_min_protocol_version = 'TLSv1.2' (the default since PostgreSQL 12); reload."},
	{"tls-1.1-accepted", statelog.SeverityHigh, "TLS 1.1 is accepted",
		"postgresql.conf: ssl_min_protocol_version = 'TLSv1.2' (the default since PostgreSQL 12); reload."},
	{"tls-rc4-accepted", statelog.SeverityHigh, "RC4 cipher suites are accepted",
		"postgresql.conf: ssl_ciphers = 'HIGH:!aNULL:!RC4:!3DES:!kRSA' (or 'ECDHE+AESGCM:ECDHE+CHACHA20'); reload."},
	{"cert-expired", statelog.SeverityHigh, "the server certificate has expired (or is not valid yet)",
		"Renew the certificate; postgresql.conf: ssl_cert_file and ssl_key_file name the new files; reload."},
	{"cert-name-mismatch", statelog.SeverityHigh, "the certificate does not name the host: sslmode=verify-full fails",
		"Issue a certificate whose subjectAltName lists the names and addresses clients connect to; postgresql.conf: ssl_cert_file and ssl_key_file; reload."},
	{"cert-weak-key", statelog.SeverityHigh, "the certificate's key is too small (RSA below 2048 bits, EC below 256)",
		"Issue a certificate with an RSA 2048+ or ECDSA P-256+ key; postgresql.conf: ssl_cert_file and ssl_key_file; reload."},
	{"cert-weak-signature", statelog.SeverityHigh, "the certificate chain is signed with SHA-1 or MD5",
		"Issue a certificate signed with SHA-256 or better; postgresql.conf: ssl_cert_file and ssl_key_file; reload."},
	{"cve-2021-23214", statelog.SeverityHigh, "bytes sent after SSLRequest before TLS are read as if they came through TLS (CVE-2021-23214)",
		"Upgrade PostgreSQL to a fixed minor release (14.1, 13.5, 12.9, 11.14, 10.19 or later); no setting helps."},
	{"md5-auth", statelog.SeverityMedium, "MD5 password authentication (deprecated in PostgreSQL 18)",
		"postgresql.conf: password_encryption = 'scram-sha-256', then have each user set the password again (\\password); pg_hba.conf: md5 → scram-sha-256; reload."},
	{"password-auth", statelog.SeverityMedium, "the password is asked for in clear text (through TLS): the server, or a man in the middle that clients do not detect, sees it",
		"pg_hba.conf: password → scram-sha-256 (postgresql.conf: password_encryption = 'scram-sha-256', then set the passwords again); reload."},
	{"no-channel-binding", statelog.SeverityMedium, "no channel binding over TLS: SCRAM-SHA-256-PLUS is not offered",
		"pg_hba.conf: scram-sha-256 on the hostssl lines (the server then offers SCRAM-SHA-256-PLUS; clients can insist with channel_binding=require); reload."},
	{"cert-not-trusted", statelog.SeverityMedium, "the certificate chain does not verify against sslrootcert or the system's store",
		"Use a certificate from a CA the clients trust, intermediates appended to ssl_cert_file (postgresql.conf), and give clients that CA as sslrootcert with sslmode=verify-full; reload."},
	{"cert-expires-soon", statelog.SeverityMedium, "the server certificate expires within 30 days",
		"Renew the certificate; postgresql.conf: ssl_cert_file and ssl_key_file name the new files; reload (no restart needed)."},
	{"tls-3des-accepted", statelog.SeverityMedium, "3DES cipher suites are accepted (64-bit blocks: SWEET32)",
		"postgresql.conf: ssl_ciphers = 'HIGH:!aNULL:!3DES:!kRSA' (PostgreSQL's default 'HIGH:MEDIUM:+3DES:!aNULL' keeps 3DES); reload."},
	{"tls-no-forward-secrecy", statelog.SeverityMedium, "RSA key exchange suites are accepted (no forward secrecy)",
		"postgresql.conf: ssl_ciphers = 'HIGH:!aNULL:!kRSA:!3DES' (or 'ECDHE+AESGCM:ECDHE+CHACHA20'); reload."},
	{"tls-cbc-suites", statelog.SeverityLow, "CBC-mode cipher suites are accepted with TLS 1.2",
		"postgresql.conf: ssl_ciphers = 'ECDHE+AESGCM:ECDHE+CHACHA20' keeps the AEAD suites only; reload."},
	{"no-tls-1.3", statelog.SeverityLow, "TLS 1.3 is not accepted",
		"postgresql.conf: ssl_max_protocol_version = '' (no upper bound), with PostgreSQL built against OpenSSL 1.1.1 or later; reload."},
	{"no-direct-tls", statelog.SeverityInfo, "direct TLS (sslnegotiation=direct, ALPN postgresql) is not accepted",
		"PostgreSQL 17 accepts direct TLS, which saves clients the SSLRequest round trip; a proxy in front must pass TLS with ALPN \"postgresql\" through."},
	{"tls-hello-retry", statelog.SeverityInfo, "a client leading with X25519 pays a HelloRetryRequest round trip",
		"postgresql.conf: ssl_groups = 'X25519:prime256v1' (PostgreSQL 18's default; before 18 ssl_ecdh_curve takes one curve: 'X25519' if no client needs P-256); reload."},
	{"no-protocol-3.2", statelog.SeverityInfo, "protocol 3.2 is not accepted (it has 256-bit cancel keys)",
		"Upgrade to PostgreSQL 18, which speaks protocol 3.2; libpq 18 clients ask for it with max_protocol_version=3.2."},
	{"user-not-reached", statelog.SeverityInfo, "a user was refused before authentication, with and without TLS",
		"pg_hba.conf: no line matches this user, database and address (or the role cannot log in); add a hostssl … scram-sha-256 line if the user should connect."},
}

// ruleByID finds a rule.
func ruleByID(id string) rule {
	for _, r := range rules {
		if r.id == id {
			return r
		}
	}
	panic("scan: no rule " + id)
}

// Rule is one kind of finding, for the documentation.
type Rule struct {
	ID, Severity, Title, Advice string
}

// Rules lists every kind of finding, most severe first.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{ID: r.id, Severity: r.severity, Title: r.title, Advice: r.advice}
	}
	return out
}
