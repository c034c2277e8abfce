package conninfo

import (
	"encoding/base64"
	"os"
	"strings"
)

// scramKeyLen is SCRAM_MAX_KEY_LEN (SHA-256).
const scramKeyLen = 32

// connectOptions2 is the part of libpq's pqConnectOptions2 that does not
// open anything: derived values and the checks, in libpq's order.
func (s *Settings) connectOptions2() *Error {
	// Host slots: the count rules.
	if _, err := hostSlots(s.vals["host"].Value, s.vals["hostaddr"].Value, s.vals["port"].Value); err != nil {
		return err
	}
	if err := s.deriveUserDBName(); err != nil {
		return err
	}
	if err := s.derivePassword(); err != nil {
		return err
	}
	if err := checkRequireAuth(s.vals["require_auth"]); err != nil {
		return err
	}
	if err := s.checkEnum("channel_binding", "disable", "prefer", "require"); err != nil {
		return err
	}
	if err := s.checkSSLOptions(); err != nil {
		return err
	}
	if err := s.checkEnum("gssencmode", "disable", "prefer", "require"); err != nil {
		return err
	}
	if err := s.checkEnum("target_session_attrs", "any", "read-write", "read-only", "primary", "standby", "prefer-standby"); err != nil {
		return err
	}
	if err := checkScramKey(s.vals, "scram_client_key", "client"); err != nil {
		return err
	}
	if err := checkScramKey(s.vals, "scram_server_key", "server"); err != nil {
		return err
	}
	if err := s.checkEnum("load_balance_hosts", "disable", "random"); err != nil {
		return err
	}
	if err := checkProtocolVersions(s.vals); err != nil {
		return err
	}
	return s.checkIntegerOptions()
}

// deriveUserDBName fills in user (the OS user) and dbname (the user name)
// when not given or empty, as pqConnectOptions2 does.
func (s *Settings) deriveUserDBName() *Error {
	if s.vals["user"].Value == "" {
		if s.lookupOSUser() == "" {
			return errorf("could not look up local user ID %d: %s", os.Geteuid(), s.osUserErr)
		}
		s.vals["user"] = Value{Value: s.osUser, Source: SourceDefault, Origin: "OS user"}
	}
	if s.vals["dbname"].Value == "" {
		s.vals["dbname"] = Value{Value: s.vals["user"].Value, Source: SourceDefault, Origin: "user"}
	}
	return nil
}

// derivePassword fills in passfile (~/.pgpass) when not given, and consults
// the password file only when no password was given.
func (s *Settings) derivePassword() *Error {
	if s.vals["passfile"].Value == "" {
		if f := s.defaultPassfile(); f != "" {
			s.vals["passfile"] = Value{Value: f, Source: SourceDefault, Origin: "home directory"}
		}
	}
	if s.vals["password"].Value != "" {
		return nil
	}
	hosts, err := s.Hosts()
	if err != nil {
		return err.(*Error)
	}
	// The password keyword shows what the first host would use.
	if len(hosts) > 0 && hosts[0].Password.Source == SourcePgpass {
		s.vals["password"] = hosts[0].Password
	}
	return nil
}

// checkSSLOptions is pqConnectOptions2's TLS part: sslmode, sslnegotiation
// and the modes they allow, sslrootcert=system, the TLS protocol version
// range, and sslcertmode (defaulted here, as libpq does).
func (s *Settings) checkSSLOptions() *Error {
	if err := s.checkEnum("sslmode", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"); err != nil {
		return err
	}
	if err := s.checkEnum("sslnegotiation", "postgres", "direct"); err != nil {
		return err
	}
	mode := s.vals["sslmode"].Value
	strong := strings.HasPrefix(mode, "r") || strings.HasPrefix(mode, "v")
	if s.vals["sslnegotiation"].Value == "direct" && !strong {
		return errorf("weak sslmode \"%s\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")", mode)
	}
	if v, ok := s.vals["sslrootcert"]; ok && v.Value == "system" && mode != "verify-full" {
		return errorf("weak sslmode \"%s\" may not be used with sslrootcert=system (use \"verify-full\")", mode)
	}
	minV, maxV := s.vals["ssl_min_protocol_version"].Value, s.vals["ssl_max_protocol_version"].Value
	if !validTLSVersion(minV) {
		return errorf("invalid \"%s\" value: \"%s\"", "ssl_min_protocol_version", minV)
	}
	if !validTLSVersion(maxV) {
		return errorf("invalid \"%s\" value: \"%s\"", "ssl_max_protocol_version", maxV)
	}
	if !validTLSRange(minV, maxV) {
		return errorf("invalid SSL protocol version range")
	}
	if _, ok := s.vals["sslcertmode"]; !ok {
		s.vals["sslcertmode"] = Value{Value: "allow", Source: SourceDefault}
	}
	return s.checkEnum("sslcertmode", "disable", "allow", "require")
}

// checkIntegerOptions is pgprobe's addition: libpq parses these when it uses
// them (connect_timeout when the connection starts, the others when it sets
// up a TCP socket, so a Unix-socket connection never looks at them); pgprobe
// rejects a bad value before any attempt, with libpq's wording.
func (s *Settings) checkIntegerOptions() *Error {
	for _, k := range []string{"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"} {
		if v, ok := s.vals[k]; ok {
			if _, valid := parseIntParam(v.Value); !valid {
				return errorf("invalid integer value \"%s\" for connection option \"%s\"", v.Value, k)
			}
		}
	}
	return nil
}

// checkEnum fails with libpq's `invalid %s value: "%s"` when the keyword is
// set (even to "") to something not listed.
func (s *Settings) checkEnum(keyword string, allowed ...string) *Error {
	v, ok := s.vals[keyword]
	if !ok {
		return nil
	}
	for _, a := range allowed {
		if v.Value == a {
			return nil
		}
	}
	return errorf("invalid %s value: \"%s\"", keyword, v.Value)
}

// validTLSVersion is sslVerifyProtocolVersion: "" or TLSv1, TLSv1.1,
// TLSv1.2, TLSv1.3 in any case.
func validTLSVersion(v string) bool {
	switch strings.ToLower(v) {
	case "", "tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3":
		return true
	}
	return false
}

// validTLSRange is sslVerifyProtocolRange.
func validTLSRange(minV, maxV string) bool {
	if minV == "" || maxV == "" {
		return true
	}
	minV, maxV = strings.ToLower(minV), strings.ToLower(maxV)
	if minV == "tlsv1" {
		return true
	}
	if maxV == "tlsv1" {
		return false
	}
	return minV <= maxV
}

// requireAuthMethods are the methods require_auth accepts (oauth: PG18).
var requireAuthMethods = map[string]bool{
	"password": true, "md5": true, "gss": true, "sspi": true,
	"scram-sha-256": true, "oauth": true, "none": true,
}

// checkRequireAuth is pqConnectOptions2's require_auth parser: a comma list
// of methods, either all negated with '!' or none, each at most once.
func checkRequireAuth(v Value) *Error {
	if v.Value == "" {
		return nil
	}
	negated := false
	seen := map[string]bool{}
	for i, part := range strings.Split(v.Value, ",") {
		method := part
		if strings.HasPrefix(method, "!") {
			if i > 0 && !negated {
				return errorf("negative require_auth method \"%s\" cannot be mixed with non-negative methods", method)
			}
			negated = true
			method = method[1:]
		} else if negated {
			return errorf("require_auth method \"%s\" cannot be mixed with negative methods", method)
		}
		if !requireAuthMethods[method] {
			return errorf("invalid %s value: \"%s\"", "require_auth", method)
		}
		if seen[method] {
			return errorf("require_auth method \"%s\" is specified more than once", part)
		}
		seen[method] = true
	}
	return nil
}

// RequireAuth is a parsed require_auth setting.
type RequireAuth struct {
	// Methods are the listed methods without '!'.
	Methods []string
	// Negated: the list names the methods that are NOT allowed.
	Negated bool
}

// Allows reports whether an authentication method ("password", "md5",
// "gss", "sspi", "scram-sha-256", "oauth", or "none" for a server that asks
// for no authentication) is allowed. An empty setting allows everything.
func (r RequireAuth) Allows(method string) bool {
	listed := false
	for _, m := range r.Methods {
		if m == method {
			listed = true
		}
	}
	if len(r.Methods) == 0 {
		return true
	}
	if r.Negated {
		return !listed
	}
	return listed
}

// ParseRequireAuth parses a require_auth value (Resolve has validated it).
func ParseRequireAuth(v string) (RequireAuth, error) {
	if err := checkRequireAuth(Value{Value: v}); err != nil {
		return RequireAuth{}, err
	}
	var r RequireAuth
	if v == "" {
		return r, nil
	}
	for _, part := range strings.Split(v, ",") {
		if strings.HasPrefix(part, "!") {
			r.Negated = true
			part = part[1:]
		}
		r.Methods = append(r.Methods, part)
	}
	return r, nil
}

// checkScramKey decodes a base64 SCRAM key, which must be 32 bytes. The
// messages never show the key.
func checkScramKey(vals map[string]Value, keyword, which string) *Error {
	v, ok := vals[keyword]
	if !ok {
		return nil
	}
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v.Value)
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return errorf("invalid SCRAM %s key", which)
	}
	if len(b) != scramKeyLen {
		return errorf("invalid SCRAM %s key length: %d", which, len(b))
	}
	return nil
}

// protocolVersion is libpq 18's pqParseProtocolVersion: exactly "latest"
// (3.2), "3.0" or "3.2" (3.1 never existed); anything else fails with
// `invalid %s value: "%s"`.
func protocolVersion(v string) (int, bool) {
	switch v {
	case "3.0":
		return 3 << 16, true
	case "3.2", "latest":
		return 3<<16 | 2, true
	}
	return 0, false
}

// ProtocolVersions is min_protocol_version and max_protocol_version as
// libpq 18 settles them (PG_PROTOCOL(3,0) is 3<<16), defaults included;
// the settings are already validated.
func (s *Settings) ProtocolVersions() (minV, maxV uint32) {
	minV, maxV = 3<<16, 3<<16
	if p, ok := protocolVersion(s.Get("min_protocol_version")); ok {
		minV = uint32(p)
	}
	if minV > 3<<16 {
		maxV = 3<<16 | 2
	}
	if p, ok := protocolVersion(s.Get("max_protocol_version")); ok {
		maxV = uint32(p)
	}
	return minV, maxV
}

// checkProtocolVersions is the end of libpq 18's pqConnectOptions2
// (REL_18_STABLE 79a506228b): min_protocol_version defaults to 3.0;
// max_protocol_version, when not set, is 3.0 unless min_protocol_version is
// above 3.0, then "latest".
func checkProtocolVersions(vals map[string]Value) *Error {
	const v30, latest = 3 << 16, 3<<16 | 2
	minP := v30
	if v, ok := vals["min_protocol_version"]; ok {
		p, valid := protocolVersion(v.Value)
		if !valid {
			return errorf("invalid %s value: \"%s\"", "min_protocol_version", v.Value)
		}
		minP = p
	}
	maxP := v30
	if minP > v30 {
		maxP = latest
	}
	if v, ok := vals["max_protocol_version"]; ok {
		p, valid := protocolVersion(v.Value)
		if !valid {
			return errorf("invalid %s value: \"%s\"", "max_protocol_version", v.Value)
		}
		maxP = p
	}
	if minP > maxP {
		return errorf("\"%s\" is greater than \"%s\"", "min_protocol_version", "max_protocol_version")
	}
	return nil
}
