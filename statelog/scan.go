package statelog

// ScanSchema names the JSON document of `pgprobe scan -o json`.
const ScanSchema = "pgprobe/scan/v1"

// Severities of a scan finding, lowest first.
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Severities lists the severities, lowest first.
func Severities() []string {
	return []string{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// SeverityRank orders severities: info 1 … critical 5; 0 for an unknown one.
func SeverityRank(s string) int {
	for i, v := range Severities() {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// Scan is what `pgprobe scan` found a server to accept.
type Scan struct {
	Schema   string `json:"schema"`
	Target   string `json:"target"` // never holds a password
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	// Error is why the server could not be scanned at all (exit 2), or a
	// usage error (exit 3).
	Error *Error `json:"error,omitempty"`
	// Address is host:port as dialled.
	Address string      `json:"address,omitempty"`
	Server  *ScanServer `json:"server,omitempty"`
	// Plaintext: a connection without encryption reached authentication
	// for some user.
	Plaintext bool    `json:"plaintext"`
	TLS       ScanTLS `json:"tls"`
	// SSL: the server answered 'S' to SSLRequest.
	SSL bool `json:"ssl"`
	// DirectTLS: TLS with ALPN "postgresql" as the very first bytes
	// (PostgreSQL 17's sslnegotiation=direct) was accepted.
	DirectTLS bool `json:"direct_tls"`
	// GSSEnc is the server's answer to GSSENCRequest: "G", "N", or "" when
	// it answered with something else or not at all (GSSEncDetail says).
	GSSEnc       string `json:"gssenc"`
	GSSEncDetail string `json:"gssenc_detail,omitempty"`
	// ProtocolVersions: "3.0" and "3.2", accepted or not.
	ProtocolVersions map[string]bool `json:"protocol_versions"`
	// SSLRequestInjection is CVE-2021-23214's check: "refused" (the server
	// ends the connection when bytes follow SSLRequest before TLS),
	// "accepted" (it reads them as if they came through TLS), or "unknown".
	SSLRequestInjection       string        `json:"ssl_request_injection"`
	SSLRequestInjectionDetail string        `json:"ssl_request_injection_detail,omitempty"`
	Auth                      []ScanAuth    `json:"auth"`
	Findings                  []ScanFinding `json:"findings"`
	// Connections is how many connections the scan opened.
	Connections int     `json:"connections"`
	DurationMS  float64 `json:"duration_ms"`
}

// ScanServer is what a login or an error revealed about the server.
type ScanServer struct {
	Version string `json:"version"`
}

// ScanTLS is the TLS layer as the server accepts it.
type ScanTLS struct {
	// Versions: "TLSv1.0" … "TLSv1.3", each accepted or not.
	Versions map[string]bool `json:"versions"`
	// CipherSuites are the suites accepted (IANA names): the TLS 1.2 (and
	// older) suites tried one by one, then the TLS 1.3 suite chosen.
	CipherSuites []string `json:"cipher_suites"`
	// Groups: each key-exchange group offered alone, accepted or not.
	Groups map[string]bool `json:"groups"`
	// HelloRetry: a client offering X25519 first (with its key share) and
	// P-256, P-384, P-521 was asked again with a HelloRetryRequest.
	HelloRetry  bool             `json:"hello_retry"`
	Certificate *ScanCertificate `json:"certificate"`
}

// ScanCertificate is the server's certificate, judged.
type ScanCertificate struct {
	Chain              []Cert `json:"chain"` // leaf first, as sent
	KeyType            string `json:"key_type"`
	KeyBits            int    `json:"key_bits"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	DaysLeft           int    `json:"days_left"`
	// Verified: the chain verifies against VerifiedWith (sslrootcert, or
	// "system" for the system's store) as libpq's sslmode=verify-ca does;
	// VerifyError is libpq's message when not.
	Verified     bool   `json:"verified"`
	VerifiedWith string `json:"verified_with"`
	VerifyError  string `json:"verify_error,omitempty"`
	// HostnameMatch: the leaf matches the host as libpq's verify-full
	// checks it; NameError is libpq's message when not.
	Host          string `json:"host"`
	HostnameMatch bool   `json:"hostname_match"`
	NameError     string `json:"name_error,omitempty"`
}

// ScanAuth is one user's first authentication request over one
// encryption, read without sending any password.
type ScanAuth struct {
	User       string `json:"user"`
	Encryption string `json:"encryption"` // "ssl" or "plaintext"
	// Method is trust (AuthenticationOk at once), password, md5, sasl
	// (Mechanisms says which), gss, sspi; "" when the server answered with
	// an error.
	Method     string   `json:"method"`
	Mechanisms []string `json:"mechanisms"`
	Error      string   `json:"error"`
}

// ScanFinding is one graded observation. IDs are stable.
type ScanFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Detail   string `json:"detail"`
	Advice   string `json:"advice"`
}
