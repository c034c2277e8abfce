package scan

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// target is the server a scan looks at, resolved once from the command
// line, and what every probe of it carries.
type target struct {
	host     string // the host name as given (the name check and SNI use it)
	addr     string // host:port to dial
	port     int
	user     string // the target's user
	dbname   string // the target's dbname as set ("" when libpq derives it from the user)
	home     string
	rootFile string // sslrootcert, or the default ~/.postgresql/root.crt when it exists; "" for neither
	// carried are the settings every probe keeps (client certificate,
	// CRL, application_name, …), as key=value conninfo words.
	carried []string
}

// dropped are the settings each probe of the scan sets itself, or must
// never carry: secrets (no password is ever sent), and what decides
// encryption, authentication and the protocol.
var dropped = map[string]bool{
	"user": true, "password": true, "passfile": true, "service": true, "servicefile": true,
	"sslmode": true, "sslnegotiation": true, "gssencmode": true, "sslrootcert": true,
	"ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"min_protocol_version": true, "max_protocol_version": true,
	"channel_binding": true, "require_auth": true, "target_session_attrs": true,
	"load_balance_hosts": true, "sslkeylogfile": true, "replication": true,
}

// resolve reads the target as libpq would and checks that it names one
// server over TCP.
func resolve(in conninfo.Input) (*target, error) {
	s, err := conninfo.Resolve(in)
	if err != nil {
		return nil, err
	}
	hosts, err := s.Hosts()
	if err != nil {
		return nil, err
	}
	if len(hosts) != 1 {
		return nil, fmt.Errorf("scan looks at one server: the target names %d hosts (give one host)", len(hosts))
	}
	h := hosts[0]
	if h.Type == conninfo.UnixSocket {
		return nil, fmt.Errorf("scan looks at what a server accepts over the network, and %q is a Unix-socket directory: give a host name or address (-h)", h.Host)
	}
	port, err := conninfo.ParsePort(h.Port)
	if err != nil {
		return nil, err
	}
	t := &target{host: h.Host, port: port, user: s.Get("user"), home: in.HomeDir}
	if t.home == "" {
		getenv := in.Getenv
		if getenv == nil {
			getenv = os.LookupEnv
		}
		t.home = conninfo.HomeDir(getenv)
	}
	dial := h.HostAddr
	if dial == "" {
		dial = h.Host
	}
	t.addr = net.JoinHostPort(dial, strconv.Itoa(port))
	if t.host == "" {
		t.host = h.HostAddr
	}
	if v, ok := s.Lookup("dbname"); ok && v.Source != conninfo.SourceDefault {
		t.dbname = v.Value
	}
	t.rootFile = s.Get("sslrootcert")
	if t.rootFile == "" && t.home != "" {
		def := filepath.Join(t.home, conninfo.UserTLSDir, "root.crt")
		if _, err := os.Stat(def); err == nil {
			t.rootFile = def
		}
	}
	for _, kv := range s.All() {
		if !kv.Set || kv.Source == conninfo.SourceDefault || kv.Keyword.Secret || dropped[kv.Keyword.Name] {
			continue
		}
		t.carried = append(t.carried, kv.Keyword.Name+"="+quote(kv.Value.Value))
	}
	sort.Strings(t.carried)
	return t, nil
}

// input is the probe input for user with the scan's own settings: the
// carried ones, then over (keyword → value). The environment is not read
// again: what it set is carried already.
func (t *target) input(user string, over map[string]string) conninfo.Input {
	words := append([]string{}, t.carried...)
	words = append(words, "user="+quote(user))
	keys := make([]string, 0, len(over))
	for k := range over {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		words = append(words, k+"="+quote(over[k]))
	}
	return conninfo.Input{Target: strings.Join(words, " "), HomeDir: t.home,
		Getenv: func(string) (string, bool) { return "", false }}
}

// quote is a conninfo value in single quotes.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// errUsage marks an error in the target's settings (exit 3).
var errUsage = errors.New("usage")
