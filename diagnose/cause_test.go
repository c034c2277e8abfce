package diagnose

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

// causeCase is a failure, the record's other attempts and warnings, and
// what its advice must and must not say.
type causeCase struct {
	name        string
	others      []*statelog.Attempt
	warnings    []string
	e           statelog.Error
	a           *statelog.Attempt
	want, avoid []string
}

const pre = `connection to server at "127.0.0.1", port 5432 failed: `

func withStartup(a *statelog.Attempt, user string, bytes any, authRequest bool) *statelog.Attempt {
	a.Events = append(a.Events, statelog.Event{Step: statelog.StepStartup, Data: map[string]any{"user": user, "packet_bytes": bytes}})
	if authRequest {
		a.Events = append(a.Events, statelog.Event{Step: statelog.StepAuthRequest})
	}
	return a
}

// authCauses: the client's files, require_auth, the password file, pg_hba.conf.
func authCauses() []causeCase {
	requirement := func(raw, reason string) statelog.Error {
		return statelog.Error{Class: "auth", Step: "auth_request", Message: pre + `authentication method requirement "` + raw + `" failed: ` + reason}
	}
	answered := func(b string) *statelog.Attempt {
		a := tcp("127.0.0.1", "127.0.0.1", 5432, "prefer")
		a.SSLResponse = statelog.Str(b)
		return a
	}
	noHBA := statelog.Error{Class: "auth", SQLState: "28000", Message: pre + `FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "bob", database "shop", no encryption`}
	noPassword := statelog.Error{Class: "auth", Step: "auth_response", Message: pre + "fe_sendauth: no password supplied"}
	return []causeCase{
		{name: "key file readable by others", e: statelog.Error{Class: "tls", Message: pre + `private key file "/home/app/my keys/client.key" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`},
			want: []string{"`chmod 0600 '/home/app/my keys/client.key'`", "0640", "root", "not on the server"}, avoid: []string{"ssl_cert_file", "sslrootcert"}},

		{name: "require_auth against MD5", e: requirement("scram-sha-256", "server requested a hashed password"), a: withStartup(tcp("db", "10.0.0.5", 5432, ""), "app", 40, false),
			want: []string{"MD5", "require_auth=scram-sha-256 forbids", "password_encryption", "`\\password app`", "require_auth=scram-sha-256,md5"}, avoid: []string{"Check the user name"}},
		{name: "require_auth negated against MD5", e: requirement("!md5,!password", "server requested a hashed password"),
			want: []string{"require_auth=!password", "`\\password USER`"}, avoid: []string{"!md5,!password,md5"}},
		{name: "require_auth against cleartext", e: requirement("scram-sha-256", "server requested a cleartext password"),
			want: []string{"cleartext", "pg_hba.conf", "require_auth=scram-sha-256,password"}},
		{name: "require_auth forbidding SCRAM", e: requirement("!scram-sha-256", "server requested SASL authentication"),
			want: []string{"SCRAM-SHA-256", "no require_auth at all"}},
		{name: "require_auth against trust", e: requirement("scram-sha-256", "server did not complete authentication"),
			want: []string{"trust", "scram-sha-256", "require_auth=scram-sha-256,none"}},
		{name: "require_auth against GSSAPI", e: requirement("md5", "server requested GSSAPI authentication"),
			want: []string{"GSSAPI", "require_auth=md5,gss"}},
		{name: "require_auth against an unknown request", e: requirement("md5", "server requested an unknown authentication type"),
			want: []string{"require_auth=md5 forbids", "unknown authentication type"}},

		{name: "password file readable by others", warnings: []string{`WARNING: password file "/home/app/.pgpass" has group or world access; permissions should be u=rw (0600) or less`},
			e: noPassword, a: tcp("127.0.0.1", "127.0.0.1", 5432, ""),
			want: []string{"ignored the password file", "`chmod 0600 /home/app/.pgpass`"}, avoid: []string{"DATABASE:USER:PASSWORD"}},
		{name: "password file not a plain file", warnings: []string{`WARNING: password file "/dev/null" is not a plain file`}, e: noPassword,
			want: []string{"not a plain file", "passfile="}, avoid: []string{"chmod", "DATABASE:USER:PASSWORD"}},
		{name: "no password, no ignored file", e: noPassword, a: tcp("127.0.0.1", "127.0.0.1", 5432, ""),
			want: []string{"127.0.0.1:5432:DATABASE:USER:PASSWORD"}, avoid: []string{"ignored"}},

		{name: "no hba line, server answered N", e: noHBA, a: answered("N"),
			want: []string{"`hostnossl shop bob 127.0.0.1/32 scram-sha-256`", "answered 'N'"}, avoid: []string{"sslmode=require"}},
		{name: "no hba line, another attempt got N", others: []*statelog.Attempt{answered("N")}, e: noHBA, a: tcp("127.0.0.1", "127.0.0.1", 5432, "allow"),
			want: []string{"answered 'N'"}, avoid: []string{"sslmode=require"}},
		{name: "no hba line, SSL never asked", e: noHBA, a: tcp("127.0.0.1", "127.0.0.1", 5432, "disable"),
			want: []string{"sslmode=require", "hostssl"}, avoid: []string{"answered 'N'"}},
	}
}

// tlsCauses: direct TLS, the name to verify, the startup packet, and the
// libpq versions a suggestion needs.
func tlsCauses() []causeCase {
	direct := func(port int) *statelog.Attempt {
		a := tcp("127.0.0.1", "127.0.0.1", port, "require")
		a.Direct = true
		return a
	}
	reached := func(port int, version string) *statelog.Attempt {
		a := tcp("127.0.0.1", "127.0.0.1", port, "require")
		a.Server = &statelog.Server{Parameters: map[string]string{"server_version": version}}
		return a
	}
	withCert := func(subject string, sans ...string) *statelog.Attempt {
		a := tcp("", "127.0.0.1", 5432, "verify-full")
		a.TLS = &statelog.TLS{PeerCertificates: []statelog.Cert{{Subject: subject, SANs: sans}}}
		return a
	}
	eof := statelog.Error{Class: "tls", Step: "tls_handshake", Message: pre + "SSL SYSCALL error: EOF detected"}
	noHostName := statelog.Error{Class: "tls", Step: "tls_handshake", Message: pre + "host name must be specified for a verified SSL connection"}
	closed := statelog.Error{Class: "protocol", Step: "auth_request", Message: pre + "SSL connection has been closed unexpectedly"}
	return []causeCase{
		{name: "direct TLS, version unknown", e: eof, a: direct(5432),
			want: []string{"PostgreSQL 17 or later", "may be the cause", "sslnegotiation=postgres"}, avoid: []string{"ssl_key_file"}},
		{name: "direct TLS, PostgreSQL 15 reached before", others: []*statelog.Attempt{reached(5432, "15.8 (Debian 15.8-0+deb12u1)")}, e: eof, a: direct(5432),
			want: []string{"The server is PostgreSQL 15.8", "needs PostgreSQL 17 or later", "sslnegotiation=postgres"}, avoid: []string{"may be the cause", "ssl_key_file"}},
		{name: "direct TLS, PostgreSQL 17 reached before", others: []*statelog.Attempt{reached(5432, "17.2")}, e: eof, a: direct(5432),
			want: []string{"broke during the TLS handshake"}, avoid: []string{"needs PostgreSQL 17", "may be the cause"}},
		{name: "direct TLS, another server's version", others: []*statelog.Attempt{reached(5433, "15.8")}, e: eof, a: direct(5432),
			want: []string{"may be the cause"}, avoid: []string{"The server is PostgreSQL"}},
		{name: "TLS broken off without direct", e: eof, a: tcp("127.0.0.1", "127.0.0.1", 5432, "require"),
			want: []string{"broke during the TLS handshake"}, avoid: []string{"sslnegotiation"}},

		{name: "hostaddr without host", e: noHostName, a: withCert("CN=db", "DNS:*.example.com", "DNS:db.example.com", "IP:10.0.0.5"),
			want: []string{"add host=db.example.com", "DNS:*.example.com, DNS:db.example.com, IP:10.0.0.5", "hostaddr=127.0.0.1", "verify-ca"}, avoid: []string{"ssl_*"}},
		{name: "hostaddr without host, IP SANs only", e: noHostName, a: withCert("CN=db", "IP:10.0.0.5"),
			want: []string{"add host=10.0.0.5"}},
		{name: "hostaddr without host, CN only", e: noHostName, a: withCert("O=Corp,CN=db.internal"),
			want: []string{"add host=db.internal", "no subjectAltName"}},
		{name: "hostaddr without host, no certificate recorded", e: noHostName, a: tcp("", "127.0.0.1", 5432, "verify-full"),
			want: []string{"add host= with a name the server's certificate lists"}},

		{name: "startup packet over 10000 bytes", e: closed, a: withStartup(tcp("127.0.0.1", "127.0.0.1", 5432, ""), "u", 100058, false),
			want: []string{"100058 bytes", "over 10000 bytes", "invalid length of startup packet"}, avoid: []string{"firewall"}},
		{name: "startup packet size read back from JSON", e: closed, a: withStartup(tcp("127.0.0.1", "127.0.0.1", 5432, ""), "u", float64(20000), false),
			want: []string{"20000 bytes"}},
		{name: "reset while sending the startup packet", e: statelog.Error{Class: "protocol", Step: "startup", Errno: "ECONNRESET", Message: pre + "could not send startup packet: Connection reset by peer"},
			a: withStartup(tcp("127.0.0.1", "127.0.0.1", 5432, ""), "u", 5000058, false), want: []string{"5000058 bytes"}},
		{name: "hung up on a small startup packet", e: closed, a: withStartup(tcp("127.0.0.1", "127.0.0.1", 5432, ""), "u", 60, false),
			want: []string{"without an error message", "server's log", "incomplete startup packet"}, avoid: []string{"60 bytes", "firewall"}},
		{name: "hung up after the authentication request", e: statelog.Error{Class: "connect", Step: "auth_request", Message: pre + "server closed the connection unexpectedly"},
			a: withStartup(tcp("127.0.0.1", "127.0.0.1", 5432, ""), "u", 100058, true), want: []string{"crashed"}, avoid: []string{"startup packet"}},

		{name: "untrusted CA names the libpq for sslrootcert=system", e: statelog.Error{Class: "tls", Message: pre + "SSL error: certificate verify failed"},
			want: []string{"sslrootcert=system for a public CA (libpq 16 or later)"}},
		{name: "no root file names the libpq for sslrootcert=system", e: statelog.Error{Class: "tls", Message: `root certificate file "/root/.postgresql/root.crt" does not exist`},
			want: []string{"sslrootcert=system for a public CA, libpq 16 or later"}},
		{name: "0A000 names the libpq for max_protocol_version", e: statelog.Error{Class: "server", SQLState: "0A000", Message: "FATAL:  unsupported frontend protocol 3.2: server supports 3.0 to 3.0"},
			want: []string{"max_protocol_version=3.0 (libpq 18 or later)"}},
	}
}

// TestAdviceNamesTheCause: advice built from facts beyond the message (the
// record's other attempts and warnings, the startup message's size, the
// certificate) names the cause and leaves out the generic advice it
// replaces.
func TestAdviceNamesTheCause(t *testing.T) {
	for _, c := range append(authCauses(), tlsCauses()...) {
		t.Run(c.name, func(t *testing.T) {
			l := statelog.New("t", nil)
			for _, o := range c.others {
				l.AddAttempt(o)
			}
			a := c.a
			if a == nil {
				a = tcp("", "127.0.0.1", 5432, "")
			}
			l.AddAttempt(a)
			l.Warnings = c.warnings
			e := c.e
			a.Error = &e
			l.Finish(&e)
			Record(l)
			checkAdvice(t, l.Error.Advice, c.want, c.avoid)
		})
	}
}

// TestStreamedAdviceSeesTheRecord: the advice an event's error gets as it
// streams through Sink uses the record so far, as the final advice does.
func TestStreamedAdviceSeesTheRecord(t *testing.T) {
	var r recorder
	l := statelog.New("t", Sink(&r))
	l.Warnings = []string{`WARNING: password file "/home/app/.pgpass" has group or world access; permissions should be u=rw (0600) or less`}
	a := l.AddAttempt(tcp("127.0.0.1", "127.0.0.1", 5432, "prefer"))
	e := &statelog.Error{Class: "auth", Message: "fe_sendauth: no password supplied"}
	l.Record(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthResponse, l.Start(), "", e, nil)
	if len(r.advice) != 1 || !strings.Contains(r.advice[0], "chmod 0600 /home/app/.pgpass") {
		t.Errorf("streamed advice %q should name the ignored password file", r.advice)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/app/.pgpass": "/home/app/.pgpass",
		"/tmp/my keys/a":    "'/tmp/my keys/a'",
		"/tmp/it's":         `'/tmp/it'\''s'`,
		"~/x":               "'~/x'",
		"":                  "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
