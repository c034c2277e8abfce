package diagnose

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

// Where the texts come from (the commits the library had):
//
//	PgBouncer  pgbouncer/pgbouncer 13a344f2625381296fc02e29b986a11be9c6b983
//	           (master after pgbouncer_1_25_2, 2026-07-10); errors go through
//	           src/objects.c disconnect_client → src/proto.c
//	           send_pooler_error: FATAL, SQLSTATE 08P01 by default.
//	           "1.18.0: :N" is the line at tag pgbouncer_1_18_0
//	           (0f19a66d5db6e5356c39bbad3e6a7d18e9cb5aad, Debian 12's
//	           package), whose src/proto.c send_pooler_error always sends
//	           08P01.
//	Supavisor  supabase/supavisor 03e5cc5697904df3b98b2e4a587bbbd5bc054157
//	           (v2.9.5-55); lib/supavisor/error.ex: FATAL, XX000,
//	           "(CODE) message". Older texts: 85acdde26b97f1c1b151c1e759f1b581e81e09a6
//	           (v2.8.8-39, before #841), lib/supavisor/client_handler/error.ex.
//	Neon       neondatabase/neon 6a35a3e9f149798df1b1761ee64099d8d75fbe90
//	           (2026-03-25); proxy/src/stream.rs throw_error and
//	           proxy/src/pqproto.rs write_error: ERROR, XX000.
//	pgcat      postgresml/pgcat 5b038813eb14f181434ab7b5509e74d9b1fe123b
//	           (Cargo version 1.3.0); src/messages.rs error_response_terminal:
//	           FATAL, 58000.
//	RDS Proxy  closed source: AWS's "Troubleshooting for RDS Proxy" page,
//	           https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.troubleshooting.html,
//	           as stored in awsdocs/amazon-rds-user-guide
//	           doc_source/rds-proxy.troubleshooting.md at
//	           0219b24f7008c50d897f2da74ea812fb55487c09 (PostgreSQL table). It
//	           gives no SQLSTATEs; the cases use XX000.

// poolerCases has one case per recognised text (TestPoolerSignaturesCovered
// checks that).
var poolerCases = []struct {
	name, pooler, code, msg string
	fix                     string // must appear in the advice
}{
	// PgBouncer: src/client.c:1086 (startup, before authentication).
	{"pgbouncer max_client_conn", "PgBouncer", "08P01", "no more connections allowed (max_client_conn)", "max_client_conn"},
	// src/client.c:481 and :517 (after authentication, before AuthenticationOk).
	{"pgbouncer max_db_client_connections", "PgBouncer", "08P01", "client connections exceeded (max_db_client_connections)", "max_db_client_connections in pgbouncer.ini"},
	{"pgbouncer max_user_client_connections", "PgBouncer", "08P01", "client connections exceeded (max_user_client_connections)", "max_user_client_connections in pgbouncer.ini"},
	// src/objects.c:2041 finish_client_login (after authentication; at once with auth_type=trust/any).
	{"pgbouncer no such database", "PgBouncer", "08P01", "no such database: app", "[databases]"},
	// src/objects.c:881 check_fast_fail (since 1.24; 1.17–1.23: "server login has been failing, try again later (server_login_retry)", commit ab795716).
	{"pgbouncer server login failing", "PgBouncer", "08P01", `server login has been failing, cached error: password authentication failed for user "app" (server_login_retry)`, "server_login_retry"},
	{"pgbouncer server login failing 1.17", "PgBouncer", "08P01", "server login has been failing, try again later (server_login_retry)", "[databases] entry"},
	// src/objects.c check_fast_fail before commit ab795716 (pgbouncer 1.16 and older).
	{"pgbouncer cannot connect (<1.17)", "PgBouncer", "08P01", "pgbouncer cannot connect to server", "[databases] entry"},
	// src/proto.c:511 (and :633, :639, :698) via src/server.c kill_pool_logins.
	{"pgbouncer server login failed", "PgBouncer", "08P01", "server login failed: wrong password type", "auth_file"},
	// src/janitor.c:464 (waiting for a server, after login).
	{"pgbouncer query_wait_timeout", "PgBouncer", "08P01", "query_wait_timeout", "default_pool_size"},
	// src/janitor.c:741 and :489.
	{"pgbouncer client_login_timeout", "PgBouncer", "08P01", "client_login_timeout", "client_login_timeout"},
	{"pgbouncer client_login_timeout server down", "PgBouncer", "08P01", "client_login_timeout (server down)", "[databases] entry"},
	// src/client.c:1413 (PasswordMessage checked against auth_file/auth_query).
	{"pgbouncer password authentication failed", "PgBouncer", "08P01", "password authentication failed", "auth_file"},
	// src/client.c:1349 and :1373 (SCRAM).
	{"pgbouncer SASL authentication failed", "PgBouncer", "08P01", "SASL authentication failed", "auth_file"},
	// src/client.c:439 (1.18.0: :262) finish_set_pool: AUTH_TRUST (from
	// auth_type = trust, or a trust line of auth_hba_file) and mock_auth: a
	// user not in auth_file, with no auth_user or a fake database (not in
	// [databases]: set_pool does not run auth_query for it; src/client.c:682).
	// PostgreSQL's own adds `for user "…"` and uses 28000
	// (TestPoolerNotPostgreSQL).
	{"pgbouncer trust unknown user", "PgBouncer", "08P01", `"trust" authentication failed`, "auth_file"},
	{"pgbouncer trust from auth_hba_file", "PgBouncer", "08P01", `"trust" authentication failed`, "a trust line of auth_hba_file"},
	{"pgbouncer trust, no auth_user", "PgBouncer", "08P01", `"trust" authentication failed`, "there is no auth_user"},
	{"pgbouncer trust, fake database", "PgBouncer", "08P01", `"trust" authentication failed`, "the database is not in [databases]"},
	// src/client.c:794 (1.18.0: :478): auth_query returned no row.
	{"pgbouncer no such user", "PgBouncer", "08P01", "no such user", "auth_query"},
	// src/client.c:273 (1.18.0: :180) login_via_cert.
	{"pgbouncer certificate", "PgBouncer", "08P01", "certificate authentication failed", "sslcert="},
	// src/client.c:314 (1.18.0: :194) login_as_unix_peer.
	{"pgbouncer unix peer", "PgBouncer", "08P01", "unix socket login rejected", "OS user"},
	// src/client.c:457 (1.18.0: :279): auth_hba_file `reject` (src/hba.c:764).
	{"pgbouncer login rejected", "PgBouncer", "08P01", "login rejected", "auth_hba_file"},
	// src/client.c:405 (since 1.23, commit cc5a98c6): no auth_hba_file line matched.
	{"pgbouncer no hba line", "PgBouncer", "08P01", "no authentication method is found", "auth_hba_file"},
	// src/client.c:1305 (1.18.0: :757): client_tls_sslmode=require, plaintext startup.
	{"pgbouncer ssl required", "PgBouncer", "08P01", "SSL required", "sslmode=require"},
	// src/pam.c:287 (1.18.0 too).
	{"pgbouncer pam", "PgBouncer", "08P01", "PAM authentication failed", "PAM"},
	// src/ldapauth.c:582 (since 1.25).
	{"pgbouncer ldap", "PgBouncer", "08P01", "LDAP authentication failed", "auth_ldap_options"},
	// src/objects.c:2046 (1.18.0: :1464) finish_client_login after DISABLE.
	{"pgbouncer database disabled", "PgBouncer", "08P01", `database "app" is disabled`, "ENABLE"},
	// src/client.c:1057 and :938 (startup, before authentication).
	{"pgbouncer unsupported startup parameter", "PgBouncer", "08P01", "unsupported startup parameter: extra_float_digits", "ignore_startup_parameters"},
	{"pgbouncer unsupported startup parameter in options", "PgBouncer", "08P01", "unsupported startup parameter in options: statement_timeout", "ignore_startup_parameters"},
	// src/objects.c:2051.
	{"pgbouncer shutting down", "PgBouncer", "08P01", "pooler is shutting down", "restarted"},

	// Supavisor: lib/supavisor/errors/tenant_or_user_not_found_error.ex (handshake, before authentication).
	{"supavisor tenant/user not found", "Supavisor", "XX000", "(ENOTFOUND) tenant/user postgres.abcdefghij not found", "USER.PROJECT_REF"},
	// Before v2.8: lib/supavisor/client_handler/error.ex at 85acdde2.
	{"supavisor tenant or user not found (<2.8)", "Supavisor", "XX000", "Tenant or user not found", "USER.PROJECT_REF"},
	// lib/supavisor/errors/no_tenant_identifier_error.ex.
	{"supavisor no identifier", "Supavisor", "XX000", "(ENOIDENTIFIER) no tenant identifier provided (external_id or sni_hostname required)", "USER.PROJECT_REF"},
	// lib/supavisor/errors/max_connections_error.ex (handshake).
	{"supavisor max conn", "Supavisor", "XX000", "(EMAXCONN) max client connections reached, limit: 200", "Max Client Connections"},
	{"supavisor max conn session", "Supavisor", "XX000", "(EMAXCONNSESSION) max clients reached in session mode - max clients are limited to pool_size: 15", "Pool Size"},
	{"supavisor max clients session (no code)", "Supavisor", "XX000", "max clients reached in session mode - max clients are limited to pool_size: 15", "Pool Size"},
	{"supavisor max conn (<2.8)", "Supavisor", "XX000", "Max client connections reached", "Max Client Connections"},
	// lib/supavisor/errors/ssl_required_error.ex; before v2.8 error.ex at 85acdde2.
	{"supavisor ssl required", "Supavisor", "XX000", "(ESSLREQUIRED) SSL connection is required for user: postgres", "sslmode=require"},
	{"supavisor ssl required (<2.8)", "Supavisor", "XX000", "SSL connection is required", "sslmode=require"},
	// lib/supavisor/errors/address_not_allowed_error.ex; before v2.8 error.ex.
	{"supavisor address not allowed", "Supavisor", "XX000", `(EADDRNOTALLOWED) address not in tenant allow_list: {203, 0, 113, 7}`, "Network Restrictions"},
	{"supavisor address not allowed (<2.8)", "Supavisor", "XX000", `Address not in tenant allow_list: {203, 0, 113, 7}`, "Network Restrictions"},
	// lib/supavisor/errors/circuit_breaker_error.ex, lib/supavisor/circuit_breaker.ex.
	{"supavisor circuit breaker", "Supavisor", "XX000", "(ECIRCUITBREAKER) too many authentication failures, new connections are temporarily blocked", "wait a few minutes"},
	// lib/supavisor/errors/checkout_timeout_error.ex.
	{"supavisor checkout timeout", "Supavisor", "XX000", "(ECHECKOUTTIMEOUT) unable to check out connection from the pool after 5000ms in Session mode", "Pool Size"},
	// lib/supavisor/errors/auth_secrets_error.ex.
	{"supavisor auth secrets", "Supavisor", "XX000", "(EAUTHSECRETS) failed to retrieve authentication secrets: :timeout", "paused"},
	// lib/supavisor/errors/tenant_banned_error.ex.
	{"supavisor banned", "Supavisor", "XX000", "(EBANNED) tenant is banned: abuse", "support"},

	// Neon: proxy/src/auth/mod.rs:51 MissingEndpointName (startup, before authentication).
	{"neon endpoint not specified", "Neon's proxy", "XX000", "Endpoint ID is not specified. Either please upgrade the postgres client library (libpq) for SNI support or pass the endpoint ID (first part of the domain name) as a parameter: '?options=endpoint%3D<endpoint-id>'. See more at https://neon.tech/sni", "options=endpoint%3DENDPOINT_ID"},
	// proxy/src/auth/credentials.rs:26.
	{"neon inconsistent project", "Neon's proxy", "XX000", "Inconsistent project name inferred from SNI ('ep-cool-1') and project option ('ep-other-2').", "options=endpoint%3D"},
	// proxy/src/auth/mod.rs:59.
	{"neon vpc endpoint", "Neon's proxy", "XX000", "VPC endpoint ID is not specified. This endpoint requires a VPC endpoint ID to connect.", "PrivateLink"},
	// proxy/src/auth/mod.rs:72 and :82.
	{"neon ip not allowed", "Neon's proxy", "XX000", "This IP address 203.0.113.7 is not allowed to connect to this endpoint. Please add it to the allowed list in the Neon console. Make sure to check for IPv4 or IPv6 addresses.", "allowed list"},
	{"neon vpc id not allowed", "Neon's proxy", "XX000", "This VPC endpoint id vpce-1 is not allowed to connect to this endpoint. Please add it to the allowed list in the Neon console.", "allowed list"},
	// proxy/src/auth/mod.rs:78.
	{"neon blocked network", "Neon's proxy", "XX000", "This connection is trying to access this endpoint from a blocked network.", "network security"},
	// proxy/src/auth/mod.rs:64 (single quotes: PostgreSQL's own uses double quotes).
	{"neon password", "Neon's proxy", "XX000", "password authentication failed for user 'neondb_owner'", "Neon console"},
	// proxy/src/compute/mod.rs:33 COULD_NOT_CONNECT (after authentication).
	{"neon compute", "Neon's proxy", "XX000", "Couldn't connect to compute node", "connect_timeout"},
	{"neon compute with cause", "Neon's proxy", "XX000", "Couldn't connect to compute node: connection refused", "connect_timeout"},
	// proxy/src/auth/mod.rs:87.
	{"neon too many connections", "Neon's proxy", "XX000", "Too many connections to this endpoint. Please try again later.", "-pooler"},
	// proxy/src/compute/mod.rs:105, proxy/src/control_plane/errors.rs:172.
	{"neon permit", "Neon's proxy", "XX000", "Failed to acquire permit to connect to the database. Too many database connection attempts are currently ongoing.", "-pooler"},
	// proxy/src/control_plane/errors.rs:11 REQUEST_FAILED.
	{"neon control plane", "Neon's proxy", "XX000", "Control plane request failed", "control plane"},
	// proxy/src/compute/mod.rs:56 (PgBouncer's text, passed on with Neon's link).
	{"neon unsupported startup parameter", "Neon's proxy", "XX000", "unsupported startup parameter: search_path. Please use unpooled connection or remove this parameter from the startup package. More details: https://neon.tech/docs/connect/connection-errors#unsupported-startup-parameter", "unpooled host name"},

	// RDS Proxy (AWS documentation, see above).
	{"rds requires tls", "RDS Proxy", "XX000", "This RDS Proxy requires TLS connections.", "sslmode=require"},
	{"rds iam needs ssl", "RDS Proxy", "XX000", "IAM authentication is allowed only with SSL connections.", "sslmode=require"},
	{"rds iam needs ssl short", "RDS Proxy", "XX000", "IAM is allowed only with SSL connections.", "sslmode=require"},
	{"rds no credentials", "RDS Proxy", "XX000", "This RDS proxy has no credentials for the role postgres. Check the credentials for this role and try again.", "Secrets Manager"},
	{"rds wrong password", "RDS Proxy", "XX000", "The password that was provided for the role postgres is wrong.", "Secrets Manager"},
	{"rds iam failed user", "RDS Proxy", "XX000", "IAM authentication failed for user app. Check the IAM token for this user and try again.", "generate-db-auth-token"},
	{"rds iam failed role", "RDS Proxy", "XX000", "The IAM authentication failed for the role app. Check the IAM token for this role and try again.", "generate-db-auth-token"},
	{"rds iam competing", "RDS Proxy", "XX000", "The IAM authentication failed because of too many competing requests.", "more slowly"},
	{"rds only iam or md5", "RDS Proxy", "XX000", "RDS supports only IAM or MD5 authentication.", "ClientPasswordAuthType"},
	{"rds no user name", "RDS Proxy", "XX000", "A user name is missing from the connection startup packet. Provide a user name for this connection.", "user="},
	{"rds max clients", "RDS Proxy", "XX000", "The maximum number of client connections to the proxy exceeded 1000.", "fewer connections"},
	{"rds rate", "RDS Proxy", "XX000", "Rate of connection to proxy exceeded 100.", "fewer connections"},
	{"rds borrow timeout", "RDS Proxy", "XX000", "Timed-out waiting to acquire database connection.", "describe-db-proxy-targets"},
	{"rds request error", "RDS Proxy", "XX000", `Request returned an error: database "app" does not exist`, "dbname="},
	{"rds feature not supported", "RDS Proxy", "XX000", "Feature not supported: RDS Proxy currently doesn't support streaming replication mode.", "replication="},

	// pgcat: src/client.rs:563 (startup, before authentication).
	{"pgcat no pool", "pgcat", "58000", `No pool configured for database: "app", user: "x"`, "pgcat.toml"},
	// src/client.rs:1631 get_pool (at query time, when the pool has gone, e.g. after a RELOAD).
	{"pgcat no pool (query)", "pgcat", "58000", "No pool configured for database: app, user: x", "[pools.DATABASE]"},
	// src/client.rs:729 (after authentication).
	{"pgcat pool down", "pgcat", "58000", `Pool down for database: "app", user: "x"`, "shards"},
	// src/client.rs:1092 and :1120 (query time).
	{"pgcat no connection", "pgcat", "58000", "could not get connection from the pool - AllServersDown", "pool_size"},
	{"pgcat checkout limit", "pgcat", "58000", "checkout failure limit reached (3 / 3)", "pool_size"},
}

func TestPoolerSignatures(t *testing.T) {
	for _, tc := range poolerCases {
		t.Run(tc.name, func(t *testing.T) {
			e := &statelog.Error{Class: statelog.ClassServer, SQLState: tc.code, Severity: "FATAL", Message: "FATAL:  " + tc.msg}
			if got := Pooler(e, nil); got != tc.pooler {
				t.Fatalf("Pooler = %q, want %q", got, tc.pooler)
			}
			a := Advise(e, nil)
			for _, want := range []string{tc.pooler, "pooler or proxy", "not proven", tc.fix} {
				if !strings.Contains(a, want) {
					t.Errorf("advice lacks %q:\n%s", want, a)
				}
			}
			// The pooler's own SQLSTATE says nothing PostgreSQL's would: no
			// pg_hba.conf or max_connections advice after the pooler's fix.
			for _, bad := range []string{"pg_hba.conf", "max_connections", "createdb"} {
				if strings.Contains(a, bad) {
					t.Errorf("advice mentions %q:\n%s", bad, a)
				}
			}
		})
	}
}

// TestPoolerSignaturesCovered: every recognised text has a case above.
func TestPoolerSignaturesCovered(t *testing.T) {
	for _, p := range poolers {
		for _, s := range p.sigs {
			found := false
			for _, tc := range poolerCases {
				m := strings.ToLower(tc.msg)
				if tc.pooler == p.name && (s.exact && m == s.text || !s.exact && strings.Contains(m, s.text)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no test case for %q", p.name, s.text)
			}
		}
	}
}

func TestPoolerNotPostgreSQL(t *testing.T) {
	// What PostgreSQL itself says must not be attributed to a pooler.
	for _, e := range []*statelog.Error{
		{SQLState: "28P01", Message: `FATAL:  password authentication failed for user "app"`},
		{SQLState: "28P01", Message: "FATAL:  password authentication failed"}, // PgBouncer's words, PostgreSQL's code
		// PostgreSQL's auth_failed (src/backend/libpq/auth.c): PgBouncer's
		// words with `for user "…"`, and 28000/28P01.
		{SQLState: "28000", Message: `FATAL:  "trust" authentication failed for user "app"`},
		{SQLState: "28000", Message: `FATAL:  certificate authentication failed for user "app"`},
		{SQLState: "28P01", Message: `FATAL:  PAM authentication failed for user "app"`},
		{SQLState: "28P01", Message: `FATAL:  LDAP authentication failed for user "app"`},
		{SQLState: "28000", Message: `FATAL:  "trust" authentication failed`}, // PgBouncer's words, PostgreSQL's code
		{SQLState: "3D000", Message: `FATAL:  database "neondb" does not exist`},
		{SQLState: "53300", Message: "FATAL:  sorry, too many clients already"},
		{SQLState: "42704", Message: `FATAL:  unrecognized configuration parameter "foo"`},
		{SQLState: "08P01", Message: "FATAL:  invalid length of startup packet"},
		{SQLState: "28000", Message: `FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption`},
		{SQLState: "57P03", Message: "FATAL:  the database system is starting up"},
	} {
		e.Class = statelog.ClassServer
		if p := Pooler(e, nil); p != "" {
			t.Errorf("%s %q was attributed to %s", e.SQLState, e.Message, p)
		}
	}
}

func TestPoolerOnlyFromWhatThePeerSent(t *testing.T) {
	// A host name in a local error is not the proxy speaking.
	dns := &statelog.Error{Class: statelog.ClassDNS, Message: `could not translate host name "ep-cool-1.us-east-2.aws.neon.tech" to address: Name or service not known`}
	if p := Pooler(dns, nil); p != "" {
		t.Errorf("a DNS error was attributed to %s", p)
	}
	if a := Advise(dns, nil); strings.Contains(a, "pooler") {
		t.Errorf("DNS advice mentions a pooler: %s", a)
	}
	// Nor is a pooler's text in a local error.
	local := &statelog.Error{Class: statelog.ClassConnect, Message: "query_wait_timeout"}
	if p := Pooler(local, nil); p != "" {
		t.Errorf("a local error was attributed to %s", p)
	}
	// The PgBouncer text gets PgBouncer's fix, not the 08P01 advice.
	pb := &statelog.Error{Class: statelog.ClassServer, SQLState: "08P01", Message: "FATAL:  no more connections allowed (max_client_conn)"}
	a := Advise(pb, nil)
	for _, want := range []string{"PgBouncer", "not proven", "max_client_conn"} {
		if !strings.Contains(a, want) {
			t.Errorf("advice lacks %q: %s", want, a)
		}
	}
	if base := advise(nil, pb, nil); base != "" && strings.Contains(a, base) {
		t.Errorf("advice repeats the 08P01 advice: %s", a)
	}
}

func TestPoolerParameterStatus(t *testing.T) {
	// PgBouncer's admin console: src/admin.c:1905 sends server_version
	// PACKAGE_VERSION "/bouncer" (pgbouncer 13a344f2).
	bouncer := &statelog.Attempt{OK: true, Server: &statelog.Server{Parameters: map[string]string{"server_version": "1.25.2/bouncer"}}}
	if p := Pooler(nil, bouncer); p != "PgBouncer" {
		t.Errorf("Pooler = %q, want PgBouncer", p)
	}
	// The others forward the server's values: nothing to recognise.
	for _, v := range []string{"17.4", "16.6 (Debian 16.6-1.pgdg120+1)", "15.8", "neon", "supavisor"} {
		a := &statelog.Attempt{OK: true, Server: &statelog.Server{Parameters: map[string]string{"server_version": v, "application_name": "pgbouncer"}}}
		if p := Pooler(nil, a); p != "" {
			t.Errorf("server_version %q was attributed to %s", v, p)
		}
	}
	// An error the server behind sent, recognised by ParameterStatus only,
	// keeps the SQLSTATE advice.
	e := &statelog.Error{Class: statelog.ClassServer, SQLState: "53300", Message: "FATAL:  sorry, too many clients already"}
	if a := Advise(e, bouncer); !strings.Contains(a, "PgBouncer") || !strings.Contains(a, "max_connections") {
		t.Errorf("advice = %s", a)
	}
	// ParameterStatus on a successful attempt gives a warning, once.
	l := &statelog.Log{Attempts: []*statelog.Attempt{{OK: true, Server: &statelog.Server{Parameters: map[string]string{"server_version": "1.22.1/bouncer"}}}}}
	Record(l)
	Record(l)
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "PgBouncer") {
		t.Errorf("warnings = %q", l.Warnings)
	}
}

func TestMadeUpKeyWarning(t *testing.T) {
	for _, tc := range []struct {
		pid  uint32
		warn bool
	}{
		{0, false}, {12345, false}, {MaxOSPid, false}, {MaxOSPid + 1, true}, {3468389092, true},
	} {
		a := &statelog.Attempt{Server: &statelog.Server{BackendPID: tc.pid}}
		if got := madeUpKeyWarning(a); (got != "") != tc.warn || tc.warn && (!strings.Contains(got, "probably made up by a pooler") || !strings.Contains(got, "Linux, BSD or macOS")) {
			t.Errorf("pid %d: %q", tc.pid, got)
		}
	}
	if madeUpKeyWarning(&statelog.Attempt{}) != "" || madeUpKeyWarning(nil) != "" {
		t.Error("a warning without a BackendKeyData")
	}
}
