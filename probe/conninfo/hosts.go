package conninfo

import "strings"

// Host is one slot of the host list after libpq's count rules
// (pqConnectOptions2).
type Host struct {
	// Host is the host element as given: a name, an IP, or a Unix socket
	// directory; DefaultSocketDir() when neither host nor hostaddr gave one;
	// "" when only hostaddr was given.
	Host string
	// HostAddr is the hostaddr element, or "".
	HostAddr string
	// Port is the port element as given; "" means 5432. The caller validates
	// it with ParsePort when it gets to this host, as libpq does.
	Port string
	Type HostType
	// Password is the password setting if one was given, else the matching
	// password file line (Source pgpass, Origin "FILE:LINE"); the zero Value
	// if none.
	Password Value
}

// DefaultPort is libpq's DEF_PGPORT.
const DefaultPort = 5432

// countElems is count_comma_separated_elems.
func countElems(s string) int { return strings.Count(s, ",") + 1 }

// hostSlots applies pqConnectOptions2's rules to host, hostaddr and port.
func hostSlots(host, hostaddr, port string) ([]Host, *Error) {
	n := 1
	switch {
	case hostaddr != "":
		n = countElems(hostaddr)
	case host != "":
		n = countElems(host)
	}
	slots := make([]Host, n)
	if hostaddr != "" {
		for i, a := range strings.Split(hostaddr, ",") {
			slots[i].HostAddr = a
		}
	}
	if host != "" {
		hosts := strings.Split(host, ",")
		if len(hosts) != n {
			return nil, errorf("could not match %d host names to %d hostaddr values", len(hosts), n)
		}
		for i, h := range hosts {
			slots[i].Host = h
		}
	}
	for i := range slots {
		h := &slots[i]
		switch {
		case h.HostAddr != "":
			h.Type = HostAddress
		case h.Host != "":
			h.Type = HostName
			if isUnixSockPath(h.Host) {
				h.Type = UnixSocket
			}
		case DefaultSocketDir() != "":
			h.Host = DefaultSocketDir()
			h.Type = UnixSocket
		default: // no DEFAULT_PGSOCKET_DIR (Windows): libpq's DefaultHost
			h.Host = "localhost"
			h.Type = HostName
		}
	}
	if port != "" {
		ports := strings.Split(port, ",")
		switch len(ports) {
		case 1:
			for i := range slots {
				slots[i].Port = ports[0]
			}
		case n:
			for i := range slots {
				slots[i].Port = ports[i]
			}
		default:
			return nil, errorf("could not match %d port numbers to %d hosts", len(ports), n)
		}
	}
	return slots, nil
}

// Hosts returns the host slots in the order given (load_balance_hosts=random
// shuffling is the caller's), each with its password: the password setting
// when one was given (non-empty, and not itself from the password file),
// else the password file's first matching line for that slot. Reading the
// password file may add to Warnings.
func (s *Settings) Hosts() ([]Host, error) {
	slots, err := hostSlots(s.Get("host"), s.Get("hostaddr"), s.Get("port"))
	if err != nil {
		return nil, err
	}
	pw, _ := s.Lookup("password")
	if pw.Value != "" && pw.Source != SourcePgpass {
		for i := range slots {
			slots[i].Password = pw
		}
		return slots, nil
	}
	file := s.Get("passfile")
	if file == "" {
		file = s.defaultPassfile()
	}
	if file == "" {
		return slots, nil
	}
	for i := range slots {
		pwhost := slots[i].Host
		if pwhost == "" {
			pwhost = slots[i].HostAddr
		}
		v, warning := passwordFromFile(pwhost, slots[i].Port, s.Get("dbname"), s.Get("user"), file)
		if warning != "" {
			s.warn(warning)
		}
		slots[i].Password = v
	}
	return slots, nil
}

// ParsePort checks one port element as libpq does when it gets to that host
// (PQconnectPoll, CONNECTION_NEEDED): "" means 5432; a value that is not an
// integer fails the whole connection (`invalid integer value "%s" for
// connection option "port"`); an integer outside 1–65535 fails only this
// host (`invalid port number: "%s"`, with Error.NextHost set).
func ParsePort(s string) (int, error) {
	if s == "" {
		return DefaultPort, nil
	}
	n, ok := parseIntParam(s)
	if !ok {
		return 0, errorf("invalid integer value \"%s\" for connection option \"port\"", s)
	}
	if n < 1 || n > 65535 {
		e := errorf("invalid port number: \"%s\"", s)
		e.NextHost = true
		return 0, e
	}
	return n, nil
}

// parseIntParam is libpq's pqParseIntParam: strtol in base 10 (leading
// whitespace and a sign allowed), the result must fit in a C int, and only
// whitespace may follow.
func parseIntParam(s string) (int, bool) {
	i, n := 0, len(s)
	for i < n && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < n && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v int64
	overflow := false
	for i < n && s[i] >= '0' && s[i] <= '9' {
		if v <= 1<<40 {
			v = v*10 + int64(s[i]-'0')
		} else {
			overflow = true
		}
		i++
	}
	if i == start {
		return 0, false // no digits: strtol made no progress
	}
	if neg {
		v = -v
	}
	if overflow || v > 1<<31-1 || v < -(1<<31) {
		return 0, false
	}
	for i < n && isSpace(s[i]) {
		i++
	}
	if i != n {
		return 0, false
	}
	return int(v), true
}
