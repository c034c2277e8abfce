package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/probe"
)

// When a pooler sends its error, relative to authentication.
const (
	// beforeAuth: in answer to the StartupMessage, instead of the first
	// authentication request.
	beforeAuth = iota
	// duringAuth: after the client sent its password, instead of
	// AuthenticationOk (PgBouncer's finish_client_login, Neon's and pgcat's
	// connection to the server behind them).
	duringAuth
	// afterAuth: after AuthenticationOk, instead of ReadyForQuery.
	afterAuth
)

// poolerServer answers with the pooler's ErrorResponse at the given moment.
func poolerServer(t *testing.T, when int, e *pgproto3.ErrorResponse) int {
	t.Helper()
	b := encodeMsg(t, e)
	switch when {
	case beforeAuth:
		return testServer(t, probe.ServerConfig{Timeout: 10 * time.Second, Script: func(int) *probe.Script {
			return &probe.Script{Actions: []probe.Action{{Step: "auth_request", Nth: 1, Replace: b, Close: true}}}
		}})
	case duringAuth:
		return testServer(t, probe.ServerConfig{Auth: probe.AuthPassword, Password: "secret", Timeout: 10 * time.Second, Script: func(int) *probe.Script {
			return &probe.Script{Actions: []probe.Action{{Step: "auth_ok", Nth: 1, Replace: b, Close: true}}}
		}})
	default:
		return testServer(t, probe.ServerConfig{Auth: probe.AuthTrust, Timeout: 10 * time.Second, Script: func(int) *probe.Script {
			return &probe.Script{ThenError: e}
		}})
	}
}

// TestPoolerRecognition: errors and ParameterStatus values that only a
// pooler or proxy sends make the advice say that the database behind it
// was not proven, and name the pooler's own fix. Each case sends the text,
// severity and SQLSTATE the pooler sends, at the moment it sends it; the
// source of each is cited (report/pooler_test.go has every recognised text).
func TestPoolerRecognition(t *testing.T) {
	errorCases := []struct {
		name, pooler   string
		severity, code string
		msg            string
		when           int
		fix            string
	}{
		// pgbouncer/pgbouncer 13a344f2 (after 1.25.2) src/client.c:1086;
		// FATAL and 08P01 from src/proto.c send_pooler_error.
		{"PgBouncer max_client_conn", "PgBouncer", "FATAL", "08P01", "no more connections allowed (max_client_conn)", beforeAuth, "max_client_conn in pgbouncer.ini"},
		// pgbouncer 13a344f2 src/client.c:1057.
		{"PgBouncer unsupported startup parameter", "PgBouncer", "FATAL", "08P01", "unsupported startup parameter: extra_float_digits", beforeAuth, "ignore_startup_parameters"},
		// pgbouncer 13a344f2 src/objects.c:2041 finish_client_login.
		{"PgBouncer no such database", "PgBouncer", "FATAL", "08P01", "no such database: app", duringAuth, "[databases]"},
		// pgbouncer 13a344f2 src/client.c:1413.
		{"PgBouncer password", "PgBouncer", "FATAL", "08P01", "password authentication failed", duringAuth, "auth_file"},
		// pgbouncer 13a344f2 src/objects.c:881 check_fast_fail.
		{"PgBouncer server login failing", "PgBouncer", "FATAL", "08P01", `server login has been failing, cached error: connect failed (server_login_retry)`, duringAuth, "server_login_retry"},
		// pgbouncer before 1.17 (src/objects.c, replaced by commit ab795716).
		{"PgBouncer cannot connect (<1.17)", "PgBouncer", "FATAL", "08P01", "pgbouncer cannot connect to server", duringAuth, "[databases] entry"},
		// pgbouncer 13a344f2 src/janitor.c:464.
		{"PgBouncer query_wait_timeout", "PgBouncer", "FATAL", "08P01", "query_wait_timeout", afterAuth, "default_pool_size"},
		// supabase/supavisor 03e5cc56 (v2.9.5-55) lib/supavisor/errors/tenant_or_user_not_found_error.ex,
		// FATAL and XX000 from lib/supavisor/error.ex.
		{"Supavisor tenant/user", "Supavisor", "FATAL", "XX000", "(ENOTFOUND) tenant/user postgres.abcdefghij not found", beforeAuth, "USER.PROJECT_REF"},
		// supavisor 85acdde2 (v2.8.8-39) lib/supavisor/client_handler/error.ex.
		{"Supavisor tenant or user (<2.8)", "Supavisor", "FATAL", "XX000", "Tenant or user not found", beforeAuth, "USER.PROJECT_REF"},
		// supavisor 03e5cc56 lib/supavisor/errors/max_connections_error.ex.
		{"Supavisor max clients", "Supavisor", "FATAL", "XX000", "(EMAXCONNSESSION) max clients reached in session mode - max clients are limited to pool_size: 15", beforeAuth, "Pool Size"},
		// neondatabase/neon 6a35a3e9 proxy/src/auth/mod.rs:51; ERROR and
		// XX000 from proxy/src/stream.rs throw_error, proxy/src/pqproto.rs.
		{"Neon endpoint", "Neon's proxy", "ERROR", "XX000", "Endpoint ID is not specified. Either please upgrade the postgres client library (libpq) for SNI support or pass the endpoint ID (first part of the domain name) as a parameter: '?options=endpoint%3D<endpoint-id>'. See more at https://neon.tech/sni", beforeAuth, "options=endpoint%3DENDPOINT_ID"},
		// neon 6a35a3e9 proxy/src/compute/mod.rs:33 COULD_NOT_CONNECT.
		{"Neon compute", "Neon's proxy", "ERROR", "XX000", "Couldn't connect to compute node", duringAuth, "connect_timeout"},
		// neon 6a35a3e9 proxy/src/auth/mod.rs:64.
		{"Neon password", "Neon's proxy", "ERROR", "XX000", "password authentication failed for user 'neondb_owner'", duringAuth, "Neon console"},
		// AWS "Troubleshooting for RDS Proxy" (awsdocs/amazon-rds-user-guide
		// doc_source/rds-proxy.troubleshooting.md, 0219b24f); no SQLSTATE documented.
		{"RDS Proxy no credentials", "RDS Proxy", "FATAL", "XX000", "This RDS proxy has no credentials for the role postgres. Check the credentials for this role and try again.", duringAuth, "Secrets Manager"},
		{"RDS Proxy requires TLS", "RDS Proxy", "FATAL", "XX000", "This RDS Proxy requires TLS connections.", beforeAuth, "sslmode=require"},
		{"RDS Proxy IAM", "RDS Proxy", "FATAL", "XX000", "IAM authentication failed for user app. Check the IAM token for this user and try again.", duringAuth, "generate-db-auth-token"},
		// postgresml/pgcat 5b038813 src/client.rs:563; FATAL and 58000 from
		// src/messages.rs error_response_terminal.
		{"pgcat no pool", "pgcat", "FATAL", "58000", `No pool configured for database: "app", user: "x"`, beforeAuth, "pgcat.toml"},
		// pgcat 5b038813 src/client.rs:729.
		{"pgcat pool down", "pgcat", "FATAL", "58000", `Pool down for database: "app", user: "x"`, duringAuth, "shards"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			port := poolerServer(t, tc.when, &pgproto3.ErrorResponse{Severity: tc.severity, SeverityUnlocalized: tc.severity, Code: tc.code, Message: tc.msg})
			target := fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=app password=secret", port)
			r := pgprobe(t, nil, "-o", "json", target)
			mustCode(t, r, 1)
			mustEqual(t, r, "error.sqlstate", tc.code)
			advice, _ := get(r.doc, "error.advice").(string)
			for _, want := range []string{tc.pooler, "pooler or proxy", "not proven", tc.fix} {
				if !strings.Contains(advice, want) {
					t.Errorf("advice should contain %q:\n%s", want, advice)
				}
			}
		})
	}
	t.Run("PgBouncer server_version on success", func(t *testing.T) {
		// PgBouncer's admin console: pgbouncer 13a344f2 src/admin.c:1905
		// sends server_version PACKAGE_VERSION "/bouncer".
		port := testServer(t, probe.ServerConfig{Auth: probe.AuthTrust, Then: probe.ThenOK, ServerVersion: "1.25.2/bouncer", Timeout: 10 * time.Second})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=pgbouncer", port))
		mustCode(t, r, 0)
		if w := fmt.Sprint(get(r.doc, "warnings")); !strings.Contains(w, "PgBouncer") || !strings.Contains(w, "not that the database behind it is up") {
			t.Errorf("warnings should say PgBouncer answered and the database was not proven: %s", w)
		}
		// The timeline shows it too.
		r = pgprobe(t, nil, fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=pgbouncer", port))
		if !strings.Contains(r.stdout+r.stderr, "PgBouncer") {
			t.Errorf("the timeline should name PgBouncer:\n%s%s", r.stdout, r.stderr)
		}
	})
	t.Run("plain PostgreSQL is no pooler", func(t *testing.T) {
		port := testServer(t, probe.ServerConfig{Auth: probe.AuthTrust, Then: probe.ThenOK, Timeout: 10 * time.Second})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=neondb", port))
		mustCode(t, r, 0)
		mustEqual(t, r, "warnings", nil)
	})
	t.Run("PostgreSQL's own password error is no pooler", func(t *testing.T) {
		port := poolerServer(t, duringAuth, &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28P01", Message: `password authentication failed for user "x"`})
		r := pgprobe(t, nil, "-o", "json", fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=app password=secret", port))
		mustCode(t, r, 1)
		if advice, _ := get(r.doc, "error.advice").(string); strings.Contains(advice, "pooler") {
			t.Errorf("advice names a pooler:\n%s", advice)
		}
	})
}
