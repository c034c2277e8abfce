//go:build linux

package main

// Advice that names the real cause (issue 12), each failure provoked
// against a real PostgreSQL server: the advice must name the fix for that
// cause and none of the generic advice it replaced, and, where a fix is
// named, applying it must make the probe succeed.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/libpqoracle"
	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// adviceOf runs pgprobe -o json and returns the final advice, after
// checking the exit code and the class.
func adviceOf(t *testing.T, env map[string]string, code int, class, target string) (string, result) {
	t.Helper()
	r := pgprobe(t, env, "-o", "json", target)
	mustCode(t, r, code)
	mustEqual(t, r, "error.class", class)
	advice, _ := get(r.doc, "error.advice").(string)
	return advice, r
}

func wantAdvice(t *testing.T, advice string, want, avoid []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(advice, w) {
			t.Errorf("advice lacks %q:\n%s", w, advice)
		}
	}
	for _, w := range avoid {
		if strings.Contains(advice, w) {
			t.Errorf("advice has %q:\n%s", w, advice)
		}
	}
}

func TestAdviceClientKeyPermissions(t *testing.T) {
	c := certServer(t)
	dir := t.TempDir()
	certPEM, keyPEM := c.CA.Issue(t, pgtest.CertOptions{CN: "certuser", Client: true})
	certFile := pgtest.WriteFile(t, dir, "client.crt", certPEM, 0o644)
	key := pgtest.WriteFile(t, dir, "client.key", keyPEM, 0o644)
	target := conn(c, "user=certuser", "dbname=postgres", "sslmode=require", "sslcert="+certFile, "sslkey="+key)

	advice, r := adviceOf(t, nil, 2, "tls", target)
	wantAdvice(t, advice, []string{"chmod 0600 " + key, "0640", "root"}, []string{"ssl_cert_file", "server's ssl_", "sslrootcert"})
	msg, _ := get(r.doc, "error.message").(string)
	if out, code := pgtest.RunPsql(t, target, ""); code == 0 || !strings.Contains(out, "has group or world access") || !strings.Contains(msg, "has group or world access") {
		t.Errorf("psql (exit %d) says %q\npgprobe says %q", code, out, msg)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	mustCode(t, pgprobe(t, nil, "-o", "json", target), 0)
}

func TestAdviceRequireAuthAgainstMD5(t *testing.T) {
	c := sslServer(t)
	target := conn(c, "user=md5user", "password="+md5PW, "dbname=postgres", "require_auth=scram-sha-256")
	advice, r := adviceOf(t, nil, 1, "auth", target)
	wantAdvice(t, advice, []string{"asked for MD5", "require_auth=scram-sha-256 forbids", "password_encryption", "\\password md5user", "require_auth=scram-sha-256,md5"},
		[]string{"Check the user name"})
	noSecretSent(t, r)
	// psql 15 predates require_auth: libpq 18 is the oracle for the message.
	msg, _ := get(r.doc, "error.message").(string)
	if lib := libpqoracle.Connect(t, oracleVersion, target); lib.OK || strings.TrimRight(lib.Error, "\n") != msg {
		t.Errorf("libpq 18 says %q\npgprobe says %q", lib.Error, msg)
	}
	// Both ways out work.
	mustCode(t, pgprobe(t, nil, "-o", "json", conn(c, "user=md5user", "password="+md5PW, "dbname=postgres", "require_auth=scram-sha-256,md5")), 0)
	c.Psql(t, "SET password_encryption = 'scram-sha-256'; ALTER ROLE md5user PASSWORD "+pgQuote(md5PW))
	mustCode(t, pgprobe(t, nil, "-o", "json", target), 0)
}

func pgQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestAdviceDirectTLSAgainstPostgreSQL15: PostgreSQL 15 reads the
// ClientHello as a startup packet of absurd length and hangs up; the advice
// names sslnegotiation and the version it needs, not the server's key file.
func TestAdviceDirectTLSAgainstPostgreSQL15(t *testing.T) {
	c := sslServer(t)
	target := conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "sslnegotiation=direct")
	advice, _ := adviceOf(t, nil, 2, "tls", target)
	wantAdvice(t, advice, []string{"PostgreSQL 17 or later", "sslnegotiation=postgres", "may be the cause", "invalid length of startup packet"},
		[]string{"ssl_key_file"})
	if lib := libpqoracle.Connect(t, oracleVersion, target); lib.OK {
		t.Errorf("libpq 18 connected with direct TLS to PostgreSQL 15")
	}
	if log := c.Log(t); !strings.Contains(log, "invalid length of startup packet") {
		t.Errorf("the server log does not say what the advice says it does:\n%s", log)
	}
	mustCode(t, pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "sslnegotiation=postgres")), 0)
}

// TestDirectTLSHintNeedsPostgreSQL17: the timeline suggests direct TLS
// only to a server known to accept it.
func TestDirectTLSHintNeedsPostgreSQL17(t *testing.T) {
	for _, v := range []int{15, 17} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			c := pgtest.Start(t, pgtest.Options{SSL: true, HBA: hba, Roles: roles, Version: v})
			r := pgprobe(t, nil, conn(c, "user=trustuser", "dbname=postgres", "sslmode=require"))
			mustCode(t, r, 0)
			hint := strings.Contains(r.stdout, "sslnegotiation=direct would save 1")
			if hint != (v >= 17) {
				t.Errorf("PostgreSQL %d: direct TLS hint shown: %v\n%s", v, hint, r.stdout)
			}
			if v >= 17 {
				r := pgprobe(t, nil, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "sslmode=require", "sslnegotiation=direct"))
				mustCode(t, r, 0)
				mustEqual(t, r, "attempts.0.round_trips", 4)
			}
		})
	}
}

func TestAdviceHostaddrWithoutHostUnderVerifyFull(t *testing.T) {
	c := sslServer(t)
	base := fmt.Sprintf("hostaddr=127.0.0.1 port=%d user=trustuser dbname=postgres sslmode=verify-full sslrootcert=%s", c.Port, c.CAFile)
	advice, r := adviceOf(t, nil, 2, "tls", base)
	wantAdvice(t, advice, []string{"host=localhost", "DNS:localhost, IP:127.0.0.1, IP:::1", "hostaddr=127.0.0.1", "verify-ca"},
		[]string{"server's ssl_", "sslkey"})
	msg, _ := get(r.doc, "error.message").(string)
	if out, code := pgtest.RunPsql(t, base, ""); code == 0 || !strings.Contains(out, msg) {
		t.Errorf("psql (exit %d) says %q\npgprobe says %q", code, out, msg)
	}
	mustCode(t, pgprobe(t, nil, "-o", "json", base+" host=localhost"), 0)
}

func TestAdviceIgnoredPasswordFile(t *testing.T) {
	c := sslServer(t)
	for _, how := range []string{"HOME", "PGPASSFILE"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			file := pgtest.WriteFile(t, dir, ".pgpass", []byte(fmt.Sprintf("*:*:*:scramuser:%s\n", scramPW)), 0o644)
			env := map[string]string{"HOME": dir}
			if how == "PGPASSFILE" {
				env = map[string]string{"PGPASSFILE": file}
			}
			target := conn(c, "user=scramuser", "dbname=postgres")
			advice, _ := adviceOf(t, env, 1, "auth", target)
			wantAdvice(t, advice, []string{"ignored the password file", file, "chmod 0600 " + file}, []string{"DATABASE:USER:PASSWORD", "Supply one"})
			if err := os.Chmod(file, 0o600); err != nil {
				t.Fatal(err)
			}
			mustCode(t, pgprobe(t, env, "-o", "json", target), 0)
		})
	}
}

// TestAdviceNoHBALineOnServerWithoutSSL: a server that answered 'N' has SSL
// off; the advice must not send the user to sslmode=require and hostssl.
func TestAdviceNoHBALineOnServerWithoutSSL(t *testing.T) {
	p := plainServer(t)
	s := sslServer(t)
	for _, tc := range []struct {
		c           *pgtest.Cluster
		want, avoid []string
	}{
		{p, []string{"hostnossl postgres nosuchuser 127.0.0.1/32", "answered 'N'"}, []string{"sslmode=require"}},
		{s, []string{"hostssl postgres nosuchuser 127.0.0.1/32"}, []string{"answered 'N'"}},
	} {
		advice, _ := adviceOf(t, nil, 1, "auth", conn(tc.c, "user=nosuchuser", "dbname=postgres"))
		wantAdvice(t, advice, tc.want, tc.avoid)
	}
}

// TestAdviceOversizedStartupPacket: PostgreSQL refuses a startup packet
// over 10000 bytes by hanging up without a word. The verdict names that,
// and the human output shows the 100 KB user name cut, while the JSON
// keeps it whole.
func TestAdviceOversizedStartupPacket(t *testing.T) {
	c := sslServer(t)
	for _, tc := range []struct {
		n   int
		ssl string
	}{
		{100000, "require"},
		{100000, "disable"},
		// Too long for the socket's buffers: the server resets the
		// connection while the packet is being sent.
		{5000000, "disable"},
	} {
		t.Run(fmt.Sprint(tc.n, tc.ssl), func(t *testing.T) {
			user := strings.Repeat("u", tc.n)
			target := conn(c, "user="+user, "dbname=postgres", "sslmode="+tc.ssl)
			advice, r := adviceOf(t, nil, 2, "protocol", target)
			wantAdvice(t, advice, []string{"invalid length of startup packet", "10000 bytes", "user="}, []string{"firewall", user[:300]})
			if !slices.Contains(startupUsers(r), user) {
				t.Errorf("the JSON should keep the user name whole")
			}
			if tc.n <= 100000 { // the longest argument Linux passes to a program is 128 KB
				if out, code := pgtest.RunPgIsready(t, []string{"-d", target}); code != 2 {
					t.Errorf("pg_isready: exit %d, want 2 (no response): %s", code, out)
				}
			}
			if r := pgprobe(t, nil, "--ping", target); r.code != 2 {
				t.Errorf("--ping: exit %d, want 2", r.code)
			}
			for _, args := range [][]string{{target}, {"-o", "table", target}, {"-v", target}} {
				r := pgprobe(t, nil, args...)
				mustCode(t, r, 2)
				// The table cuts the target to its column before the
				// length marker could show; the timeline says how long it was.
				marked := args[0] == "-o" || strings.Contains(r.stdout, fmt.Sprintf("… (%d characters)", tc.n+5))
				if len(r.stdout) > 20000 || strings.Contains(r.stdout, user[:300]) || !marked {
					t.Errorf("%v: %d bytes of output; the user name should be cut:\n%.3000s", args[:len(args)-1], len(r.stdout), r.stdout)
				}
			}
		})
	}
	if log := c.Log(t); !strings.Contains(log, "invalid length of startup packet") {
		t.Errorf("the server log does not say what the advice says it does")
	}
}

// startupUsers is the user of each StartupMessage in the JSON record.
func startupUsers(r result) []string {
	var users []string
	for i := range attempts(r) {
		evs, _ := get(r.doc, fmt.Sprintf("attempts.%d.events", i)).([]any)
		for _, e := range evs {
			if get(e, "step") == "startup" {
				u, _ := get(e, "data.user").(string)
				users = append(users, u)
			}
		}
	}
	return users
}

func TestAdviceMissingRootFileNamesLibpqVersion(t *testing.T) {
	c := sslServer(t)
	advice, _ := adviceOf(t, nil, 2, "tls", conn(c, "user=trustuser", "dbname=postgres", "sslmode=verify-full"))
	wantAdvice(t, advice, []string{"sslrootcert=system for a public CA, libpq 16 or later", "root.crt"}, nil)
}
