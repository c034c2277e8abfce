package conninfo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// want is a keyword's expected value and where it came from; origin "-"
// means "don't check".
type want struct {
	value  string
	source Source
	origin string
}

func checkSettings(t *testing.T, s *Settings, wants map[string]want) {
	t.Helper()
	for k, w := range wants {
		v, ok := s.Lookup(k)
		if w.source == "" {
			if ok {
				t.Errorf("%s: got %+v, want unset", k, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: unset, want %+v", k, w)
			continue
		}
		if v.Value != w.value || v.Source != w.source || (w.origin != "-" && v.Origin != w.origin) {
			t.Errorf("%s: got {%q %s %q}, want {%q %s %q}", k, v.Value, v.Source, v.Origin, w.value, w.source, w.origin)
		}
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		target string
		flags  []string
		env    []string
		svc    string // contents of ~/.pg_service.conf
		want   map[string]want
	}{
		{
			name:   "target conninfo beats flags (psql -h nosuch \"host=127.0.0.1 port=1\")",
			target: "host=127.0.0.1 port=1",
			flags:  []string{"host", "nosuch", "port", "9"},
			want: map[string]want{
				"host": {"127.0.0.1", SourceConninfo, "connection string"},
				"port": {"1", SourceConninfo, "connection string"},
			},
		},
		{
			name:   "flags fill what the target does not set",
			target: "host=h",
			flags:  []string{"port", "7", "user", "bob"},
			want: map[string]want{
				"host":   {"h", SourceConninfo, "-"},
				"port":   {"7", SourceFlag, "-p"},
				"user":   {"bob", SourceFlag, "-U"},
				"dbname": {"bob", SourceDefault, "user"},
			},
		},
		{
			name:   "plain dbname target beats -d",
			target: "mydb",
			flags:  []string{"dbname", "other", "host", "h"},
			want: map[string]want{
				"dbname": {"mydb", SourceConninfo, "dbname argument"},
				"host":   {"h", SourceFlag, "-h"},
			},
		},
		{
			name:  "-d holding a connection string is expanded when there is no target",
			flags: []string{"dbname", "host=x port=3", "port", "4"},
			want: map[string]want{
				"host":   {"x", SourceFlag, "-d connection string"},
				"port":   {"3", SourceFlag, "-d connection string"},
				"dbname": {"alice", SourceDefault, "user"},
			},
		},
		{
			name:   "URI beats flags and env; query beats authority",
			target: "postgresql://u@h:1/db?port=2",
			flags:  []string{"port", "3"},
			env:    []string{"PGPORT", "4", "PGUSER", "envuser"},
			want: map[string]want{
				"user":   {"u", SourceConninfo, "URI"},
				"host":   {"h", SourceConninfo, "URI"},
				"port":   {"2", SourceConninfo, "URI query parameter"},
				"dbname": {"db", SourceConninfo, "URI"},
			},
		},
		{
			name:   "URI without dbname leaves PGDATABASE in force",
			target: "postgresql://h/",
			env:    []string{"PGDATABASE", "envdb"},
			want:   map[string]want{"dbname": {"envdb", SourceEnv, "PGDATABASE"}},
		},
		{
			name:   "flags beat env",
			target: "",
			flags:  []string{"host", "fh"},
			env:    []string{"PGHOST", "eh", "PGPORT", "5"},
			want: map[string]want{
				"host": {"fh", SourceFlag, "-h"},
				"port": {"5", SourceEnv, "PGPORT"},
			},
		},
		{
			name:   "service beats env, loses to target and flags",
			target: "service=s1 port=9",
			flags:  []string{"user", "flaguser"},
			env:    []string{"PGHOST", "envhost", "PGAPPNAME", "envapp"},
			svc:    "[s1]\nhost=svchost\nport=8\nuser=svcuser\ndbname=svcdb\n",
			want: map[string]want{
				"host":             {"svchost", SourceService, "HOME/.pg_service.conf:2"},
				"port":             {"9", SourceConninfo, "-"},
				"user":             {"flaguser", SourceFlag, "-"},
				"dbname":           {"svcdb", SourceService, "HOME/.pg_service.conf:5"},
				"application_name": {"envapp", SourceEnv, "PGAPPNAME"},
				"service":          {"s1", SourceConninfo, "-"},
			},
		},
		{
			name: "PGSERVICE names the service",
			env:  []string{"PGSERVICE", "s1"},
			svc:  "[s1]\nport=8\n",
			want: map[string]want{
				"port":    {"8", SourceService, "-"},
				"service": {"s1", SourceEnv, "PGSERVICE"},
			},
		},
		{
			name: "compiled defaults",
			want: map[string]want{
				"port":                     {"5432", SourceDefault, ""},
				"user":                     {"alice", SourceDefault, "OS user"},
				"dbname":                   {"alice", SourceDefault, "user"},
				"sslmode":                  {"prefer", SourceDefault, ""},
				"sslnegotiation":           {"postgres", SourceDefault, ""},
				"gssencmode":               {"prefer", SourceDefault, ""},
				"channel_binding":          {"prefer", SourceDefault, ""},
				"sslcertmode":              {"allow", SourceDefault, ""},
				"ssl_min_protocol_version": {"TLSv1.2", SourceDefault, ""},
				"target_session_attrs":     {"any", SourceDefault, ""},
				"load_balance_hosts":       {"disable", SourceDefault, ""},
				"krbsrvname":               {"postgres", SourceDefault, ""},
				"sslsni":                   {"1", SourceDefault, ""},
				"sslcompression":           {"0", SourceDefault, ""},
				"gssdelegation":            {"0", SourceDefault, ""},
				"options":                  {"", SourceDefault, ""},
				"passfile":                 {"HOME/.pgpass", SourceDefault, "home directory"},
				"host":                     {},
				"hostaddr":                 {},
				"password":                 {},
				"connect_timeout":          {},
				"ssl_max_protocol_version": {},
				"sslrootcert":              {},
				"service":                  {},
			},
		},
		{
			name: "set-but-empty env vars count as set",
			env:  []string{"PGHOST", "", "PGPORT", "", "PGUSER", "", "PGDATABASE", "", "PGAPPNAME", ""},
			want: map[string]want{
				"host":             {"", SourceEnv, "PGHOST"},
				"port":             {"", SourceEnv, "PGPORT"},
				"user":             {"alice", SourceDefault, "OS user"},
				"dbname":           {"alice", SourceDefault, "user"},
				"application_name": {"", SourceEnv, "PGAPPNAME"},
			},
		},
		{
			name:   "an empty value in the target is set and hides the env var",
			target: "host= port=''",
			env:    []string{"PGHOST", "eh"},
			want:   map[string]want{"host": {"port=''", SourceConninfo, "-"}},
		},
		{
			name:   "empty flags are ignored",
			target: "",
			flags:  []string{"host", "", "port", ""},
			env:    []string{"PGHOST", "eh"},
			want: map[string]want{
				"host": {"eh", SourceEnv, "PGHOST"},
				"port": {"5432", SourceDefault, ""},
			},
		},
		{
			name: "PGREQUIRESSL=1 means sslmode=require",
			env:  []string{"PGREQUIRESSL", "1"},
			want: map[string]want{"sslmode": {"require", SourceEnv, "PGREQUIRESSL"}},
		},
		{
			name: "PGREQUIRESSL other values are ignored",
			env:  []string{"PGREQUIRESSL", "0"},
			want: map[string]want{"sslmode": {"prefer", SourceDefault, ""}},
		},
		{
			name: "PGSSLMODE beats PGREQUIRESSL",
			env:  []string{"PGREQUIRESSL", "1", "PGSSLMODE", "disable"},
			want: map[string]want{"sslmode": {"disable", SourceEnv, "PGSSLMODE"}},
		},
		{
			name:   "requiressl in the target",
			target: "requiressl=1",
			want:   map[string]want{"sslmode": {"require", SourceConninfo, "-"}},
		},
		{
			name: "sslrootcert=system upgrades the default sslmode",
			env:  []string{"PGSSLROOTCERT", "system"},
			want: map[string]want{
				"sslmode":     {"verify-full", SourceDefault, "sslrootcert=system"},
				"sslrootcert": {"system", SourceEnv, "PGSSLROOTCERT"},
			},
		},
		{
			name:   "sslrootcert=system in the target, sslmode explicit",
			target: "sslrootcert=system sslmode=verify-full",
			want:   map[string]want{"sslmode": {"verify-full", SourceConninfo, "-"}},
		},
		{
			name: "every env var of the table",
			env: []string{"PGCHANNELBINDING", "require", "PGCONNECT_TIMEOUT", "10", "PGHOSTADDR", "127.0.0.1",
				"PGCLIENTENCODING", "UTF8", "PGOPTIONS", "-c x=y", "PGSSLNEGOTIATION", "direct", "PGSSLMODE", "require",
				"PGSSLCOMPRESSION", "1", "PGSSLCERT", "/c", "PGSSLKEY", "/k", "PGSSLCERTMODE", "require",
				"PGSSLCRL", "/crl", "PGSSLCRLDIR", "/crld", "PGSSLSNI", "0", "PGREQUIREPEER", "postgres",
				"PGREQUIREAUTH", "scram-sha-256", "PGMINPROTOCOLVERSION", "3.0", "PGMAXPROTOCOLVERSION", "latest",
				"PGSSLMINPROTOCOLVERSION", "TLSv1.3", "PGSSLMAXPROTOCOLVERSION", "TLSv1.3", "PGGSSENCMODE", "disable",
				"PGKRBSRVNAME", "k", "PGGSSLIB", "gssapi", "PGGSSDELEGATION", "1", "PGTARGETSESSIONATTRS", "read-write",
				"PGLOADBALANCEHOSTS", "random", "PGPASSWORD", "pw", "PGPASSFILE", "/pf", "PGSERVICEFILE", "/sf"},
			want: map[string]want{
				"channel_binding":          {"require", SourceEnv, "PGCHANNELBINDING"},
				"connect_timeout":          {"10", SourceEnv, "PGCONNECT_TIMEOUT"},
				"hostaddr":                 {"127.0.0.1", SourceEnv, "PGHOSTADDR"},
				"client_encoding":          {"UTF8", SourceEnv, "PGCLIENTENCODING"},
				"options":                  {"-c x=y", SourceEnv, "PGOPTIONS"},
				"sslnegotiation":           {"direct", SourceEnv, "PGSSLNEGOTIATION"},
				"sslcompression":           {"1", SourceEnv, "PGSSLCOMPRESSION"},
				"sslcert":                  {"/c", SourceEnv, "PGSSLCERT"},
				"sslkey":                   {"/k", SourceEnv, "PGSSLKEY"},
				"sslcertmode":              {"require", SourceEnv, "PGSSLCERTMODE"},
				"sslcrl":                   {"/crl", SourceEnv, "PGSSLCRL"},
				"sslcrldir":                {"/crld", SourceEnv, "PGSSLCRLDIR"},
				"sslsni":                   {"0", SourceEnv, "PGSSLSNI"},
				"requirepeer":              {"postgres", SourceEnv, "PGREQUIREPEER"},
				"require_auth":             {"scram-sha-256", SourceEnv, "PGREQUIREAUTH"},
				"min_protocol_version":     {"3.0", SourceEnv, "PGMINPROTOCOLVERSION"},
				"max_protocol_version":     {"latest", SourceEnv, "PGMAXPROTOCOLVERSION"},
				"ssl_min_protocol_version": {"TLSv1.3", SourceEnv, "PGSSLMINPROTOCOLVERSION"},
				"ssl_max_protocol_version": {"TLSv1.3", SourceEnv, "PGSSLMAXPROTOCOLVERSION"},
				"gssencmode":               {"disable", SourceEnv, "PGGSSENCMODE"},
				"krbsrvname":               {"k", SourceEnv, "PGKRBSRVNAME"},
				"gsslib":                   {"gssapi", SourceEnv, "PGGSSLIB"},
				"gssdelegation":            {"1", SourceEnv, "PGGSSDELEGATION"},
				"target_session_attrs":     {"read-write", SourceEnv, "PGTARGETSESSIONATTRS"},
				"load_balance_hosts":       {"random", SourceEnv, "PGLOADBALANCEHOSTS"},
				"password":                 {"pw", SourceEnv, "PGPASSWORD"},
				"passfile":                 {"/pf", SourceEnv, "PGPASSFILE"},
				"servicefile":              {"/sf", SourceEnv, "PGSERVICEFILE"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t).set(tt.env...)
			if tt.svc != "" {
				env.write(".pg_service.conf", tt.svc, 0o644)
			}
			in := env.input(tt.target, tt.flags...)
			in.FlagOrigin = map[string]string{"host": "-h", "port": "-p", "user": "-U", "dbname": "-d"}
			s, err := Resolve(in)
			if err != nil {
				t.Fatal(err)
			}
			wants := map[string]want{}
			for k, w := range tt.want {
				w.origin = strings.ReplaceAll(w.origin, "HOME", env.home)
				w.value = strings.ReplaceAll(w.value, "HOME", env.home)
				wants[k] = w
			}
			checkSettings(t, s, wants)
		})
	}
}

func TestSettingsAccessors(t *testing.T) {
	env := newTestEnv(t)
	s := env.mustResolve("host=h")
	all := s.All()
	if len(all) != len(Keywords) {
		t.Fatalf("All: %d rows, want %d", len(all), len(Keywords))
	}
	for i, kv := range all {
		if kv.Keyword.Name != Keywords[i].Name {
			t.Fatalf("All[%d] = %s, want %s", i, kv.Keyword.Name, Keywords[i].Name)
		}
		_, ok := s.Lookup(kv.Keyword.Name)
		if kv.Set != ok {
			t.Errorf("%s: Set=%v, Lookup ok=%v", kv.Keyword.Name, kv.Set, ok)
		}
	}
	if got := s.Get("nosuch"); got != "" {
		t.Errorf("Get(nosuch) = %q", got)
	}
	s.Set("password", Value{Value: "prompted", Source: SourceFlag, Origin: "-W prompt"})
	hosts, err := s.Hosts()
	if err != nil || len(hosts) != 1 || hosts[0].Password.Value != "prompted" {
		t.Fatalf("Hosts after Set(password) = %+v, %v", hosts, err)
	}
}

func TestKeywords(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keywords {
		if seen[k.Name] {
			t.Errorf("duplicate keyword %s", k.Name)
		}
		seen[k.Name] = true
		got, ok := LookupKeyword(k.Name)
		if !ok || got != k {
			t.Errorf("LookupKeyword(%s) = %+v, %v", k.Name, got, ok)
		}
	}
	for _, name := range []string{"require_auth", "sslcertmode", "load_balance_hosts", "sslnegotiation",
		"sslkeylogfile", "min_protocol_version", "max_protocol_version", "servicefile", "scram_client_key",
		"scram_server_key", "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope", "gssdelegation"} {
		if !seen[name] {
			t.Errorf("missing keyword %s", name)
		}
	}
	for _, name := range []string{"password", "sslpassword", "scram_client_key", "scram_server_key", "oauth_client_secret"} {
		if k, _ := LookupKeyword(name); !k.Secret {
			t.Errorf("%s should be secret", name)
		}
	}
	if _, ok := LookupKeyword("requiressl"); ok {
		t.Error("requiressl is not a keyword of the table")
	}
	// libpq's table order for the keywords every version has.
	order := []string{"service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname",
		"host", "hostaddr", "port", "client_encoding", "options", "application_name", "fallback_application_name",
		"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslmode",
		"sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslcertmode", "sslpassword", "sslrootcert", "sslcrl",
		"sslcrldir", "sslsni", "requirepeer", "require_auth", "ssl_min_protocol_version", "ssl_max_protocol_version",
		"gssencmode", "krbsrvname", "gsslib", "gssdelegation", "replication", "target_session_attrs",
		"load_balance_hosts", "scram_client_key", "scram_server_key"}
	last := -1
	for _, name := range order {
		i := keywordIndex[name]
		if i <= last {
			t.Errorf("%s is out of libpq's order", name)
		}
		last = i
	}
}

func TestServiceFile(t *testing.T) {
	type tc struct {
		name    string
		target  string
		env     []string
		user    string // ~/.pg_service.conf, "" = absent
		sys     string // $PGSYSCONFDIR/pg_service.conf, "" = absent
		other   string // HOME/other.conf
		want    map[string]want
		err     string
		warning string
	}
	long := "[s]\nhost=" + strings.Repeat("x", 1016) + "\n"    // 1022 bytes with newline: fine
	tooLong := "[s]\nhost=" + strings.Repeat("x", 1017) + "\n" // 1023 bytes: too long
	tests := []tc{
		{name: "no service, no file read", user: "garbage", want: map[string]want{"service": {}}},
		{name: "user file", target: "service=s", user: "# c\n\n  [s]  \n  host=h  \n", want: map[string]want{"host": {"h", SourceService, "HOME/.pg_service.conf:4"}}},
		{name: "first value in the group wins", target: "service=s", user: "[s]\nport=1\nport=2\n", want: map[string]want{"port": {"1", SourceService, "HOME/.pg_service.conf:2"}}},
		{name: "group ends at the next group", target: "service=s", user: "[s]\nport=1\n[t]\nhost=h\n", want: map[string]want{"port": {"1", SourceService, "-"}, "host": {}}},
		{name: "other groups are skipped", target: "service=s", user: "[t]\nbogus\n[s]\nport=1\n", want: map[string]want{"port": {"1", SourceService, "-"}}},
		{name: "group name prefix match needs the bracket", target: "service=s", user: "[ss]\nport=1\n", sys: "[s]\nport=2\n", want: map[string]want{"port": {"2", SourceService, "-"}}},
		{name: "text after the bracket is ignored", target: "service=s", user: "[s] trailing\nport=1\n", want: map[string]want{"port": {"1", SourceService, "-"}}},
		{name: "value is taken verbatim", target: "service=s", user: "[s]\noptions=-c a='b c'\nhost= h\n", want: map[string]want{"options": {"-c a='b c'", SourceService, "-"}, "host": {" h", SourceService, "-"}}},
		{name: "user file wins over the system file", target: "service=s", user: "[s]\nport=1\n", sys: "[s]\nport=2\nhost=sys\n", want: map[string]want{"port": {"1", SourceService, "-"}, "host": {}}},
		{name: "system file when the user file lacks the service", target: "service=s", user: "[t]\nport=1\n", sys: "[s]\nport=2\n", want: map[string]want{"port": {"2", SourceService, "SYS/pg_service.conf:2"}}},
		{name: "PGSERVICEFILE replaces the user file", target: "service=s", env: []string{"PGSERVICEFILE", "HOME/other.conf"}, user: "[s]\nport=1\n", other: "[s]\nport=3\n", want: map[string]want{"port": {"3", SourceService, "HOME/other.conf:2"}}},
		{name: "servicefile= replaces PGSERVICEFILE", target: "service=s servicefile=HOME/other.conf", env: []string{"PGSERVICEFILE", "/nonexistent"}, other: "[s]\nport=3\n", want: map[string]want{"port": {"3", SourceService, "-"}}},
		{name: "service values never override explicit ones", target: "service=s port=9", env: []string{"PGHOST", "envhost"}, user: "[s]\nport=1\nhost=svc\n", want: map[string]want{"port": {"9", SourceConninfo, "-"}, "host": {"svc", SourceService, "-"}}},
		{name: "line of 1022 bytes", target: "service=s", user: long, want: map[string]want{"host": {strings.Repeat("x", 1016), SourceService, "-"}}},
		{name: "ldap lines are skipped with a warning", target: "service=s", user: "[s]\nldap://example/dc=x?y?sub\nport=1\n", want: map[string]want{"port": {"1", SourceService, "-"}}, warning: "LDAP service lookup is not supported; skipped line 2 of service file \"HOME/.pg_service.conf\""},
		{name: "a directory reads as empty", target: "service=s", env: []string{"PGSERVICEFILE", "HOME"}, sys: "[s]\nport=2\n", want: map[string]want{"port": {"2", SourceService, "-"}}},

		{name: "not found anywhere", target: "service=s", user: "[t]\n", err: `definition of service "s" not found`},
		{name: "no files at all", target: "service=s", err: `definition of service "s" not found`},
		{name: "empty PGSERVICE", env: []string{"PGSERVICE", ""}, err: `definition of service "" not found`},
		{name: "PGSERVICEFILE missing", env: []string{"PGSERVICE", "s", "PGSERVICEFILE", "/nonexistent/x"}, err: `service file "/nonexistent/x" not found`},
		{name: "servicefile= empty", target: "service=s servicefile=", err: `service file "" not found`},
		{name: "syntax error: no =", target: "service=s", user: "[s]\nhost\n", err: `syntax error in service file "HOME/.pg_service.conf", line 2`},
		{name: "syntax error: unknown keyword", target: "service=s", user: "[s]\nhots=h\n", err: `syntax error in service file "HOME/.pg_service.conf", line 2`},
		{name: "syntax error: spaces around =", target: "service=s", user: "[s]\nhost = h\n", err: `syntax error in service file "HOME/.pg_service.conf", line 2`},
		{name: "syntax error: requiressl", target: "service=s", user: "[s]\nrequiressl=1\n", err: `syntax error in service file "HOME/.pg_service.conf", line 2`},
		{name: "syntax errors outside the group don't matter", target: "service=s", user: "[t]\nhost\n[s]\nport=1\n", want: map[string]want{"port": {"1", SourceService, "-"}}},
		{name: "nested service", target: "service=s", user: "[s]\nservice=t\n", err: `nested service specifications not supported in service file "HOME/.pg_service.conf", line 2`},
		{name: "nested servicefile", target: "service=s", user: "[s]\nservicefile=/x\n", err: `nested servicefile specifications not supported in service file "HOME/.pg_service.conf", line 2`},
		{name: "line too long", target: "service=s", user: tooLong, err: `line 2 too long in service file "HOME/.pg_service.conf"`},
		{name: "errors in the system file", target: "service=s", sys: "[s]\nx\n", err: `syntax error in service file "SYS/pg_service.conf", line 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			sys := env.vars["PGSYSCONFDIR"]
			expand := func(s string) string {
				return strings.ReplaceAll(strings.ReplaceAll(s, "SYS", sys), "HOME", env.home)
			}
			for i := 1; i < len(tt.env); i += 2 {
				tt.env[i] = expand(tt.env[i])
			}
			env.set(tt.env...)
			if tt.user != "" {
				env.write(".pg_service.conf", tt.user, 0o600)
			}
			if tt.sys != "" {
				env.write("sysconf/pg_service.conf", tt.sys, 0o644)
			}
			if tt.other != "" {
				env.write("other.conf", tt.other, 0o600)
			}
			s, err := env.resolve(expand(tt.target))
			if tt.err != "" {
				if err == nil || err.Error() != expand(tt.err) {
					t.Fatalf("error: got %v, want %q", err, expand(tt.err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wants := map[string]want{}
			for k, w := range tt.want {
				w.origin = expand(w.origin)
				wants[k] = w
			}
			checkSettings(t, s, wants)
			if tt.warning != "" {
				ws := s.Warnings()
				if len(ws) != 1 || ws[0] != expand(tt.warning) {
					t.Errorf("warnings: %q, want %q", ws, expand(tt.warning))
				}
			}
		})
	}
}

func TestServiceFileInSysconfdirDefault(t *testing.T) {
	// Without PGSYSCONFDIR the compiled-in SYSCONFDIR is used.
	env := newTestEnv(t)
	delete(env.vars, "PGSYSCONFDIR")
	_, err := env.resolve("service=pgprobe-test-no-such-service")
	want := `definition of service "pgprobe-test-no-such-service" not found`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(SysConfDir, "pg_service.conf")); err == nil {
		t.Logf("%s/pg_service.conf exists here", SysConfDir)
	}
}

func TestResolveNeverPanics(t *testing.T) {
	env := newTestEnv(t)
	inputs := []string{"", "=", "'", "\\", "postgresql://", "postgres://[", "postgres://@", "postgres://:", "postgres://?",
		"postgres://?&", "postgres://?=", "postgresql://%", "host=,,, port=,,,", "hostaddr=, host=a,b", "a b c",
		"\x00", "host=\x00", strings.Repeat("host=a ", 1000)}
	for _, in := range inputs {
		_, _ = env.resolve(in)
		_, _ = env.resolve("", "host", in)
		_ = Redact(in)
		_ = IsConnString(in)
	}
	_, _ = Resolve(Input{Target: "host=h", Flags: map[string]string{"bogus": "1"}, OSUser: "x", HomeDir: t.TempDir(),
		Getenv: func(string) (string, bool) { return "", false }})
}

func ExampleResolve() {
	env := map[string]string{"PGPORT": "5433", "PGSYSCONFDIR": os.TempDir() + "/none"}
	s, err := Resolve(Input{
		Target:     "postgresql://app@db.example.com/orders?sslmode=require",
		Flags:      map[string]string{"port": "6432"},
		FlagOrigin: map[string]string{"port": "-p"},
		Getenv:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HomeDir:    os.TempDir() + "/no-such-home",
		OSUser:     "alice",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range []string{"host", "port", "user", "dbname", "sslmode"} {
		v, _ := s.Lookup(k)
		fmt.Printf("%s=%s (%s %s)\n", k, v.Value, v.Source, v.Origin)
	}
	// Output:
	// host=db.example.com (conninfo URI)
	// port=6432 (flag -p)
	// user=app (conninfo URI)
	// dbname=orders (conninfo URI)
	// sslmode=require (conninfo URI query parameter)
}
