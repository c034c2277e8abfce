//go:build unix

package main

// GSSAPI against a real MIT KDC and PostgreSQL 15 with a keytab, with psql
// (Debian's libpq, built with GSSAPI) as the oracle for every verdict.

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/credentials"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

const gssPW = "gss-secret-Ω5"

// gssRealm is a KDC and a server trusting it: gssuser must come over GSS
// encryption (hostgssenc), nogssenc must not (hostnogssenc), sslgss only
// inside TLS (hostssl); each authenticates by gss as the principal of the
// same name.
type gssRealm struct {
	kdc    *pgtest.KDC
	c      *pgtest.Cluster
	caches map[string]string // principal → a FILE: cache holding its ticket
}

func startGSSRealm(t *testing.T) *gssRealm {
	t.Helper()
	kdc := pgtest.StartKDC(t)
	users := []string{"gssuser", "nogssenc", "sslgss"}
	for _, u := range users {
		kdc.AddUser(t, u, gssPW)
	}
	kdc.AddService(t, "postgres/localhost")
	c := pgtest.Start(t, pgtest.Options{SSL: true,
		Roles: []pgtest.Role{{Name: "gssuser"}, {Name: "nogssenc"}, {Name: "sslgss"}, {Name: "scramuser", Password: scramPW}},
		HBA:   []string{"local all all trust"}})
	kdc.ServerKeytab(t, c)
	c.SetHBA(t, []string{
		"hostgssenc all gssuser 127.0.0.1/32 gss include_realm=0",
		"hostnogssenc all nogssenc 127.0.0.1/32 gss include_realm=0",
		"hostssl all sslgss 127.0.0.1/32 gss include_realm=0",
		"host all scramuser 127.0.0.1/32 scram-sha-256",
	})
	r := &gssRealm{kdc: kdc, c: c, caches: map[string]string{}}
	for _, u := range users {
		r.caches[u] = kdc.Kinit(t, u, gssPW, "")
	}
	return r
}

// gssCase is one target, run by psql and by pgprobe with the same
// Kerberos environment.
type gssCase struct {
	name  string
	conn  []string
	cache string // "" for no credential cache
}

// run gives psql's verdict (its exit code, its error lines, and for a
// connection the GSS and SSL state pg_stat_gssapi and pg_stat_ssl show)
// and pgprobe's JSON record.
func (r *gssRealm) run(t *testing.T, tc gssCase) (psqlOut string, psqlCode int, res result) {
	t.Helper()
	target := r.c.ConnString(append([]string{"host=localhost", "dbname=postgres"}, tc.conn...)...)
	env := r.kdc.Env(tc.cache)
	psqlOut, psqlCode = pgtest.RunPsql(t, target,
		"select g.encrypted, s.ssl from pg_stat_gssapi g join pg_stat_ssl s using (pid) where pid = pg_backend_pid()", env...)
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	res = pgprobe(t, vars, "-o", "json", target)
	return psqlOut, psqlCode, res
}

// sameFailure checks that every line of psql's error is in pgprobe's.
func sameFailure(t *testing.T, psqlOut string, res result) {
	t.Helper()
	msg, _ := get(res.doc, "error.message").(string)
	for _, line := range strings.Split(strings.TrimSpace(strings.TrimPrefix(psqlOut, "psql: error: ")), "\n") {
		if !strings.Contains(msg, strings.TrimSpace(line)) {
			t.Errorf("psql said %q; pgprobe's error lacks it:\n%s", line, msg)
		}
	}
}

func TestGSSAgainstPsql(t *testing.T) {
	r := startGSSRealm(t)
	t.Run("connects", func(t *testing.T) {
		for _, tc := range []struct {
			gssCase
			psql                 string // pg_stat_gssapi.encrypted|pg_stat_ssl.ssl
			gssResponses, method string
			encryptions, lastTLS string
		}{
			{gssCase{"default settings: GSS encryption", []string{"user=gssuser"}, r.caches["gssuser"]}, "t|f", "G", "gss", "gss", "false"},
			{gssCase{"gssencmode=require", []string{"user=gssuser", "gssencmode=require"}, r.caches["gssuser"]}, "t|f", "G", "gss", "gss", "false"},
			{gssCase{"gss inside TLS", []string{"user=sslgss", "gssencmode=disable", "sslmode=require"}, r.caches["sslgss"]}, "f|t", "<nil>", "gss", "ssl", "true"},
			{gssCase{"hostnogssenc under prefer: GSS refused, then SSL", []string{"user=nogssenc"}, r.caches["nogssenc"]}, "f|t", "G <nil>", "gss", "gss ssl", "true"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, code, res := r.run(t, tc.gssCase)
				if code != 0 || strings.TrimSpace(out) != tc.psql {
					t.Fatalf("psql: %d %q, want 0 %q", code, out, tc.psql)
				}
				mustCode(t, res, 0)
				var gss, enc []string
				for i := range attempts(res) {
					gss = append(gss, fmt.Sprint(get(res.doc, fmt.Sprintf("attempts.%d.gss_response", i))))
					enc = append(enc, fmt.Sprint(get(res.doc, fmt.Sprintf("attempts.%d.encryption", i))))
				}
				last := len(attempts(res)) - 1
				if strings.Join(gss, " ") != tc.gssResponses || strings.Join(enc, " ") != tc.encryptions {
					t.Errorf("gss_response %v, encryption %v; want %s, %s\n%s", gss, enc, tc.gssResponses, tc.encryptions, res.stdout)
				}
				mustEqual(t, res, fmt.Sprintf("attempts.%d.auth.method", last), tc.method)
				mustEqual(t, res, fmt.Sprintf("attempts.%d.gss.client_principal", last), strings.TrimPrefix(tc.conn[0], "user=")+"@"+pgtest.Realm)
				mustEqual(t, res, fmt.Sprintf("attempts.%d.gss.service_principal", last), "postgres/localhost@"+pgtest.Realm)
				mustEqual(t, res, fmt.Sprintf("attempts.%d.gss.encrypted", last), tc.encryptions == "gss")
				mustEqual(t, res, fmt.Sprintf("attempts.%d.gss.established", last), true)
				if tc.lastTLS == "false" && get(res.doc, fmt.Sprintf("attempts.%d.tls", last)) != nil {
					t.Errorf("TLS in a GSS-encrypted session:\n%s", res.stdout)
				}
				if !inOrder(states(res, 0), []string{"CONNECTION_MADE", "CONNECTION_GSS_STARTUP", "CONNECTION_GSS_STARTUP", "CONNECTION_MADE"}) && tc.gssResponses != "<nil>" {
					t.Errorf("states %v: no CONNECTION_GSS_STARTUP", states(res, 0))
				}
				if h, _ := get(res.doc, fmt.Sprintf("attempts.%d.gss.ticket_hours_left", last)).(float64); h < 1 {
					t.Errorf("ticket_hours_left %v: the realm's tickets last a day", h)
				}
			})
		}
	})
	t.Run("fails", func(t *testing.T) {
		for _, tc := range []struct {
			gssCase
			code   int    // pgprobe's (psql says 2 for every failure)
			cause  string // the cause of the final error
			advice string // in the final error's advice
		}{
			{gssCase{"wrong krbsrvname, hostgssenc user", []string{"user=gssuser", "krbsrvname=nope"}, r.caches["gssuser"]}, 1, "", "hostnossl"},
			{gssCase{"wrong krbsrvname, gss auth", []string{"user=nogssenc", "krbsrvname=nope"}, r.caches["nogssenc"]}, 1, "kerberos_unknown_service_principal", "check krbsrvname"},
			{gssCase{"an IP address names another principal", []string{"user=nogssenc", "host=127.0.0.1"}, r.caches["nogssenc"]}, 1, "kerberos_unknown_service_principal", "an IP address (host=127.0.0.1)"},
			{gssCase{"no credential cache, hostgssenc user", []string{"user=gssuser"}, ""}, 1, "", "pg_hba.conf"},
			{gssCase{"no credential cache, gss auth", []string{"user=nogssenc"}, ""}, 1, "kerberos_no_ccache", "Run `kinit`"},
			{gssCase{"another principal's ticket", []string{"user=nogssenc"}, r.caches["gssuser"]}, 1, "", "gssuser@" + pgtest.Realm + " does not map"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, code, res := r.run(t, tc.gssCase)
				if code != 2 {
					t.Fatalf("psql connected (%d): %s", code, out)
				}
				mustCode(t, res, tc.code)
				sameFailure(t, out, res)
				if tc.cause != "" {
					mustEqual(t, res, "error.cause", tc.cause)
				}
				if advice, _ := get(res.doc, "error.advice").(string); !strings.Contains(advice, tc.advice) {
					t.Errorf("advice %q lacks %q", advice, tc.advice)
				}
			})
		}
	})
}

// TestGSSMinTicketHours: --min-ticket-hours checks the ticket that was
// used (the realm's tickets last a day); the timeline shows the context,
// and no output holds a key or a ticket.
func TestGSSMinTicketHours(t *testing.T) {
	r := startGSSRealm(t)
	env := map[string]string{"KRB5_CONFIG": r.kdc.Config, "KRB5CCNAME": r.caches["gssuser"]}
	target := r.c.ConnString("host=localhost", "user=gssuser", "dbname=postgres")
	for _, tc := range []struct {
		hours string
		code  int
	}{{"1", 0}, {"100", 4}} {
		res := pgprobe(t, env, "-o", "json", "--min-ticket-hours", tc.hours, target)
		mustCode(t, res, tc.code)
		mustEqual(t, res, "checks.0.name", "min-ticket-hours")
	}
	res := pgprobe(t, nil, "--min-ticket-hours", "-1", target)
	mustCode(t, res, 3)

	// require_auth (libpq 16; psql 15 does not know it): over GSSAPI
	// encryption the server asks for nothing more, which check_expected_areq
	// accepts when gss is allowed.
	for _, tc := range []struct {
		requireAuth string
		code        int
	}{{"gss", 0}, {"!password", 0}, {"scram-sha-256", 1}} {
		res := pgprobe(t, env, "-o", "json", target+" require_auth="+tc.requireAuth)
		mustCode(t, res, tc.code)
		if tc.code == 1 {
			mustEqual(t, res, "attempts.0.error.message", fmt.Sprintf("connection to server at \"localhost\" (127.0.0.1), port %d failed: authentication method requirement \"scram-sha-256\" failed: server did not complete authentication", r.c.Port))
		}
	}

	res = pgprobe(t, env, "-v", target)
	mustCode(t, res, 0)
	for _, want := range []string{"CONNECTION_GSS_STARTUP", "gss_handshake", "GSSAPI", "yes (GSSAPI encryption"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, res.stdout)
		}
	}
	// No secret: neither the TGT's session key nor the ticket itself.
	cc, err := credentials.LoadCCache(strings.TrimPrefix(r.caches["gssuser"], "FILE:"))
	if err != nil {
		t.Fatal(err)
	}
	res = pgprobe(t, env, "-o", "json", target)
	for _, c := range cc.GetEntries() {
		for _, secret := range [][]byte{c.Key.KeyValue, c.Ticket[len(c.Ticket)-32:]} {
			for _, enc := range []string{hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret)} {
				if strings.Contains(res.stdout, enc) {
					t.Errorf("a key or ticket of the cache is in the output")
				}
			}
		}
	}
}

// TestGSSTicketLifetime: an expired ticket, then a KDC that does not answer
// (each with a realm of its own: the KDC is stopped).
func TestGSSTicketLifetime(t *testing.T) {
	r := startGSSRealm(t)
	short := r.kdc.Kinit(t, "nogssenc", gssPW, "2s")
	r.kdc.WaitExpired(t, short)
	for _, tc := range []gssCase{
		{"expired ticket, gss auth", []string{"user=nogssenc"}, short},
		{"expired ticket, hostgssenc user", []string{"user=gssuser"}, short},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, res := r.run(t, tc)
			if code != 2 {
				t.Fatalf("psql connected (%d): %s", code, out)
			}
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			sameFailure(t, out, res)
		})
	}
	t.Run("KDC unreachable", func(t *testing.T) {
		r.kdc.Stop()
		fresh := r.caches["nogssenc"]
		out, code, res := r.run(t, gssCase{"", []string{"user=nogssenc", "krbsrvname=other"}, fresh})
		if code != 2 {
			t.Fatalf("psql connected (%d): %s", code, out)
		}
		mustCode(t, res, 1)
		sameFailure(t, out, res)
		mustEqual(t, res, "error.cause", "kerberos_kdc_unreachable")
	})
}
