package conninfo

import "strings"

// Redact returns target with every secret replaced by ****: in a key=value
// string the values of password, sslpassword, scram_client_key,
// scram_server_key and oauth_client_secret; in a URI the password of
// user:password@ and those keywords' query parameters. A plain database name
// is returned unchanged. Redact never fails; on malformed input it errs on
// the side of hiding more:
//   - in a URI, the credentials end at libpq's '@' (the first one before any
//     '/') or at the last '@' before the query, whichever is later, so that a
//     password holding an unencoded '/' or '@' is still hidden;
//   - in key=value form, words without "=", or with an unknown keyword,
//     that follow an unquoted secret (password=two words) are taken to be
//     the rest of that secret, and an unterminated quoted secret is hidden
//     to the end;
//   - in a URI's query, an item without "=" or with an unknown keyword
//     after a secret parameter is taken to be the rest of its value (an
//     unencoded '&').
func Redact(target string) string {
	switch {
	case uriPrefixLength(target) != 0:
		return redactURI(target)
	case strings.IndexByte(target, '=') >= 0:
		return redactKeyValue(target)
	}
	return target
}

func redactURI(uri string) string {
	start := uriPrefixLength(uri)
	rest := uri[start:]

	end := -1
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		end = i
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		q = len(rest)
	}
	if i := strings.LastIndexByte(rest[:q], '@'); i > end {
		end = i
	}

	var b strings.Builder
	b.WriteString(uri[:start])
	tail := rest
	if end >= 0 {
		userinfo := rest[:end]
		if c := strings.IndexByte(userinfo, ':'); c >= 0 && c+1 < len(userinfo) {
			b.WriteString(userinfo[:c+1])
			b.WriteString(redactedText)
		} else {
			b.WriteString(userinfo)
		}
		b.WriteByte('@')
		tail = rest[end+1:]
	}
	qi := strings.IndexByte(tail, '?')
	if qi < 0 {
		b.WriteString(tail)
		return b.String()
	}
	b.WriteString(tail[:qi+1])
	afterSecret := false
	for i, prm := range strings.Split(tail[qi+1:], "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasEq := strings.Cut(prm, "=")
		key := lenientDecode(k)
		if afterSecret && (!hasEq || !isKeyword(key) && key != "ssl") {
			// The rest of a secret with an unencoded '&', most likely.
			b.WriteString(redactedText)
			continue
		}
		afterSecret = false
		if hasEq && v != "" && isSecret(key) {
			b.WriteString(k)
			b.WriteString("=" + redactedText)
			afterSecret = true
			continue
		}
		b.WriteString(prm)
	}
	return b.String()
}

// lenientDecode decodes what uriDecode would and passes anything else
// through unchanged.
func lenientDecode(s string) string {
	s = strings.Trim(s, " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := hexDigit(s[i+1])
			lo, ok2 := hexDigit(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func redactKeyValue(s string) string {
	var b strings.Builder
	n := len(s)
	i, last := 0, 0
	hide := func(from, to int) {
		if from >= to {
			return
		}
		b.WriteString(s[last:from])
		b.WriteString(redactedText)
		last = to
	}
	afterUnquotedSecret := false
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
		j := i
		for j < n && isSpace(s[j]) {
			j++
		}
		if j >= n || s[j] != '=' {
			// libpq stops here with "missing "=""; this word is most
			// likely the rest of an unquoted secret.
			if afterUnquotedSecret {
				hide(start, i)
			}
			i = j
			continue
		}
		i = j + 1
		for i < n && isSpace(s[i]) {
			i++
		}
		vs := i
		quoted := i < n && s[i] == '\''
		if quoted {
			i++
			for i < n && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i < n {
				i++ // closing quote
			}
		} else {
			for i < n && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		if i > n {
			i = n
		}
		if kw, _ := translateRequireSSL(name, ""); afterUnquotedSecret && !isKeyword(kw) {
			// "password=abc def=ghi": the rest of the password, most
			// likely, as parseKeyValue also assumes.
			hide(start, i)
			continue
		}
		secret := isSecret(name)
		if secret {
			hide(vs, i)
		}
		afterUnquotedSecret = secret && !quoted
	}
	b.WriteString(s[last:])
	return b.String()
}
