package conninfo

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// passwordFromFile is libpq's passwordFromFile: the first line of the
// password file whose host, port, database and user fields match ('*'
// matches anything; backslash escapes ':' and '\'; lines starting with '#'
// are comments). "localhost" matches an empty host and the default socket
// directory; an empty port means 5432. The file is ignored, with libpq's
// WARNING text returned, when it is not a plain file or is group or world
// accessible; a file that cannot be opened is silently ignored.
func passwordFromFile(host, port, dbname, user, file string) (Value, string) {
	if dbname == "" || user == "" {
		return Value{}, ""
	}
	if host == "" {
		host = "localhost"
	} else if isUnixSockPath(host) && host == DefaultSocketDir() {
		host = "localhost"
	}
	if port == "" {
		port = "5432"
	}
	f, err := os.Open(file)
	if err != nil {
		return Value{}, ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Value{}, ""
	}
	if !st.Mode().IsRegular() {
		return Value{}, fmt.Sprintf("WARNING: password file \"%s\" is not a plain file", file)
	}
	if checkFileModes && st.Mode().Perm()&0o077 != 0 {
		return Value{}, fmt.Sprintf("WARNING: password file \"%s\" has group or world access; permissions should be u=rw (0600) or less", file)
	}
	r := bufio.NewReader(f)
	for linenr := 1; ; linenr++ {
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		if pw, ok := matchPgpassLine(line, host, port, dbname, user); ok {
			return Value{Value: pw, Source: SourcePgpass, Origin: fmt.Sprintf("%s:%d", file, linenr)}, ""
		}
		if err != nil {
			break
		}
	}
	return Value{}, ""
}

// matchPgpassLine matches one line of the password file and returns its
// de-escaped password field.
func matchPgpassLine(line, host, port, dbname, user string) (string, bool) {
	line = cString(line)
	if strings.HasPrefix(line, "#") {
		return "", false
	}
	line = strings.TrimRight(line, "\r\n") // pg_strip_crlf
	if line == "" {
		return "", false
	}
	t, ok := line, true
	for _, tok := range []string{host, port, dbname, user} {
		if t, ok = pgpassField(t, tok); !ok {
			return "", false
		}
	}
	var b strings.Builder
	for i := 0; i < len(t) && t[i] != ':'; i++ {
		if t[i] == '\\' && i+1 < len(t) {
			i++
		}
		b.WriteByte(t[i])
	}
	return b.String(), true
}

// pgpassField is libpq's pwdfMatchesString: if the field at the start of
// buf matches token, it returns the rest of buf after the field's ':'.
func pgpassField(buf, token string) (string, bool) {
	if strings.HasPrefix(buf, "*:") {
		return buf[2:], true
	}
	i, j := 0, 0
	bslash := false
	for i < len(buf) {
		if buf[i] == '\\' && !bslash {
			i++
			bslash = true
			if i >= len(buf) {
				return "", false
			}
		}
		if buf[i] == ':' && j == len(token) && !bslash {
			return buf[i+1:], true
		}
		bslash = false
		if j == len(token) {
			return "", false
		}
		if buf[i] != token[j] {
			return "", false
		}
		i++
		j++
	}
	return "", false
}
