//go:build linux

package main

// Protocol 3.2, NegotiateProtocolVersion, BackendKeyData's cancel key and
// OAUTHBEARER: what no real server shows is played by the project's test
// server, and libpq 18 itself (internal/libpqoracle) is the oracle for the
// verdict and every word. Real servers: TestLibpq18 and TestProtocolRecord.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/internal/libpqoracle"
	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/server"
)

// scriptedCase is one connection to the test server (speaking up to 3.2,
// as PostgreSQL 18) doing what its script says.
type scriptedCase struct {
	name   string
	script *server.Script
	kv     string
	code   int
	class  string
}

func negotiate(version uint32, opts ...string) *server.Script {
	return &server.Script{NegotiateProtocolVersion: &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: version, UnrecognizedOptions: opts}}
}

func cancelKey(t *testing.T, n int) *server.Script {
	return &server.Script{Actions: []server.Action{{Step: "backend_key_data",
		Replace: encodeMsg(t, &pgproto3.BackendKeyData{ProcessID: 4242, SecretKey: make([]byte, n)})}}}
}

func offering(mechs ...string) *server.Script { return &server.Script{SASLMechanisms: mechs} }

const (
	v30 = 3 << 16
	v31 = 3<<16 | 1
	v32 = 3<<16 | 2
)

func scriptedCases(t *testing.T) []scriptedCase {
	return []scriptedCase{
		{name: "3.2 accepted", script: &server.Script{}, kv: "max_protocol_version=3.2"},
		{name: "latest accepted", script: &server.Script{}, kv: "max_protocol_version=latest"},
		{name: "min 3.2 accepted", script: &server.Script{}, kv: "min_protocol_version=3.2"},
		{name: "negotiated down to 3.0", script: negotiate(v30), kv: "max_protocol_version=3.2", code: 2, class: "protocol"}, // then a 32-byte key in 3.0
		{name: "3.0 refused by min_protocol_version", script: negotiate(v30), kv: "min_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "negotiation asking for no change", script: negotiate(v30), code: 2, class: "protocol"},
		{name: "negotiation to the same version", script: negotiate(v32), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "upgrade offered", script: negotiate(v32), code: 2, class: "protocol"},
		{name: "protocol 5.0 offered", script: negotiate(5 << 16), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "pre-3.0 offered", script: negotiate(0), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "3.1 offered", script: negotiate(v31), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "unrequested _pq_ option", script: negotiate(v32, "_pq_.foo"), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "option without _pq_", script: negotiate(v30, "foo"), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "8-byte cancel key in 3.0", script: cancelKey(t, 8), code: 2, class: "protocol"},
		{name: "3-byte cancel key in 3.0", script: cancelKey(t, 3), code: 2, class: "protocol"},
		{name: "3-byte cancel key in 3.2", script: cancelKey(t, 3), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "300-byte cancel key in 3.2", script: cancelKey(t, 300), kv: "max_protocol_version=3.2", code: 2, class: "protocol"},
		{name: "256-byte cancel key in 3.2", script: cancelKey(t, 256), kv: "max_protocol_version=3.2"},
		{name: "OAUTHBEARER without oauth settings", script: offering("OAUTHBEARER"), code: 1, class: "auth"},
		{name: "OAUTHBEARER with oauth_issuer only", script: offering("OAUTHBEARER"), kv: "oauth_issuer=https://issuer.example", code: 1, class: "auth"},
		{name: "require_auth=oauth against SCRAM", script: offering("SCRAM-SHA-256", "OAUTHBEARER"), kv: "require_auth=oauth", code: 1, class: "auth"},
		{name: "require_auth=scram-sha-256 against OAUTHBEARER", script: offering("OAUTHBEARER"), kv: "require_auth=scram-sha-256", code: 1, class: "auth"},
		{name: "require_auth=!oauth against OAUTHBEARER", script: offering("OAUTHBEARER"), kv: "require_auth=!oauth oauth_issuer=https://issuer.example oauth_client_id=c", code: 1, class: "auth"},
		{name: "require_auth=!scram-sha-256 without TLS", script: &server.Script{}, kv: "require_auth=!scram-sha-256", code: 1, class: "auth"},
	}
}

// TestLibpq18Scripted compares pgprobe with libpq 18 on each scripted
// connection: the verdict, the message verbatim and the protocol version.
func TestLibpq18Scripted(t *testing.T) {
	for _, tc := range scriptedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.script
			port := testServer(t, server.Config{Then: server.ThenOK, Password: "pw", MaxProtocol: server.Protocol32,
				Script: func(int) *server.Script { return s }})
			target := fmt.Sprintf("host=127.0.0.1 port=%d user=u password=pw sslmode=disable %s", port, tc.kv)
			r := pgprobe(t, nil, "-o", "json", target)
			lib := libpqoracle.Connect(t, oracleVersion, target)
			for _, d := range compareWithLibpq(r, lib, false) {
				t.Errorf("%s: %s", target, d)
			}
			if r.code != tc.code {
				t.Fatalf("pgprobe exit %d, want %d\n%s", r.code, tc.code, r.stdout)
			}
			if tc.code != 0 {
				mustEqual(t, r, "error.class", tc.class)
			}
		})
	}
}

// TestOAuthBearerFlow: with oauth_issuer and oauth_client_id, libpq 18
// starts the OAuth flow; pgprobe records the mechanism and says plainly that
// it does not run the flow, and what libpq would do.
func TestOAuthBearerFlow(t *testing.T) {
	port := testServer(t, server.Config{Then: server.ThenOK, SASLMechanisms: []string{"OAUTHBEARER", "SCRAM-SHA-256"}})
	target := fmt.Sprintf("host=127.0.0.1 port=%d user=u sslmode=disable oauth_issuer=https://issuer.example oauth_client_id=pgprobe-test oauth_scope=openid", port)
	r := pgprobe(t, nil, "-o", "json", target)
	mustCode(t, r, 1)
	mustEqual(t, r, "error.class", "auth")
	msg, _ := get(r.doc, "error.message").(string)
	detail, _ := get(r.doc, "error.detail").(string)
	if !strings.HasSuffix(msg, "server requested OAUTHBEARER authentication: pgprobe does not run the OAuth flow") ||
		!strings.Contains(detail, `https://issuer.example`) || !strings.Contains(detail, `client "pgprobe-test"`) || !strings.Contains(detail, `scope "openid"`) {
		t.Errorf("message %q, detail %q", msg, detail)
	}
	mustEqual(t, r, "attempts.0.auth.method", "oauth")
	mustEqual(t, r, "attempts.0.auth.mechanisms", []any{"OAUTHBEARER", "SCRAM-SHA-256"})
	// libpq 18 chose OAUTHBEARER too: the test server, which has no OAuth
	// validator, refuses it.
	lib := libpqoracle.Connect(t, oracleVersion, target)
	if lib.OK || !strings.Contains(lib.Error, "client selected an invalid SASL authentication mechanism") {
		t.Errorf("libpq 18: %+v", lib)
	}
	// libpq 15 knows no OAUTHBEARER (the README's table says so).
	only := testServer(t, server.Config{Then: server.ThenOK, SASLMechanisms: []string{"OAUTHBEARER"}})
	out, code := pgtest.RunPsql(t, fmt.Sprintf("host=127.0.0.1 port=%d user=u sslmode=disable", only), "SELECT 1")
	if code != 2 || !strings.Contains(out, "none of the server's SASL authentication mechanisms are supported") {
		t.Errorf("psql 15: exit %d\n%s", code, out)
	}
}

// TestProtocolRecord: what the record says about the negotiation with
// real servers: PostgreSQL 15 negotiates a 3.2 request down to 3.0 (an
// event of its own), PostgreSQL 18 grants it with a 32-byte cancel key.
func TestProtocolRecord(t *testing.T) {
	t.Parallel()
	for _, v := range []int{15, 18} {
		t.Run(fmt.Sprintf("PostgreSQL %d", v), func(t *testing.T) {
			t.Parallel()
			c := pgtest.Start(t, pgtest.Options{Version: v, HBA: hba, Roles: roles})
			r := pgprobeSerial(t, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "sslmode=disable", "max_protocol_version=3.2"))
			mustCode(t, r, 0)
			mustEqual(t, r, "attempts.0.protocol.requested", "3.2")
			mustEqual(t, r, "attempts.0.protocol.min", "3.0")
			granted, negotiated, key := "3.2", false, 32
			if v < 18 {
				granted, negotiated, key = "3.0", true, 4
				if !inOrder(steps(r, 0), []string{"startup", "negotiate_protocol_version", "auth_ok", "backend_key_data"}) {
					t.Errorf("steps %v", steps(r, 0))
				}
				mustEqual(t, r, "attempts.0.protocol.server_version", "3.0")
			}
			mustEqual(t, r, "attempts.0.protocol.granted", granted)
			mustEqual(t, r, "attempts.0.protocol.negotiated", negotiated)
			mustEqual(t, r, "attempts.0.server.protocol_version", granted)
			mustEqual(t, r, "attempts.0.server.cancel_key_length", key)
			if reason, _ := get(r.doc, "attempts.0.protocol.reason").(string); !strings.Contains(reason, "max_protocol_version=3.2") {
				t.Errorf("reason %q", reason)
			}
			// min_protocol_version=3.2: refused by 15 with libpq 18's words
			// (TestLibpq18 compares them); --ping answers as PQping does.
			target := conn(c, "user=trustuser", "dbname=postgres", "sslmode=disable", "min_protocol_version=3.2")
			p := pgprobeSerial(t, "--ping", "-o", "json", target)
			if want := libpqoracle.Ping(t, oracleVersion, target); p.code != want {
				t.Errorf("--ping exit %d, PQping %d\n%s", p.code, want, p.stdout)
			}
			if c.Version < 18 {
				// The advice names the setting and the version, not a
				// peer that is no PostgreSQL.
				r := pgprobeSerial(t, "-o", "json", target)
				advice, _ := get(r.doc, "error.advice").(string)
				if !strings.Contains(advice, "Lower min_protocol_version") || strings.Contains(advice, "HTTP") {
					t.Errorf("advice for a refused downgrade: %q", advice)
				}
			}
		})
	}
}

// TestGSSEncryptionWithoutCredentials: pgprobe follows a libpq built with
// GSSAPI (the distributions', like psql 15 here) when there is no Kerberos
// credential cache: gssencmode=prefer sends no GSSENCRequest, require fails
// with exit 2 (libpq 18's words; psql 15's libpq words it otherwise, after
// connecting). A cache file without credentials in it counts as none, as
// for gss_acquire_cred. (e2e_gss_test.go has the credentials.)
func TestGSSEncryptionWithoutCredentials(t *testing.T) {
	c := sslServer(t)
	noCache := "FILE:" + filepath.Join(t.TempDir(), "krb5cc_none")
	env := map[string]string{"KRB5CCNAME": noCache}

	target := conn(c, "user=trustuser", "dbname=postgres", "gssencmode=require")
	out, code := pgtest.RunPsql(t, target, "SELECT 1", "KRB5CCNAME="+noCache)
	if code != 2 || !strings.Contains(out, "GSSAPI encryption required but was impossible") {
		t.Fatalf("psql 15 (built with GSSAPI): exit %d\n%s", code, out)
	}
	r := pgprobe(t, env, "-o", "json", target)
	mustCode(t, r, 2)
	mustEqual(t, r, "error.class", "ssl")
	mustEqual(t, r, "error.message", "GSSAPI encryption required but no credential cache")
	if s := steps(r, 0); len(s) != 1 || s[0] != "resolve" {
		t.Errorf("libpq 18 fails before connecting: steps %v", s)
	}

	r = pgprobe(t, env, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "gssencmode=prefer"))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.gss_response", nil)
	if g, _ := get(r.doc, "attempts.0.gss_encryption").(string); !strings.Contains(g, "no Kerberos credential cache ("+noCache+")") {
		t.Errorf("gss_encryption %q", g)
	}
	if _, code := pgtest.RunPsql(t, conn(c, "user=trustuser", "dbname=postgres", "gssencmode=prefer"), "SELECT 1", "KRB5CCNAME="+noCache); code != 0 {
		t.Errorf("psql 15 with gssencmode=prefer: exit %d", code)
	}

	r = pgprobe(t, env, "-o", "json", fmt.Sprintf("host=%s port=%d user=trustuser dbname=postgres gssencmode=require", c.SocketDir, c.Port))
	mustCode(t, r, 2)
	mustEqual(t, r, "error.message", "GSSAPI encryption required but it is not supported over a local socket")

	cache := filepath.Join(t.TempDir(), "krb5cc_test")
	if err := os.WriteFile(cache, []byte("not a real cache"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{"KRB5CCNAME": "FILE:" + cache}
	r = pgprobe(t, env, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "gssencmode=prefer"))
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.gss_response", nil)
	r = pgprobe(t, env, "-o", "json", conn(c, "user=trustuser", "dbname=postgres", "gssencmode=require"))
	mustCode(t, r, 2)
	mustEqual(t, r, "error.message", "GSSAPI encryption required but no credential cache")
	if _, code := pgtest.RunPsql(t, conn(c, "user=trustuser", "dbname=postgres", "gssencmode=require"), "SELECT 1", "KRB5CCNAME=FILE:"+cache); code != 2 {
		t.Errorf("psql 15 with a cache without credentials and gssencmode=require: exit %d", code)
	}
}
