package conninfo

import (
	"os"
	"os/user"
	"sort"
	"sync"
)

// Input is everything libpq would look at.
type Input struct {
	// Target is the positional argument as psql takes it: a key=value
	// conninfo, a postgresql:// or postgres:// URI, or else a plain database
	// name. psql passes it as an expanded dbname after its -h/-p/-U flags,
	// so what it sets overrides the flags. When Target is empty and
	// Flags["dbname"] is itself a connection string, that is expanded the
	// same way (psql -d "host=…"), with Source flag.
	Target string
	// Flags maps keyword -> value from command-line flags (-h host, -p port,
	// -U user, -d dbname, -W's prompted password as "password"). Empty
	// values are ignored, as PQconnectdbParams ignores them.
	Flags map[string]string
	// FlagOrigin maps keyword -> flag name ("-h") for Value.Origin; may be nil.
	FlagOrigin map[string]string
	// Getenv reads the environment; nil means os.LookupEnv. A variable that
	// is set but empty counts as set, as libpq's getenv() != NULL test does.
	Getenv func(string) (string, bool)
	// HomeDir is the home directory; "" means $HOME (through Getenv), else
	// the password database's entry, as pqGetHomeDirectory does.
	HomeDir string
	// OSUser is the OS user name; "" means the current user.
	OSUser string
}

// KeywordValue is one row of Settings.All.
type KeywordValue struct {
	Keyword
	Value
	Set bool // a value was set or defaulted
}

// Settings holds a value for every keyword that has one (set, or
// defaulted). It is safe for concurrent use.
type Settings struct {
	mu        sync.Mutex
	vals      map[string]Value
	warnings  []string
	getenv    func(string) (string, bool)
	home      string
	osUser    string
	osUserErr string
}

// Get returns the keyword's value, "" when unset.
func (s *Settings) Get(keyword string) string {
	v, _ := s.Lookup(keyword)
	return v.Value
}

// Lookup returns the keyword's value and whether it has one.
func (s *Settings) Lookup(keyword string) (Value, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[keyword]
	return v, ok
}

// Set stores a value (for example a prompted password). Setting password
// with a Source other than pgpass makes it the password of every host.
func (s *Settings) Set(keyword string, v Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[keyword] = v
}

// All returns every keyword in Keywords order with its value.
func (s *Settings) All() []KeywordValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]KeywordValue, 0, len(Keywords))
	for _, k := range Keywords {
		v, ok := s.vals[k.Name]
		out = append(out, KeywordValue{Keyword: k, Value: v, Set: ok})
	}
	return out
}

// Warnings returns what libpq would print on stderr while reading the
// settings (the password file's WARNING lines), each once, in order.
func (s *Settings) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.warnings...)
}

func (s *Settings) warn(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.warnings {
		if w == msg {
			return
		}
	}
	s.warnings = append(s.warnings, msg)
}

func (s *Settings) has(keyword string) bool {
	_, ok := s.vals[keyword]
	return ok
}

// Resolve gathers the settings as libpq's PQconnectdbParams (with
// expand_dbname, as psql calls it) followed by pqConnectOptions2 would:
//
//  1. the Target (key=value, URI or plain dbname) — highest precedence;
//  2. Flags;
//  3. the service file entries of service= / PGSERVICE (never overriding
//     1–2);
//  4. environment variables (set-but-empty counts as set);
//  5. compiled-in defaults, the OS user for user, and sslmode=verify-full
//     instead of prefer when sslrootcert=system and no sslmode was given;
//  6. pqConnectOptions2's derived values and checks, in its order: host /
//     hostaddr / port counts, user, dbname = user, the password file,
//     require_auth, channel_binding, sslmode, sslnegotiation,
//     sslrootcert=system, ssl_{min,max}_protocol_version and their range,
//     sslcertmode, gssencmode, target_session_attrs, scram keys,
//     load_balance_hosts, {min,max}_protocol_version; then (pgprobe, see
//     validate.go) the integer options.
//
// Errors are *Error worded as libpq words them, never containing a secret.
func Resolve(in Input) (*Settings, error) {
	s := &Settings{vals: map[string]Value{}, getenv: in.Getenv}
	if s.getenv == nil {
		s.getenv = os.LookupEnv
	}
	s.home = in.HomeDir
	if s.home == "" {
		s.home = HomeDir(s.getenv)
	}
	s.osUser = in.OSUser

	// libpq sees C strings: anything after a NUL byte is not there.
	flags := make(map[string]string, len(in.Flags))
	for k, v := range in.Flags {
		flags[k] = cString(v)
	}
	flagOrigin := func(k string) string {
		if o := in.FlagOrigin[k]; o != "" {
			return o
		}
		return k
	}

	// 1. The target, as psql's expanded dbname.
	if err := s.applyTarget(cString(in.Target), flags, flagOrigin); err != nil {
		return nil, err
	}
	// 2. Flags, below the target.
	if err := s.applyFlags(flags, flagOrigin); err != nil {
		return nil, err
	}
	// 3. The service file.
	if err := s.applyService(); err != nil {
		return nil, err
	}
	// 4 and 5. Environment and compiled-in defaults.
	s.addDefaults()
	// 6. pqConnectOptions2.
	if err := s.connectOptions2(); err != nil {
		return nil, err
	}
	return s, nil
}

// applyTarget stores the target as psql's expanded dbname does: a connection
// string's keywords, or a plain database name. With no target, a dbname flag
// that is itself a connection string is expanded instead (and removed from
// flags).
func (s *Settings) applyTarget(target string, flags map[string]string, flagOrigin func(string) string) *Error {
	src, plainOrigin := SourceConninfo, originDBName
	if target == "" {
		if d := flags["dbname"]; d != "" && IsConnString(d) {
			target, src, plainOrigin = d, SourceFlag, flagOrigin("dbname")
			delete(flags, "dbname")
		}
	}
	if target == "" {
		return nil
	}
	if !IsConnString(target) {
		s.vals["dbname"] = Value{Value: target, Source: src, Origin: plainOrigin}
		return nil
	}
	params, err := parseConnString(target)
	if err != nil {
		return err
	}
	for _, p := range params {
		origin := p.origin
		if src == SourceFlag {
			origin = plainOrigin + " " + p.origin
		}
		s.vals[p.keyword] = Value{Value: p.value, Source: src, Origin: origin}
	}
	return nil
}

// applyFlags stores the non-empty flags the target did not set, in
// flagRank order, rejecting an unknown keyword as PQconnectdbParams does.
func (s *Settings) applyFlags(flags map[string]string, flagOrigin func(string) string) *Error {
	names := make([]string, 0, len(flags))
	for k := range flags {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return flagRank(names[i]) < flagRank(names[j]) })
	for _, k := range names {
		v := flags[k]
		if v == "" {
			continue
		}
		if _, ok := LookupKeyword(k); !ok {
			return errorf("invalid connection option \"%s\"", k)
		}
		if s.has(k) {
			continue
		}
		s.vals[k] = Value{Value: v, Source: SourceFlag, Origin: flagOrigin(k)}
	}
	return nil
}

// addDefaults is conninfo_add_defaults: each keyword still unset takes its
// environment variable, else its compiled-in default, else (user) the OS
// user; sslmode defaults to verify-full instead of prefer when
// sslrootcert=system.
func (s *Settings) addDefaults() {
	sslmodeDefaulted := false
	for _, k := range Keywords {
		if s.has(k.Name) {
			continue
		}
		if k.EnvVar != "" {
			if v, ok := s.getenv(k.EnvVar); ok {
				s.vals[k.Name] = Value{Value: v, Source: SourceEnv, Origin: k.EnvVar}
				continue
			}
		}
		if k.Name == "sslmode" {
			// The deprecated PGREQUIRESSL: a value starting with "1" means
			// require; PGSSLMODE wins over it.
			if v, ok := s.getenv("PGREQUIRESSL"); ok && len(v) > 0 && v[0] == '1' {
				s.vals[k.Name] = Value{Value: "require", Source: SourceEnv, Origin: "PGREQUIRESSL"}
				continue
			}
			sslmodeDefaulted = true
		}
		if compiledDefaults[k.Name] {
			s.vals[k.Name] = Value{Value: k.Default, Source: SourceDefault}
			continue
		}
		if k.Name == "user" && s.lookupOSUser() != "" {
			s.vals[k.Name] = Value{Value: s.osUser, Source: SourceDefault, Origin: "OS user"}
		}
	}
	if sslmodeDefaulted && s.vals["sslrootcert"].Value == "system" {
		s.vals["sslmode"] = Value{Value: "verify-full", Source: SourceDefault, Origin: "sslrootcert=system"}
	}
}

// flagRank orders flags as psql passes them (host, port, user, password,
// dbname, …) so that the first invalid one is reported deterministically.
func flagRank(k string) string {
	order := map[string]string{"host": "0", "port": "1", "user": "2", "password": "3", "dbname": "4"}
	if r, ok := order[k]; ok {
		return r
	}
	return "9" + k
}

// defaultPassfile is ~/.pgpass (%APPDATA%/postgresql/pgpass.conf on
// Windows), or "" when there is no home directory.
func (s *Settings) defaultPassfile() string {
	if s.home == "" {
		return ""
	}
	return s.home + "/" + passfileName // snprintf("%s/%s"), as libpq builds it
}

// lookupOSUser returns the OS user name, looked up only when a default user
// is needed, as libpq does: the lookup reads nsswitch.conf and /etc/passwd.
func (s *Settings) lookupOSUser() string {
	if s.osUser == "" && s.osUserErr == "" {
		if u, err := user.Current(); err == nil {
			s.osUser = u.Username
		} else {
			s.osUserErr = err.Error()
		}
	}
	return s.osUser
}
