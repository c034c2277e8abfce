package conninfo

import (
	"fmt"
	"os"
	"strings"
)

// SysConfDir is the SYSCONFDIR the installed libpq was compiled with
// (Debian's; `pg_config --sysconfdir`). $PGSYSCONFDIR overrides it.
const SysConfDir = "/etc/postgresql-common"

// serviceLineMax is the size of libpq's fgets buffer in parseServiceFile:
// a line (with its newline) of serviceLineMax-1 bytes or more is an error.
const serviceLineMax = 1024

// applyService is libpq's parseServiceInfo: the service named by service=
// (or $PGSERVICE) is looked up first in servicefile= / $PGSERVICEFILE /
// ~/.pg_service.conf (the last only if it exists), then in
// $PGSYSCONFDIR/pg_service.conf (if it exists). Its entries fill in the
// keywords not already set; each records FILE:LINE as its Origin.
func (s *Settings) applyService() *Error {
	var service string
	if v, ok := s.vals["service"]; ok {
		service = v.Value
	} else if v, ok := s.getenv("PGSERVICE"); ok {
		service = v
	} else {
		return nil
	}

	file, haveFile := "", false
	if v, ok := s.vals["servicefile"]; ok {
		file, haveFile = v.Value, true
	} else if v, ok := s.getenv("PGSERVICEFILE"); ok {
		file, haveFile = v, true
	} else if s.home != "" {
		candidate := s.home + "/.pg_service.conf"
		if _, err := os.Stat(candidate); err == nil {
			file, haveFile = candidate, true
		}
	}
	if haveFile {
		found, err := s.parseServiceFile(file, service)
		if err != nil || found {
			return err
		}
	}

	dir := SysConfDir
	if v, ok := s.getenv("PGSYSCONFDIR"); ok {
		dir = v
	}
	file = dir + "/pg_service.conf"
	found := false
	if _, err := os.Stat(file); err == nil {
		var perr *Error
		if found, perr = s.parseServiceFile(file, service); perr != nil {
			return perr
		}
	}
	if !found {
		return errorf("definition of service \"%s\" not found", service)
	}
	return nil
}

// parseServiceFile is libpq's parseServiceFile. It reports whether the
// service's group was found.
func (s *Settings) parseServiceFile(file, service string) (bool, *Error) {
	data, ok := readServiceFile(file)
	if !ok {
		return false, errorf("service file \"%s\" not found", file)
	}
	groupFound := false
	linenr := 0
	for len(data) > 0 {
		var raw string
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i+1], data[i+1:]
		} else {
			raw, data = data, ""
		}
		linenr++
		raw = cString(raw)
		if len(raw) >= serviceLineMax-1 {
			return false, errorf("line %d too long in service file \"%s\"", linenr, file)
		}
		line := trimCSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if groupFound {
				return true, nil // end of the wanted group
			}
			groupFound = strings.HasPrefix(line[1:], service) && len(line) > len(service)+1 && line[len(service)+1] == ']'
			continue
		}
		if !groupFound {
			continue
		}
		if strings.HasPrefix(line, "ldap") {
			// libpq (built with LDAP, as Debian's is) would look the
			// service up in LDAP here; when it cannot reach the server it
			// reads on for fallback lines, which is what pgprobe does.
			s.warnings = append(s.warnings, fmt.Sprintf("LDAP service lookup is not supported; skipped line %d of service file \"%s\"", linenr, file))
			continue
		}
		key, val, hasEq := strings.Cut(line, "=")
		if !hasEq {
			return false, errorf("syntax error in service file \"%s\", line %d", file, linenr)
		}
		switch key {
		case "service":
			return false, errorf("nested service specifications not supported in service file \"%s\", line %d", file, linenr)
		case "servicefile":
			return false, errorf("nested servicefile specifications not supported in service file \"%s\", line %d", file, linenr)
		}
		if _, ok := LookupKeyword(key); !ok {
			return false, errorf("syntax error in service file \"%s\", line %d", file, linenr)
		}
		if !s.has(key) {
			s.vals[key] = Value{Value: val, Source: SourceService, Origin: fmt.Sprintf("%s:%d", file, linenr)}
		}
	}
	return groupFound, nil
}

// readServiceFile reads what fopen/fgets would: a directory opens but
// reads as empty; a file that cannot be opened is reported as not found.
func readServiceFile(file string) (string, bool) {
	f, err := os.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", true
	}
	var b strings.Builder
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String(), true
}

// trimCSpace trims C-locale isspace characters from both ends.
func trimCSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}
