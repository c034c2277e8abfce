package diagnose

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/logtest"
	"github.com/pgprobe/pgprobe/statelog"
)

func tcp(host, addr string, port int, sslmode string) *statelog.Attempt {
	return &statelog.Attempt{Host: host, HostAddr: addr, Port: port, Network: "tcp", SSLMode: sslmode}
}

func TestAdvise(t *testing.T) {
	pre := `connection to server at "db.example.com" (10.0.0.5), port 5432 failed: `
	cases := []struct {
		name string
		e    statelog.Error
		a    *statelog.Attempt
		want []string
	}{
		{"refused", statelog.Error{Class: "connect", Errno: "ECONNREFUSED", Message: pre + "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"},
			tcp("db.example.com", "10.0.0.5", 5432, "prefer"), []string{"not running", "listen_addresses", "port", "firewall", "`pg_isready -h db.example.com -p 5432`"}},
		{"refused without attempt", statelog.Error{Class: "connect", Message: pre + "Connection refused\n\tIs the server running…"},
			nil, []string{"`pg_isready -h db.example.com -p 5432`", "10.0.0.5"}},
		{"unix socket missing", statelog.Error{Class: "connect", Errno: "ENOENT", Message: `connection to server on socket "/tmp/.s.PGSQL.5432" failed: No such file or directory`},
			&statelog.Attempt{Host: "/tmp", HostAddr: "/tmp/.s.PGSQL.5432", Port: 5432, Network: "unix"}, []string{"unix_socket_directories", "`pg_isready -h /tmp -p 5432`"}},
		{"host unreachable", statelog.Error{Class: "connect", Errno: "EHOSTUNREACH", Message: pre + "No route to host"},
			tcp("db.example.com", "10.0.0.5", 5432, ""), []string{"no route", "firewall", "pg_isready"}},
		{"network unreachable", statelog.Error{Class: "connect", Errno: "ENETUNREACH", Message: pre + "Network is unreachable"},
			tcp("db.example.com", "2001:db8::5", 5432, ""), []string{"no route", "IPv6"}},
		{"server closed", statelog.Error{Class: "connect", Message: pre + "server closed the connection unexpectedly\n\tThis probably means…"},
			nil, []string{"server log"}},
		{"timeout connect", statelog.Error{Class: "timeout", Step: "connect", Message: pre + "timeout expired"},
			tcp("db.example.com", "10.0.0.5", 5432, ""), []string{"no answer to the TCP connection request", "firewall", "--timeout"}},
		{"timeout ssl", statelog.Error{Class: "timeout", Step: "ssl_response", Message: pre + "timeout expired"},
			nil, []string{"no answer to SSLRequest", "does not speak PostgreSQL"}},
		{"timeout startup", statelog.Error{Class: "timeout", Step: "auth_request", Message: "timeout expired"},
			nil, []string{"no answer to the startup message"}},
		{"timeout rfq", statelog.Error{Class: "timeout", Step: "ready_for_query", Message: "timeout expired"},
			nil, []string{"no ReadyForQuery"}},
		{"dns", statelog.Error{Class: "dns", Message: `could not translate host name "db.exmaple.com" to address: Name or service not known`},
			nil, []string{`"db.exmaple.com"`, "`getent hosts db.exmaple.com`", "hostaddr="}},
		{"dns temporary", statelog.Error{Class: "dns", Message: `could not translate host name "db" to address: Temporary failure in name resolution`},
			nil, []string{"no DNS server answered"}},
		{"ssl refused", statelog.Error{Class: "ssl", Message: pre + "server does not support SSL, but SSL was required"},
			tcp("db.example.com", "10.0.0.5", 5432, "require"), []string{"ssl = on", "ssl_cert_file", "sslmode=prefer", "sslmode=require"}},
		{"ssl E", statelog.Error{Class: "ssl", Message: pre + "server sent an error response during SSL exchange", Untrusted: `"x"`},
			nil, []string{"untrusted"}},
		{"unencrypted after S", statelog.Error{Class: "ssl", Message: pre + "received unencrypted data after SSL response"},
			nil, []string{"CVE-2021-23222"}},
		{"untrusted CA", statelog.Error{Class: "tls", Message: pre + "SSL error: certificate verify failed"},
			&statelog.Attempt{Host: "db.example.com", Port: 5432, TLS: &statelog.TLS{VerifyError: "x509: certificate signed by unknown authority",
				PeerCertificates: []statelog.Cert{{Issuer: "CN=Corp CA"}}}}, []string{"sslrootcert", "CA", `"CN=Corp CA"`, "sslrootcert=system"}},
		{"expired", statelog.Error{Class: "tls", Message: pre + "SSL error: certificate verify failed"},
			&statelog.Attempt{TLS: &statelog.TLS{VerifyError: "x509: certificate has expired or is not yet valid"}}, []string{"Renew", "pg_reload_conf"}},
		{"name mismatch", statelog.Error{Class: "tls", Message: pre + `server certificate for "db1.example.com" does not match host name "db.example.com"`},
			&statelog.Attempt{Host: "db.example.com", TLS: &statelog.TLS{PeerCertificates: []statelog.Cert{{SANs: []string{"db1.example.com", "db1"}}}}},
			[]string{"db1.example.com, db1", "subjectAltName DNS:db.example.com", "verify-ca"}},
		{"no root file", statelog.Error{Class: "tls", Message: `root certificate file "/root/.postgresql/root.crt" does not exist`},
			nil, []string{"root.crt", "sslrootcert=", "sslmode=require"}},
		{"hba ssl", statelog.Error{Class: "auth", SQLState: "28000", Severity: "FATAL", Message: pre + `FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption`},
			nil, []string{"`hostssl shop app 10.0.0.9/32 scram-sha-256`", "pg_reload_conf()"}},
		{"hba plain", statelog.Error{Class: "auth", SQLState: "28000", Message: pre + `FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", no encryption`},
			nil, []string{"`hostnossl shop app 10.0.0.9/32 scram-sha-256`", "`host …`", "pg_reload_conf()"}},
		{"hba ipv6", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  no pg_hba.conf entry for host "2001:db8::9", user "app", database "shop", SSL encryption`},
			nil, []string{"2001:db8::9/128"}},
		{"hba local", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  no pg_hba.conf entry for host "[local]", user "app", database "shop", no encryption`},
			nil, []string{"`local shop app scram-sha-256`"}},
		{"hba replication", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  no pg_hba.conf entry for replication connection from host "10.0.0.9", user "rep", SSL encryption`},
			nil, []string{"`hostssl replication rep 10.0.0.9/32 scram-sha-256`"}},
		{"hba reject", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  pg_hba.conf rejects connection for host "10.0.0.9", user "app", database "shop", SSL encryption`},
			nil, []string{"`reject`"}},
		{"role missing", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  role "bob" does not exist`},
			nil, []string{`CREATE ROLE "bob" LOGIN`}},
		{"peer", statelog.Error{Class: "auth", SQLState: "28000", Message: `FATAL:  Peer authentication failed for user "app"`},
			nil, []string{"pg_ident.conf", "-h localhost"}},
		{"wrong password", statelog.Error{Class: "auth", SQLState: "28P01", Message: pre + `FATAL:  password authentication failed for user "app"`},
			&statelog.Attempt{Host: "db.example.com", Port: 5432, Auth: &statelog.Auth{Method: "scram-sha-256", PasswordSource: "env"}},
			[]string{`"app"`, "PGPASSWORD", "db.example.com:5432:DATABASE:app:PASSWORD", "password_encryption", "\\password app"}},
		{"wrong password from file", statelog.Error{Class: "auth", SQLState: "28P01", Message: pre + "FATAL:  password authentication failed for user \"app\"\npassword retrieved from file \"/home/app/.pgpass\""},
			nil, []string{"password file", ".pgpass"}},
		{"no database", statelog.Error{Class: "server", SQLState: "3D000", Message: pre + `FATAL:  database "shpo" does not exist`},
			tcp("db.example.com", "10.0.0.5", 5432, ""), []string{`"shpo"`, "`createdb -h db.example.com -p 5432 shpo`", "dbname="}},
		{"too many", statelog.Error{Class: "server", SQLState: "53300", Message: pre + "FATAL:  sorry, too many clients already"},
			nil, []string{"max_connections", "pg_stat_activity", "PgBouncer"}},
		{"too many for role", statelog.Error{Class: "server", SQLState: "53300", Message: `FATAL:  too many connections for role "app"`},
			nil, []string{`ALTER ROLE "app" CONNECTION LIMIT`}},
		{"starting up", statelog.Error{Class: "server", SQLState: "57P03", Message: pre + "FATAL:  the database system is starting up"},
			nil, []string{"Wait", "server log", "--ping"}},
		{"hot standby off", statelog.Error{Class: "server", SQLState: "57P03", Message: "FATAL:  the database system is not accepting connections", Detail: "Hot standby mode is disabled."},
			nil, []string{"hot_standby = on"}},
		{"no password", statelog.Error{Class: "auth", Message: pre + "fe_sendauth: no password supplied"},
			&statelog.Attempt{Host: "db.example.com", Port: 5432, Auth: &statelog.Auth{Method: "scram-sha-256"}},
			[]string{"scram-sha-256", "PGPASSWORD", "~/.pgpass", "-W", "db.example.com:5432:DATABASE:USER:PASSWORD"}},
		{"garbage", statelog.Error{Class: "protocol", Message: pre + "expected authentication request from server, but received H"},
			tcp("db.example.com", "10.0.0.5", 5432, ""), []string{"PostgreSQL", "another service"}},
		{"invalid ssl answer", statelog.Error{Class: "protocol", Message: pre + "received invalid response to SSL negotiation: H"},
			nil, []string{"PostgreSQL"}},
		{"target", statelog.Error{Class: "target", Message: pre + "session is read-only"},
			nil, []string{"standby", "target_session_attrs"}},
		{"usage", statelog.Error{Class: "usage", Message: `invalid sslmode value: "bogus"`},
			nil, []string{"pgprobe settings"}},
		{"check", statelog.Error{Class: "check", Message: "certificate expires in 3 days"},
			nil, []string{"ssl_cert_file"}},
		{"server fallback", statelog.Error{Class: "server", SQLState: "XX000", Message: "FATAL:  something odd"},
			nil, []string{"server log"}},
		{"auth fallback", statelog.Error{Class: "auth", Message: "some auth failure"},
			nil, []string{"pg_hba.conf"}},
		{"unknown class", statelog.Error{Class: "weird", Message: "?"},
			nil, []string{"failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.e
			checkAdvice(t, Advise(&e, c.a), c.want, nil)
		})
	}
	if Advise(nil, nil) != "" {
		t.Errorf("nil error: want no advice")
	}
}

// TestAdviceHasNoSecrets: advice is built from the error, the attempt's
// names and the server's message, never from the target string, where a
// redaction bug could leave a password.
func TestAdviceHasNoSecrets(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	for _, fx := range logtest.Fixtures {
		l := fx.Log()
		l.Target += " password=" + secret
		Record(l)
		check := func(e *statelog.Error) {
			if e != nil && strings.Contains(e.Advice, secret) {
				t.Errorf("%s: advice leaks the password: %s", fx.Name, e.Advice)
			}
		}
		check(l.Error)
		for _, a := range l.Attempts {
			check(a.Error)
			for _, e := range a.Events {
				check(e.Error)
			}
		}
	}
}

// TestAdviseVersionAndAddressDetails: advice that depends on whether the
// host is an address, on the client's TLS version range, and on the
// server's major version names only what applies (each case lists what must
// appear and what must not).
func TestAdviseVersionAndAddressDetails(t *testing.T) {
	mismatch := func(host string) statelog.Error {
		return statelog.Error{Class: "tls", Message: `connection to server at "` + host + `" (127.0.0.1), port 5432 failed: server certificate for "localhost" does not match host name "` + host + `"`}
	}
	// libpq's (and pgprobe's) note on a protocol-version failure.
	versionAlert := func(lo, hi string) statelog.Error {
		return statelog.Error{Class: "tls", Message: `connection to server at "127.0.0.1", port 5432 failed: SSL error: tlsv1 alert protocol version
This may indicate that the server does not support any SSL protocol version between ` + lo + ` and ` + hi + `.`}
	}
	// pgprobe's "wrong version number" (probe/tls.go), with its note when
	// a range is given.
	wrongVersion := func(lohi ...string) statelog.Error {
		m := `connection to server at "127.0.0.1", port 5432 failed: SSL error: wrong version number`
		if len(lohi) == 2 {
			m += "\nThis may indicate that the server does not support any SSL protocol version between " + lohi[0] + " and " + lohi[1] + "."
		}
		return statelog.Error{Class: "tls", Message: m}
	}
	withVersion := func(v string) *statelog.Attempt {
		a := tcp("db.example.com", "10.0.0.5", 5432, "")
		a.Server = &statelog.Server{Parameters: map[string]string{"server_version": v}}
		return a
	}
	reserved15 := statelog.Error{Class: "server", SQLState: "53300", Message: "FATAL:  remaining connection slots are reserved for non-replication superuser connections"}
	reserved16 := statelog.Error{Class: "server", SQLState: "53300", Message: "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute"}
	reservedRole := statelog.Error{Class: "server", SQLState: "53300", Message: `FATAL:  remaining connection slots are reserved for roles with privileges of the "pg_use_reserved_connections" role`}
	reservedOther := statelog.Error{Class: "server", SQLState: "53300", Message: "FATAL:  remaining connection slots are reserved"} // wording unknown (translated, future)
	cases := []struct {
		name        string
		e           statelog.Error
		a           *statelog.Attempt
		want, avoid []string
	}{
		{"SAN for a name", mismatch("db.example.com"), tcp("db.example.com", "127.0.0.1", 5432, "verify-full"),
			[]string{"subjectAltName DNS:db.example.com"}, []string{"IP:"}},
		{"SAN for an IPv4 host", mismatch("127.0.0.2"), tcp("127.0.0.2", "127.0.0.1", 5432, "verify-full"),
			[]string{"subjectAltName IP:127.0.0.2"}, []string{"DNS:127.0.0.2"}},
		{"SAN for an IPv6 host", mismatch("2001:db8::5"), tcp("2001:db8::5", "2001:db8::5", 5432, "verify-full"),
			[]string{"subjectAltName IP:2001:db8::5"}, []string{"DNS:"}},
		{"SAN for a bracketed IPv6 host with zone", mismatch("fe80::1"), tcp("[fe80::1%eth0]", "fe80::1", 5432, "verify-full"),
			[]string{"subjectAltName IP:fe80::1;"}, []string{"DNS:", "IP:fe80::1%", "IP:["}},
		{"SAN for an IPv4 host without attempt", mismatch("10.1.2.3"), nil,
			[]string{"subjectAltName IP:10.1.2.3"}, []string{"DNS:"}},
		// A protocol-version alert is the server refusing the versions.
		{"client max below the server's min", versionAlert("TLSv1.2", "TLSv1.2"), nil,
			[]string{"ssl_max_protocol_version=TLSv1.2", "ssl_min_protocol_version on the server"}, []string{"--min-tls-version", "not speak TLS"}},
		{"client max TLSv1.1", versionAlert("TLSv1", "TLSv1.1"), nil,
			[]string{"ssl_max_protocol_version=TLSv1.1", "TLSv1 to TLSv1.1"}, []string{"--min-tls-version", "not speak TLS"}},
		{"client range reaches TLSv1.3", versionAlert("TLSv1.3", "TLSv1.3"), nil,
			[]string{"ssl_min_protocol_version=", "ssl_max_protocol_version=", "TLSv1.3 to TLSv1.3", "widen"}, []string{"--min-tls-version", "not speak TLS"}},
		// "wrong version number" (probe/tls.go: Go's "first record does
		// not look like a TLS handshake", among others): most often a peer
		// that is not speaking TLS, said first, then the version ranges.
		{"wrong version number", wrongVersion(""), nil,
			[]string{"may not speak TLS", "answered 'S' and then spoke plaintext", "sslnegotiation=direct", "PostgreSQL 17", "ssl_min_protocol_version", "ssl_max_protocol_version"}, []string{"--min-tls-version", "widen"}},
		{"wrong version number with pgprobe's note", wrongVersion("TLSv1.2", "TLSv1.3"), tcp("db.example.com", "10.0.0.5", 5432, "require"),
			[]string{"peer at db.example.com (10.0.0.5) port 5432 may not speak TLS", "sslnegotiation=direct", "TLSv1.2 to TLSv1.3"}, []string{"--min-tls-version", "widen", "pg_reload_conf"}},
		{"wrong version number, client max TLSv1.2", wrongVersion("TLSv1.2", "TLSv1.2"), nil,
			[]string{"may not speak TLS", "ssl_max_protocol_version=TLSv1.2"}, []string{"--min-tls-version", "pg_reload_conf"}},
		{"reserved, PostgreSQL 15 wording", reserved15, nil,
			[]string{"superuser_reserved_connections", "max_connections"}, []string{"reserved_connections for", "PostgreSQL 16"}},
		{"reserved, PostgreSQL 16 wording", reserved16, nil,
			[]string{"superuser_reserved_connections", "reserved_connections for roles with pg_use_reserved_connections"}, []string{"PostgreSQL 16+"}},
		{"reserved, pg_use_reserved_connections", reservedRole, nil,
			[]string{"GRANT pg_use_reserved_connections", "reserved_connections"}, nil},
		{"reserved, version unknown", reservedOther, nil,
			[]string{"superuser_reserved_connections", "on PostgreSQL 16+ reserved_connections"}, nil},
		{"reserved, server 15 known", reservedOther, withVersion("15.8 (Debian 15.8-0+deb12u1)"),
			[]string{"superuser_reserved_connections"}, []string{"reserved_connections for", "PostgreSQL 16"}},
		{"reserved, server 17 known", reservedOther, withVersion("17.4"),
			[]string{"reserved_connections for roles"}, []string{"PostgreSQL 16+"}},
		{"reserved, PgBouncer's version is no server's", reservedOther, withVersion("1.18.0/bouncer"),
			[]string{"on PostgreSQL 16+ reserved_connections"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.e
			got := Advise(&e, c.a)
			checkAdvice(t, got, c.want, c.avoid)
			if i := strings.Index(got, "not speak TLS"); i >= 0 && i > strings.Index(got, "ssl_m") {
				t.Errorf("advice names the version settings before a peer that may not speak TLS:\n%s", got)
			}
		})
	}
}

// checkAdvice: got holds every want and no avoid, in one short paragraph.
func checkAdvice(t *testing.T, got string, want, avoid []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("advice lacks %q:\n%s", w, got)
		}
	}
	for _, w := range avoid {
		if strings.Contains(got, w) {
			t.Errorf("advice has %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "\n") || len(got) > 600 {
		t.Errorf("advice is not one short paragraph (%d characters): %q", len(got), got)
	}
}
