package report

import (
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// A pooler or proxy in front of PostgreSQL answers the startup itself: its
// errors and its ParameterStatus values are its own, and an answer from it
// proves nothing about the database behind it (pgbouncer#803).

// pooler is one pooler or proxy recognisable by what it sends.
type pooler struct {
	name string
	// texts are lower-case fragments of its own error messages.
	texts []string
	// params are lower-case fragments of ParameterStatus values it sets.
	params []string
	// fix is what to do about an error it sent.
	fix string
}

var poolers = []pooler{
	{name: "PgBouncer",
		texts:  []string{"pgbouncer", "max_client_conn", "no more connections allowed", "server login has been failing", "query_wait_timeout", "client_login_timeout", "no such database:"},
		params: []string{"bouncer"},
		fix:    "Check pgbouncer.ini: the [databases] entry (host, port, dbname) for this database, max_client_conn and default_pool_size, and auth_file/auth_query for this user; PgBouncer's log and `SHOW POOLS;` on its admin console (dbname=pgbouncer) tell whether it reaches the server."},
	{name: "Supavisor",
		texts:  []string{"supavisor", "tenant/user", "tenant or user not found"},
		params: []string{"supavisor"},
		fix:    "Supavisor needs the user as USER.PROJECT_REF (e.g. postgres.abcdefghij) and the pooler host of your project's region, both copied from the project's connection settings; use port 5432 for session mode, 6543 for transaction mode."},
	{name: "Neon's proxy",
		texts:  []string{"endpoint id", "neon.tech"},
		params: []string{"neon"},
		fix:    "Neon's proxy picks the endpoint from the TLS SNI name: connect with sslmode=require and a libpq 14 or newer (or a driver that sends SNI) to the endpoint's full host name, or pass the endpoint as options=endpoint%3DENDPOINT_ID (the first label of the host name)."},
	{name: "RDS Proxy",
		texts:  []string{"rds proxy"},
		params: []string{"rds proxy", "rdsproxy"},
		fix:    "Check the proxy's Secrets Manager secret for this user (it must hold the current password), the proxy's IAM role allowing secretsmanager:GetSecretValue, its target group health (`aws rds describe-db-proxy-targets`), and whether the proxy requires TLS (sslmode=require) or IAM authentication."},
	{name: "pgcat",
		texts:  []string{"pgcat", "no pool configured for database"},
		params: []string{"pgcat"},
		fix:    "Check pgcat.toml: a [pools.DATABASE] section with a [pools.DATABASE.users] entry for this user and password, and the shards' servers; pgcat's log says whether it reaches them."},
}

// Pooler names the pooler or proxy (PgBouncer, Supavisor, Neon's proxy, RDS
// Proxy, pgcat) that the error text or the attempt's ParameterStatus values
// show, or "".
func Pooler(e *statelog.Error, a *statelog.Attempt) string {
	if p := poolerOf(e, a); p != nil {
		return p.name
	}
	return ""
}

func poolerOf(e *statelog.Error, a *statelog.Attempt) *pooler {
	// Only what the peer itself sent counts: a host name in a local error
	// ("could not translate host name …neon.tech") proves nothing.
	if e != nil && (e.SQLState != "" || e.Untrusted != "") {
		text := strings.ToLower(core(e.Message) + "\n" + e.Detail + "\n" + e.Hint + "\n" + e.Untrusted)
		for i := range poolers {
			for _, t := range poolers[i].texts {
				if strings.Contains(text, t) {
					return &poolers[i]
				}
			}
		}
	}
	if a != nil && a.Server != nil {
		v := strings.ToLower(a.Server.Parameters["server_version"] + "\n" + a.Server.Parameters["application_name"])
		for i := range poolers {
			{
				for _, t := range poolers[i].params {
					if strings.Contains(v, t) {
						return &poolers[i]
					}
				}
			}
		}
	}
	return nil
}

// poolerNote is what every advice about an answer from a pooler ends with.
func poolerNote(name string) string {
	return "This answer came from " + name + ", a pooler or proxy, not from PostgreSQL itself: the database behind it was not proven up or down."
}

// advisePooler is the advice for an error a pooler or proxy sent.
func advisePooler(p *pooler, base string) string {
	s := poolerNote(p.name) + " " + p.fix
	if base != "" && !strings.HasPrefix(base, "The server refused the connection after it started talking") && !strings.HasPrefix(base, "The connection failed.") {
		s += " " + base
	}
	return s
}

// poolerWarning is the warning a successful probe through a pooler gets.
func poolerWarning(name string) string {
	return "the server identifies as " + name + ", a pooler or proxy: a successful connection proves the pooler answers, not that the database behind it is up (run a query through it, e.g. `psql -c 'select 1'`, to prove that)"
}
