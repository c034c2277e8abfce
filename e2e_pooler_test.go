package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/probe"
)

// TestPoolerRecognition: errors and ParameterStatus values that only a
// pooler or proxy sends make the advice say that the database behind it
// was not proven.
func TestPoolerRecognition(t *testing.T) {
	errorCases := []struct {
		name, pooler, code, msg string
		preAuth                 bool
		fix                     string
	}{
		{"PgBouncer max_client_conn", "PgBouncer", "08P01", "no more connections allowed (max_client_conn)", true, "max_client_conn"},
		{"PgBouncer cannot connect", "PgBouncer", "08P01", "pgbouncer cannot connect to server", false, "[databases]"},
		{"Supavisor tenant", "Supavisor", "XX000", "(ENOTFOUND) tenant/user postgres.abcdefghij not found", true, "USER.PROJECT_REF"},
		{"Neon endpoint", "Neon's proxy", "08P01", "Endpoint ID is not specified. Either please upgrade the postgres client library (libpq) for SNI support or pass the endpoint ID (first part of the domain name) as a parameter: '?options=endpoint%3D<endpoint-id>'. See more at https://neon.tech/sni", true, "options=endpoint%3DENDPOINT_ID"},
		{"RDS Proxy", "RDS Proxy", "28000", "This RDS Proxy has no credentials for the role postgres. Check the credentials for this role and try again.", false, "Secrets Manager"},
		{"pgcat", "pgcat", "08P01", `No pool configured for database: "app", user: "x"`, true, "pgcat.toml"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			var port int
			if tc.preAuth {
				port = preAuthError(t, tc.code, tc.msg, "")
			} else {
				port = postAuthError(t, tc.code, tc.msg)
			}
			target := fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=app", port)
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
		port := testServer(t, probe.ServerConfig{Auth: probe.AuthTrust, Then: probe.ThenOK, ServerVersion: "1.22.1/bouncer", Timeout: 10 * time.Second})
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
}
