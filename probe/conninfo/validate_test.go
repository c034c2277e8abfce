package conninfo

import (
	"errors"
	"strings"
	"testing"
)

const key32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // base64 of 32 zero bytes

func TestValidation(t *testing.T) {
	tests := []struct {
		target string
		env    []string
		err    string // "" = valid
	}{
		// Host list counts.
		{target: "host=a,b hostaddr=127.0.0.1", err: `could not match 2 host names to 1 hostaddr values`},
		{target: "host=a hostaddr=127.0.0.1,127.0.0.2", err: `could not match 1 host names to 2 hostaddr values`},
		{target: "host=a,b hostaddr=127.0.0.1,127.0.0.2"},
		{target: "host=a,b,c port=1,2", err: `could not match 2 port numbers to 3 hosts`},
		{target: "host=a port=1,2", err: `could not match 2 port numbers to 1 hosts`},
		{target: "port=1,2", err: `could not match 2 port numbers to 1 hosts`},
		{target: "hostaddr=127.0.0.1,127.0.0.2 port=1,2,3", err: `could not match 3 port numbers to 2 hosts`},
		{target: "host=a,b,c port=1"},
		{target: "host=a,b,c port=1,2,3"},
		{target: "host=, port=,"},
		{target: "host=a port=x"}, // ports are checked per host at connect time
		// require_auth.
		{target: "require_auth=password,md5,gss,sspi,scram-sha-256,oauth,none"},
		{target: "require_auth=!password,!md5,!gss,!sspi,!scram-sha-256,!oauth,!none"},
		{target: "require_auth="},
		{target: "require_auth=password,!md5", err: `negative require_auth method "!md5" cannot be mixed with non-negative methods`},
		{target: "require_auth=!password,md5", err: `require_auth method "md5" cannot be mixed with negative methods`},
		{target: "require_auth=cert", err: `invalid require_auth value: "cert"`},
		{target: "require_auth=!cert", err: `invalid require_auth value: "cert"`},
		{target: "require_auth=password,", err: `invalid require_auth value: ""`},
		{target: "require_auth=SCRAM-SHA-256", err: `invalid require_auth value: "SCRAM-SHA-256"`},
		{target: "require_auth=md5,md5", err: `require_auth method "md5" is specified more than once`},
		{target: "require_auth=!md5,!md5", err: `require_auth method "!md5" is specified more than once`},
		{target: "require_auth=none,none", err: `require_auth method "none" is specified more than once`},
		{target: "require_auth=!none,!none", err: `require_auth method "!none" is specified more than once`},
		{target: "require_auth=gss,sspi"},
		// channel_binding.
		{target: "channel_binding=require"},
		{target: "channel_binding=on", err: `invalid channel_binding value: "on"`},
		{target: "channel_binding=", err: `invalid channel_binding value: ""`},
		// sslmode.
		{target: "sslmode=verify-ca"},
		{target: "sslmode=VERIFY-FULL", err: `invalid sslmode value: "VERIFY-FULL"`},
		{env: []string{"PGSSLMODE", ""}, err: `invalid sslmode value: ""`},
		// sslnegotiation.
		{target: "sslnegotiation=direct sslmode=require"},
		{target: "sslnegotiation=direct sslmode=verify-ca"},
		{target: "sslnegotiation=tls", err: `invalid sslnegotiation value: "tls"`},
		{target: "sslnegotiation=direct", err: `weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`},
		{target: "sslnegotiation=direct sslmode=allow", err: `weak sslmode "allow" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`},
		{target: "sslnegotiation=direct sslmode=disable", err: `weak sslmode "disable" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`},
		{target: "sslnegotiation=direct", env: []string{"PGSSLROOTCERT", "system"}},
		// sslrootcert=system.
		{target: "sslrootcert=system"},
		{target: "sslrootcert=system sslmode=require", err: `weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")`},
		{env: []string{"PGSSLROOTCERT", "system", "PGSSLMODE", "prefer"}, err: `weak sslmode "prefer" may not be used with sslrootcert=system (use "verify-full")`},
		{env: []string{"PGSSLROOTCERT", "system", "PGREQUIRESSL", "1"}, err: `weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")`},
		{target: "sslrootcert=System sslmode=require"}, // only the exact word means the system store
		// TLS versions.
		{target: "ssl_min_protocol_version=tlsv1.3 ssl_max_protocol_version=TLSV1.3"},
		{target: "ssl_min_protocol_version='' ssl_max_protocol_version=''"},
		{target: "ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1"},
		{target: "ssl_min_protocol_version=TLSv1.4", err: `invalid "ssl_min_protocol_version" value: "TLSv1.4"`},
		{target: "ssl_max_protocol_version=SSLv3", err: `invalid "ssl_max_protocol_version" value: "SSLv3"`},
		{target: "ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", err: `invalid SSL protocol version range`},
		{target: "ssl_min_protocol_version=TLSv1.1 ssl_max_protocol_version=TLSv1", err: `invalid SSL protocol version range`},
		{target: "ssl_max_protocol_version=TLSv1.1", err: `invalid SSL protocol version range`}, // the default minimum is TLSv1.2
		// sslcertmode.
		{target: "sslcertmode=require"},
		{target: "sslcertmode=always", err: `invalid sslcertmode value: "always"`},
		// gssencmode.
		{target: "gssencmode=disable"},
		{target: "gssencmode=maybe", err: `invalid gssencmode value: "maybe"`},
		// A libpq built with GSSAPI (the distributions') takes require and
		// decides when it connects, by the credential cache.
		{target: "gssencmode=require"},
		// target_session_attrs.
		{target: "target_session_attrs=prefer-standby"},
		{target: "target_session_attrs=read-write"},
		{target: "target_session_attrs=primary,standby", err: `invalid target_session_attrs value: "primary,standby"`},
		// SCRAM keys (PG18).
		{target: "scram_client_key=" + key32 + " scram_server_key=" + key32},
		{target: "scram_client_key=!!!!", err: `invalid SCRAM client key`},
		{target: "scram_client_key=AAAA", err: `invalid SCRAM client key length: 3`},
		{target: "scram_server_key=", err: `invalid SCRAM server key length: 0`},
		// load_balance_hosts.
		{target: "load_balance_hosts=random"},
		{target: "load_balance_hosts=round-robin", err: `invalid load_balance_hosts value: "round-robin"`},
		// min/max_protocol_version: libpq 18's pqParseProtocolVersion and the
		// end of pqConnectOptions2 (postgres/postgres REL_18_STABLE,
		// src/interfaces/libpq/fe-connect.c, commit 79a506228b).
		{target: "min_protocol_version=3.0 max_protocol_version=3.2"},
		{target: "max_protocol_version=latest"},
		{target: "max_protocol_version=3.0"},
		{target: "min_protocol_version=3.2 max_protocol_version=latest"},
		{target: "min_protocol_version=3.1", err: `invalid min_protocol_version value: "3.1"`}, // 3.1 never existed
		{target: "max_protocol_version=4", err: `invalid max_protocol_version value: "4"`},
		{target: "max_protocol_version=3", err: `invalid max_protocol_version value: "3"`},
		{target: "min_protocol_version=Latest", err: `invalid min_protocol_version value: "Latest"`}, // strcmp: case matters
		{target: "min_protocol_version=", err: `invalid min_protocol_version value: ""`},
		{env: []string{"PGMAXPROTOCOLVERSION", "3.3"}, err: `invalid max_protocol_version value: "3.3"`},
		// An unset max is 3.0, or latest when the min is above 3.0.
		{target: "min_protocol_version=latest"},
		{target: "min_protocol_version=3.2"},
		{env: []string{"PGMINPROTOCOLVERSION", "3.2"}},
		{target: "min_protocol_version=latest max_protocol_version=3.0", err: `"min_protocol_version" is greater than "max_protocol_version"`},
		{target: "min_protocol_version=3.2 max_protocol_version=3.0", err: `"min_protocol_version" is greater than "max_protocol_version"`},
		{target: "min_protocol_version=bad max_protocol_version=worse", err: `invalid min_protocol_version value: "bad"`},
		// Integer options.
		{target: "connect_timeout=10 keepalives=1 keepalives_idle=-1 keepalives_interval=' 5 ' keepalives_count=+3 tcp_user_timeout=0"},
		{target: "connect_timeout=x", err: `invalid integer value "x" for connection option "connect_timeout"`},
		{env: []string{"PGCONNECT_TIMEOUT", ""}, err: `invalid integer value "" for connection option "connect_timeout"`},
		{target: "keepalives=yes", err: `invalid integer value "yes" for connection option "keepalives"`},
		{target: "keepalives_idle=1.5", err: `invalid integer value "1.5" for connection option "keepalives_idle"`},
		{target: "keepalives_interval=0x10", err: `invalid integer value "0x10" for connection option "keepalives_interval"`},
		{target: "keepalives_count=99999999999", err: `invalid integer value "99999999999" for connection option "keepalives_count"`},
		{target: "tcp_user_timeout=", err: `invalid integer value "" for connection option "tcp_user_timeout"`},
		// Order: pqConnectOptions2 reports the first problem it meets.
		{target: "host=a,b hostaddr=x sslmode=bad", err: `could not match 2 host names to 1 hostaddr values`},
		{target: "sslmode=bad channel_binding=bad", err: `invalid channel_binding value: "bad"`},
		{target: "require_auth=bad channel_binding=bad", err: `invalid require_auth value: "bad"`},
		{target: "sslmode=bad gssencmode=bad", err: `invalid sslmode value: "bad"`},
		{target: "gssencmode=bad target_session_attrs=bad load_balance_hosts=bad", err: `invalid gssencmode value: "bad"`},
		{target: "target_session_attrs=bad load_balance_hosts=bad", err: `invalid target_session_attrs value: "bad"`},
		{target: "connect_timeout=x load_balance_hosts=bad", err: `invalid load_balance_hosts value: "bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.target+strings.Join(tt.env, "="), func(t *testing.T) {
			env := newTestEnv(t).set(tt.env...)
			_, err := env.resolve(tt.target)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Message != tt.err {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	sock := DefaultSocketDir()
	tests := []struct {
		target string
		want   []Host // Password not compared
		err    string
	}{
		{target: "", want: []Host{{Host: sock, Port: "5432", Type: UnixSocket}}},
		{target: "host=db", want: []Host{{Host: "db", Port: "5432", Type: HostName}}},
		{target: "host=/tmp port=5433", want: []Host{{Host: "/tmp", Port: "5433", Type: UnixSocket}}},
		{target: "host=@abstract", want: []Host{{Host: "@abstract", Port: "5432", Type: UnixSocket}}},
		{target: "host=127.0.0.1", want: []Host{{Host: "127.0.0.1", Port: "5432", Type: HostName}}},
		{target: "hostaddr=127.0.0.1", want: []Host{{HostAddr: "127.0.0.1", Port: "5432", Type: HostAddress}}},
		{target: "host=db hostaddr=10.0.0.1", want: []Host{{Host: "db", HostAddr: "10.0.0.1", Port: "5432", Type: HostAddress}}},
		{target: "host=a,,/s port=1", want: []Host{
			{Host: "a", Port: "1", Type: HostName},
			{Host: sock, Port: "1", Type: UnixSocket},
			{Host: "/s", Port: "1", Type: UnixSocket},
		}},
		{target: "host=a,b port=,2", want: []Host{{Host: "a", Type: HostName}, {Host: "b", Port: "2", Type: HostName}}},
		{target: "host=a, hostaddr=,10.0.0.2", want: []Host{
			{Host: "a", Port: "5432", Type: HostName},
			{HostAddr: "10.0.0.2", Port: "5432", Type: HostAddress},
		}},
		{target: "host=, hostaddr=,", want: []Host{{Host: sock, Port: "5432", Type: UnixSocket}, {Host: sock, Port: "5432", Type: UnixSocket}}},
		{target: "postgresql://h1,h2:5433/db", want: []Host{{Host: "h1", Type: HostName}, {Host: "h2", Port: "5433", Type: HostName}}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			env := newTestEnv(t)
			s := env.mustResolve(tt.target)
			got, err := s.Hosts()
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].Password = Value{}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("slot %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	// Hosts re-applies the count rules to settings changed after Resolve.
	s := newTestEnv(t).mustResolve("host=a,b")
	s.Set("port", Value{Value: "1,2,3", Source: SourceFlag})
	if _, err := s.Hosts(); err == nil || err.Error() != "could not match 3 port numbers to 2 hosts" {
		t.Fatalf("got %v", err)
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in       string
		want     int
		err      string
		nextHost bool
	}{
		{in: "", want: 5432},
		{in: "5433", want: 5433},
		{in: " 5433 ", want: 5433},
		{in: "+5433", want: 5433},
		{in: "1", want: 1},
		{in: "65535", want: 65535},
		{in: "0", err: `invalid port number: "0"`, nextHost: true},
		{in: "65536", err: `invalid port number: "65536"`, nextHost: true},
		{in: "-1", err: `invalid port number: "-1"`, nextHost: true},
		{in: "x", err: `invalid integer value "x" for connection option "port"`},
		{in: "54 32", err: `invalid integer value "54 32" for connection option "port"`},
		{in: "5432x", err: `invalid integer value "5432x" for connection option "port"`},
		{in: " ", err: `invalid integer value " " for connection option "port"`},
		{in: "2147483648", err: `invalid integer value "2147483648" for connection option "port"`},
		{in: "2147483647", err: `invalid port number: "2147483647"`, nextHost: true},
		{in: "99999999999999999999999", err: `invalid integer value "99999999999999999999999" for connection option "port"`},
	}
	for _, tt := range tests {
		got, err := ParsePort(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParsePort(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Message != tt.err || e.NextHost != tt.nextHost {
			t.Errorf("ParsePort(%q) error = %+v; want %q (NextHost %v)", tt.in, err, tt.err, tt.nextHost)
		}
	}
}

func TestParseIntParam(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "-0": 0, "\t7\n": 7, "-2147483648": -2147483648, "2147483647": 2147483647, "007": 7} {
		if got, ok := parseIntParam(in); !ok || got != want {
			t.Errorf("parseIntParam(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " ", "+", "-", "1e3", "0x1", "1 2", "-2147483649", "2147483648", "١"} {
		if got, ok := parseIntParam(in); ok {
			t.Errorf("parseIntParam(%q) = %d, ok; want failure", in, got)
		}
	}
}

func TestRequireAuth(t *testing.T) {
	tests := []struct {
		in      string
		allowed []string
		denied  []string
	}{
		{in: "", allowed: []string{"password", "md5", "none", "scram-sha-256"}},
		{in: "scram-sha-256", allowed: []string{"scram-sha-256"}, denied: []string{"password", "md5", "none", "gss"}},
		{in: "scram-sha-256,none", allowed: []string{"scram-sha-256", "none"}, denied: []string{"md5"}},
		{in: "!password,!md5", allowed: []string{"scram-sha-256", "none", "gss"}, denied: []string{"password", "md5"}},
		{in: "!none", allowed: []string{"md5"}, denied: []string{"none"}},
	}
	for _, tt := range tests {
		r, err := ParseRequireAuth(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		for _, m := range tt.allowed {
			if !r.Allows(m) {
				t.Errorf("%q should allow %s", tt.in, m)
			}
		}
		for _, m := range tt.denied {
			if r.Allows(m) {
				t.Errorf("%q should deny %s", tt.in, m)
			}
		}
	}
	if _, err := ParseRequireAuth("md5,!md5"); err == nil {
		t.Error("mixed list accepted")
	}
}

// TestSecretsNeverInErrors feeds secrets through every path that can fail
// and checks that no error message shows them.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "Hunter2Secret"
	targets := []string{
		"password=" + secret + " word",
		"password=Hunter2 Secret", // libpq would quote "Secret"
		"postgresql://u:" + secret + "@[::1",
		"postgresql://u:" + secret + "@[]",
		"postgresql://u:" + secret + "@[::1]x",
		"postgresql://u:" + secret + " x@host",
		"postgresql://u:" + secret + "%zz@host",
		"postgresql://u:" + secret + "%00@host",
		"postgresql://host?password=" + secret + "%zz",
		"postgresql://host?password=" + secret + " x",
		"postgresql://host?sslpassword=" + secret + "%00",
		"postgresql://host?oauth_client_secret=" + secret + "%",
		"postgresql://host?scram_client_key=" + secret + "%",
		"postgresql://u:" + secret + "@host?bogus=1",
		"password=" + secret + " bogus=1",
		"password=" + secret + " sslmode=bad",
		"password=" + secret + " scram_client_key=" + secret,
		"password=" + secret + " scram_server_key=" + secret + "==",
		"sslpassword=" + secret + " host=a,b hostaddr=1",
		"oauth_client_secret='" + secret + " unterminated",
	}
	for _, target := range targets {
		_, err := newTestEnv(t).resolve(target)
		if err == nil {
			t.Errorf("%q: expected an error", target)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Secret") {
			t.Errorf("%q: error shows the secret: %v", target, err)
		}
	}
}
