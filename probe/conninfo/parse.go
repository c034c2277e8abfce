package conninfo

import (
	"fmt"
	"strings"
)

// Origins recorded for values that come from the target.
const (
	originConnString = "connection string"
	originURI        = "URI"
	originURIParam   = "URI query parameter"
	originDBName     = "dbname argument"
	redactedText     = "****"
)

// param is one keyword=value found in a connection string or URI, in the
// order found; later ones override earlier ones, as conninfo_storeval does.
type param struct {
	keyword string
	value   string
	origin  string
}

func errorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

const (
	uriDesignator      = "postgresql://"
	shortURIDesignator = "postgres://"
)

// uriPrefixLength is libpq's uri_prefix_length: the designators are
// case-sensitive.
func uriPrefixLength(s string) int {
	switch {
	case strings.HasPrefix(s, uriDesignator):
		return len(uriDesignator)
	case strings.HasPrefix(s, shortURIDesignator):
		return len(shortURIDesignator)
	}
	return 0
}

// IsConnString is libpq's recognized_connection_string: s starts with a URI
// designator or contains '='. Anything else is a plain database name.
func IsConnString(s string) bool {
	s = cString(s)
	return uriPrefixLength(s) != 0 || strings.IndexByte(s, '=') >= 0
}

// cString cuts s at its first NUL byte: libpq sees C strings.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseConnString is libpq's parse_connection_string without defaults: a
// URI when s starts with a designator, key=value pairs otherwise.
func parseConnString(s string) ([]param, *Error) {
	s = cString(s)
	if uriPrefixLength(s) != 0 {
		return parseURI(s)
	}
	return parseKeyValue(s)
}

// translateRequireSSL is libpq's handling of the deprecated requiressl
// keyword, in both syntaxes: "1…" means sslmode=require, anything else prefer.
func translateRequireSSL(keyword, value string) (string, string) {
	if keyword != "requiressl" {
		return keyword, value
	}
	if strings.HasPrefix(value, "1") {
		return "sslmode", "require"
	}
	return "sslmode", "prefer"
}

// isKeyword reports whether libpq knows the keyword.
func isKeyword(k string) bool {
	_, ok := LookupKeyword(k)
	return ok
}

// afterSecretHint explains a word shown as **** after an unquoted secret.
func afterSecretHint(keyword string) string {
	return fmt.Sprintf(" (the word after %s= is not shown, as it may be the rest of its value: if the value has a space in it, quote it: %s='…')", keyword, keyword)
}

// storeParam is conninfo_storeval for the key=value form: it translates the
// deprecated requiressl and rejects unknown keywords.
func storeParam(out []param, keyword, value, origin string) ([]param, *Error) {
	keyword, value = translateRequireSSL(keyword, value)
	if _, ok := LookupKeyword(keyword); !ok {
		return nil, errorf("invalid connection option \"%s\"", keyword)
	}
	return append(out, param{keyword: keyword, value: value, origin: origin}), nil
}

// parseKeyValue is libpq's conninfo_parse: whitespace-separated
// keyword = value pairs; a value is either a run of non-blank characters or
// a single-quoted string; a backslash escapes the next character in both.
//
// One deliberate difference: when a word without "=" follows an unquoted
// secret (password=my secret), libpq's message would quote that word, which
// is part of the secret; it is shown as **** instead.
func parseKeyValue(s string) ([]param, *Error) {
	var out []param
	n := len(s)
	i := 0
	afterUnquotedSecret, secretName := false, ""
	for i < n {
		if isSpace(s[i]) {
			i++
			continue
		}
		start := i
		for i < n && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		name := s[start:i]
		for i < n && isSpace(s[i]) {
			i++
		}
		if i >= n || s[i] != '=' {
			if afterUnquotedSecret {
				// libpq names the word, which may be the rest of a
				// password with a space in it.
				return nil, errorf("missing \"=\" after \"%s\" in connection info string%s", redactedText, afterSecretHint(secretName))
			}
			return nil, errorf("missing \"=\" after \"%s\" in connection info string", name)
		}
		i++ // past '='
		for i < n && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		quoted := i < n && s[i] == '\''
		if !quoted {
			for i < n {
				c := s[i]
				if isSpace(c) {
					i++
					break
				}
				if c == '\\' {
					i++
					if i < n {
						val.WriteByte(s[i])
						i++
					}
					continue
				}
				val.WriteByte(c)
				i++
			}
		} else {
			i++ // past the opening quote
			for {
				if i >= n {
					return nil, errorf("unterminated quoted string in connection info string")
				}
				c := s[i]
				if c == '\\' {
					i++
					if i < n {
						val.WriteByte(s[i])
						i++
					}
					continue
				}
				if c == '\'' {
					i++
					break
				}
				val.WriteByte(c)
				i++
			}
		}
		if kw, _ := translateRequireSSL(name, ""); afterUnquotedSecret && !isKeyword(kw) {
			// "password=abc def=ghi": libpq names "def", which is
			// more likely the rest of the password than a keyword.
			return nil, errorf("invalid connection option \"%s\"%s", redactedText, afterSecretHint(secretName))
		}
		var err *Error
		if out, err = storeParam(out, name, val.String(), originConnString); err != nil {
			return nil, err
		}
		afterUnquotedSecret = !quoted && isSecret(name)
		secretName = name
	}
	return out, nil
}

// parseURI is libpq's conninfo_uri_parse_options:
//
//	postgresql://[user[:password]@][netloc][:port][,...][/dbname][?param1=value1&...]
//
// Messages that libpq words with the whole URI show it through Redact, and
// those that quote a password (or another secret query parameter) show ****.
func parseURI(uri string) ([]param, *Error) {
	start := uriPrefixLength(uri)
	if start == 0 {
		return nil, errorf("invalid URI propagated to internal parser routine: \"%s\"", Redact(uri))
	}
	out, p, err := parseURIUserinfo(uri, start)
	if err != nil {
		return nil, err
	}
	hosts, p, prevchar, err := parseURIHosts(uri, p)
	if err != nil {
		return nil, err
	}
	out = append(out, hosts...)

	if prevchar != 0 && prevchar != '?' {
		p++ // past '/'
		d := p
		for p < len(uri) && uri[p] != '?' {
			p++
		}
		prevchar = byteAt(uri, p)
		// An empty dbname is not stored, so PGDATABASE still applies.
		if db := uri[d:p]; db != "" {
			v, err := uriDecode(db, false)
			if err != nil {
				return nil, err
			}
			out = append(out, param{"dbname", v, originURI})
		}
	}
	if prevchar != 0 {
		params, err := parseURIParams(uri[p+1:])
		if err != nil {
			return nil, err
		}
		out = append(out, params...)
	}
	return out, nil
}

// byteAt is uri[i], or the terminating NUL libpq sees past the end.
func byteAt(uri string, i int) byte {
	if i < len(uri) {
		return uri[i]
	}
	return 0
}

// parseURIUserinfo is the user credentials part of
// conninfo_uri_parse_options: user[:password]@ when an '@' comes before any
// '/'. It returns the position where the host list starts.
func parseURIUserinfo(uri string, start int) ([]param, int, *Error) {
	n := len(uri)
	// Look ahead for the user credentials designator: '@' before any '/'.
	p := start
	for p < n && uri[p] != '@' && uri[p] != '/' {
		p++
	}
	if byteAt(uri, p) != '@' {
		if err := ambiguousUserinfo(uri[start:]); err != nil {
			return nil, 0, err
		}
		return nil, start, nil
	}
	if err := doubleAt(uri[start:]); err != nil {
		return nil, 0, err
	}
	if err := ambiguousUserinfo(uri[p+1:]); err != nil {
		return nil, 0, err
	}
	var out []param
	atSign := p
	u := start
	for uri[u] != ':' && uri[u] != '@' {
		u++
	}
	if user := uri[start:u]; user != "" {
		v, err := uriDecode(user, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, param{"user", v, originURI})
	}
	if uri[u] == ':' {
		// The password runs to the first '@', which is atSign.
		if pw := uri[u+1 : atSign]; pw != "" {
			v, err := uriDecode(pw, true)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, param{"password", v, originURI})
		}
	}
	return out, atSign + 1, nil
}

// parseURIHosts is the host list part of conninfo_uri_parse_options: one or
// more netloc[:port] separated by commas, from p. It returns the host and
// port params, the position after the list and the character there
// (prevchar: '/', '?' or 0 at the end).
func parseURIHosts(uri string, p int) ([]param, int, byte, *Error) {
	n := len(uri)
	var hostbuf, portbuf strings.Builder
	var prevchar byte
	for {
		var host string
		if byteAt(uri, p) == '[' {
			p++
			h := p
			for p < n && uri[p] != ']' {
				p++
			}
			if p >= n {
				return nil, 0, 0, errorf("end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"%s\"", Redact(uri))
			}
			if p == h {
				return nil, 0, 0, errorf("IPv6 host address may not be empty in URI: \"%s\"", Redact(uri))
			}
			host = uri[h:p]
			p++ // past ']'
			if c := byteAt(uri, p); c != 0 && c != ':' && c != '/' && c != '?' && c != ',' {
				return nil, 0, 0, errorf("unexpected character \"%s\" at position %d in URI (expected \":\" or \"/\"): \"%s\"", string([]byte{c}), p+1, Redact(uri))
			}
		} else {
			h := p
			for p < n && !strings.ContainsRune(":/?,", rune(uri[p])) {
				p++
			}
			host = uri[h:p]
		}
		prevchar = byteAt(uri, p)
		hostbuf.WriteString(host)
		if prevchar == ':' {
			p++
			pt := p
			for p < n && !strings.ContainsRune("/?,", rune(uri[p])) {
				p++
			}
			prevchar = byteAt(uri, p)
			portbuf.WriteString(uri[pt:p])
		}
		if prevchar != ',' {
			break
		}
		p++
		hostbuf.WriteByte(',')
		portbuf.WriteByte(',')
	}
	var out []param
	if h := hostbuf.String(); h != "" {
		v, err := uriDecode(h, false)
		if err != nil {
			return nil, 0, 0, err
		}
		out = append(out, param{"host", v, originURI})
	}
	if pt := portbuf.String(); pt != "" {
		v, err := uriDecode(pt, false)
		if err != nil {
			return nil, 0, 0, err
		}
		out = append(out, param{"port", v, originURI})
	}
	return out, p, prevchar, nil
}

// ambiguousUserinfo catches a password with an unencoded '/':
// "postgresql://user:pa/ss@host/db". libpq looks for the '@' only before the
// first '/', so it reads "user:pa" as host and port, and its error quotes
// "pa", a piece of the password. rest is what libpq reads as the host list
// onwards (after "user@" when the user name held an '@' too). When an '@' follows before the query and a
// port before the first '/' is not a number (libpq would fail on it too),
// this says what happened without quoting anything. A numeric "port" is
// left to libpq's reading, which a database name with an '@' needs.
func ambiguousUserinfo(rest string) *Error {
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		q = len(rest)
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 || slash > q || strings.LastIndexByte(rest[:q], '@') < slash {
		return nil
	}
	for _, hp := range strings.Split(rest[:slash], ",") {
		if strings.HasPrefix(hp, "[") {
			continue
		}
		if _, port, ok := strings.Cut(hp, ":"); ok && strings.Trim(port, "0123456789") != "" {
			return errorf("the URI has an \"@\" after a \"/\": libpq looks for user:password@ only before the first \"/\", so it would read what comes before it as host:port, and that is not a port. If the user name or password holds \"/\" or \"@\", percent-encode them (%%2F, %%40)")
		}
	}
	return nil
}

// doubleAt catches a user name or password with an unencoded '@':
// "postgresql://me@corp.com:pw@host/db", "postgresql://app:p@ss@host/db".
// libpq ends the credentials at the first '@', so the rest of them becomes
// the host and port ("invalid integer value "pw@host" for connection option
// "port"", or a host "ss@host" that cannot resolve): its messages would
// quote a piece of the password. A host name never holds an '@', so two
// before the path or query always mean this.
func doubleAt(rest string) *Error {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	if strings.Count(rest[:end], "@") > 1 {
		return errorf("the URI has more than one \"@\" before the host: libpq ends user:password@ at the first one, so it would read the rest of the user name or password as host and port. Percent-encode \"@\" in the user name and password as %%40 (and \"/\" as %%2F)")
	}
	return nil
}

// parseURIParams is libpq's conninfo_uri_parse_params.
func parseURIParams(params string) ([]param, *Error) {
	var out []param
	n := len(params)
	i := 0
	// After a secret parameter, an item without "=" or with an unknown
	// keyword is most likely the rest of its value (an unencoded '&'):
	// libpq's message would quote it.
	afterSecret := ""
	for i < n {
		kwStart, kwEnd, valStart, valEnd := i, -1, -1, -1
		p := i
		for {
			if p < n && params[p] == '=' {
				if valStart >= 0 {
					return nil, errorf("extra key/value separator \"=\" in URI query parameter: \"%s\"", params[kwStart:kwEnd])
				}
				kwEnd = p
				p++
				valStart = p
			} else if p >= n || params[p] == '&' {
				end := p
				if p < n {
					p++
				}
				if valStart < 0 {
					if afterSecret != "" {
						return nil, errorf("missing key/value separator \"=\" in URI query parameter: \"%s\" (after %s=, whose value may hold an unencoded \"&\": write it as %%26)", redactedText, afterSecret)
					}
					return nil, errorf("missing key/value separator \"=\" in URI query parameter: \"%s\"", params[kwStart:end])
				}
				valEnd = end
				break
			} else {
				p++
			}
		}
		keyword, err := uriDecode(params[kwStart:kwEnd], false)
		if err != nil {
			return nil, err
		}
		value, err := uriDecode(params[valStart:valEnd], isSecret(keyword))
		if err != nil {
			return nil, err
		}
		// JDBC compatibility.
		if keyword == "ssl" && value == "true" {
			keyword, value = "sslmode", "require"
		}
		keyword, value = translateRequireSSL(keyword, value)
		if _, ok := LookupKeyword(keyword); !ok {
			if afterSecret != "" {
				return nil, errorf("invalid URI query parameter: \"%s\" (after %s=, whose value may hold an unencoded \"&\": write it as %%26)", redactedText, afterSecret)
			}
			return nil, errorf("invalid URI query parameter: \"%s\"", keyword)
		}
		out = append(out, param{keyword, value, originURIParam})
		afterSecret = ""
		if isSecret(keyword) {
			afterSecret = keyword
		}
		i = p
	}
	return out, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// uriDecode is libpq's conninfo_uri_decode (PostgreSQL 17+): leading and
// trailing spaces are dropped, an interior space is an error, %XX is decoded
// and %00 is forbidden; '+' is not a space. The messages quote the raw
// component, or **** when it is a secret.
func uriDecode(str string, secret bool) (string, *Error) {
	shown := str
	if secret {
		shown = redactedText
	}
	n := len(str)
	q := 0
	for q < n && str[q] == ' ' {
		q++
	}
	var b strings.Builder
	for q < n && str[q] != ' ' {
		if str[q] != '%' {
			b.WriteByte(str[q])
			q++
			continue
		}
		q++
		var hi, lo byte
		ok := q < n
		if ok {
			hi, ok = hexDigit(str[q])
		}
		q++
		if ok {
			ok = q < n
			if ok {
				lo, ok = hexDigit(str[q])
			}
			q++
		}
		if !ok {
			return "", errorf("invalid percent-encoded token: \"%s\"", shown)
		}
		c := hi<<4 | lo
		if c == 0 {
			return "", errorf("forbidden value %%00 in percent-encoded value: \"%s\"", shown)
		}
		b.WriteByte(c)
	}
	for q < n && str[q] == ' ' {
		q++
	}
	if q < n {
		return "", errorf("unexpected spaces found in \"%s\", use percent-encoded spaces (%%20) instead", shown)
	}
	return b.String(), nil
}
