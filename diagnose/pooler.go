package diagnose

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// A pooler or proxy in front of PostgreSQL answers the startup itself: its
// errors and its ParameterStatus values are its own, and an answer from it
// proves nothing about the database behind it (pgbouncer#803).
//
// The texts below were checked against the poolers' sources (RDS Proxy:
// AWS's documentation); diagnose/pooler_test.go and e2e_pooler_test.go cite
// the file and commit of each. What the poolers send, in short:
//   - PgBouncer (src/objects.c disconnect_client → src/proto.c
//     send_pooler_error): severity FATAL, SQLSTATE 08P01 unless it forwards
//     the server's own error (src/server.c kill_pool_logins_server_error).
//   - Supavisor (lib/supavisor/error.ex): FATAL, XX000, "(ECODE) message"
//     since v2.8 (#841); plain messages before.
//   - Neon's proxy (proxy/src/stream.rs throw_error): ERROR, XX000.
//   - pgcat (src/messages.rs error_response_terminal): FATAL, 58000.
//   - RDS Proxy: messages documented, SQLSTATEs not.
//
// Only PgBouncer sets a ParameterStatus of its own: its admin console
// (dbname=pgbouncer) sends server_version "VERSION/bouncer" (src/admin.c).
// The others, and PgBouncer for a real database, forward the server's
// values, so a pooler cannot be recognised from them.

// signature is one error text a pooler sends, and the fix for it.
type signature struct {
	// text is a lower-case fragment of the message, detail or hint, or,
	// when exact is set, the whole message.
	text  string
	exact bool
	// sqlstate, when set, must be the error's SQLSTATE too.
	sqlstate string
	fix      string
}

// pooler is one pooler or proxy recognisable by what it sends.
type pooler struct {
	name string
	sigs []signature
	// params are lower-case fragments of the server_version it reports.
	params []string
	// fix is the general advice, used when only params matched.
	fix string
	// keepBase: the SQLSTATE advice for the error applies as well (the
	// pooler was recognised by its ParameterStatus, so the error may be the
	// server's own, forwarded).
	keepBase bool
}

var poolers = []pooler{
	// Neon comes first: its pooled endpoints run PgBouncer, and the proxy
	// adds a neon.tech link to PgBouncer's "unsupported startup parameter".
	{name: "Neon's proxy",
		sigs: []signature{
			// Before "endpoint id is not specified", which it contains.
			{text: "vpc endpoint id is not specified", fix: "This endpoint accepts connections only through AWS PrivateLink: connect through the VPC endpoint configured for the project (its private host name), not over the internet."},
			{text: "endpoint id is not specified", fix: neonSNI},
			{text: "inconsistent project name inferred from sni", fix: "The endpoint named in options=endpoint%3D… (or project=) is not the one in the host name: drop the option or make both the same endpoint ID."},
			{text: "is not allowed to connect to this endpoint", fix: "Neon's IP Allow list (or VPC endpoint restriction) rejects this client: add its address (IPv4 and IPv6) to the project's allowed list in the Neon console, or connect from an allowed network."},
			{text: "access this endpoint from a blocked network", fix: "The project blocks this network (public or private access is disabled): connect from the allowed network, or change the project's network security settings in the Neon console."},
			{text: "password authentication failed for user '", fix: "Neon's proxy rejected the password of this role: copy the current password from the Neon console (Roles; reset it there if unknown) into password=, PGPASSWORD or ~/.pgpass."},
			{text: "couldn't connect to compute node", fix: "Neon's proxy accepted the login but could not reach the compute (endpoint) behind it: it may still be waking from suspend (retry, or raise connect_timeout to 10 or more), or be suspended for a quota or disabled; check the endpoint's state in the Neon console."},
			{text: "too many connections to this endpoint", fix: "Too many connections are being opened to this endpoint at once: connect through the pooled host name (ENDPOINT-pooler.REGION…) and open fewer connections concurrently."},
			{text: "failed to acquire permit to connect to the database", fix: "Too many connection attempts to this endpoint are in flight: connect through the pooled host name (ENDPOINT-pooler.REGION…) and open fewer connections concurrently."},
			{text: "control plane request failed", fix: "Neon's proxy could not get this endpoint from Neon's control plane: the endpoint, branch or project may not exist (check the host name against the Neon console) or Neon has an incident; retry later."},
			{text: "neon.tech/docs/connect/connection-errors#unsupported-startup-parameter", fix: "Neon's pooled endpoint (PgBouncer) rejects this startup parameter: connect to the unpooled host name (without -pooler) or drop the parameter (options=, PGOPTIONS)."},
		},
		fix: neonSNI},
	{name: "PgBouncer",
		sigs: []signature{
			{text: "no more connections allowed (max_client_conn)", fix: "PgBouncer already has max_client_conn clients: raise max_client_conn in pgbouncer.ini (with the open-files limit, ulimit -n, to match) and RELOAD, or close idle clients (`SHOW CLIENTS;` on the admin console, dbname=pgbouncer)."},
			{text: "client connections exceeded (max_db_client_connections)", fix: "This database has max_db_client_connections clients in PgBouncer: raise max_db_client_connections in pgbouncer.ini ([pgbouncer], or per database in [databases]) and RELOAD, or close idle clients."},
			{text: "client connections exceeded (max_user_client_connections)", fix: "This user has max_user_client_connections clients in PgBouncer: raise max_user_client_connections in pgbouncer.ini ([pgbouncer], or per user in [users]) and RELOAD, or close idle clients."},
			{text: "no such database:", fix: "The database is not in pgbouncer.ini's [databases] section and there is no `*` fallback entry: add `DBNAME = host=… port=… dbname=…` there (or fix dbname= in the connection string), then RELOAD on the admin console."},
			{text: "server login has been failing", fix: "PgBouncer's own login to the server keeps failing, so it turns clients away for server_login_retry seconds; the text after \"cached error:\" is the server's answer. Fix the [databases] entry (host, port, dbname, user, password) or auth_file/auth_query so that PgBouncer can log in, then RELOAD."},
			{text: "pgbouncer cannot connect to server", fix: "PgBouncer (before 1.17) could not log in to the server and turns clients away for server_login_retry seconds: fix the [databases] entry (host, port, dbname, user, password) or auth_file, then RELOAD; PgBouncer's log has the server's error."},
			{text: "server login failed:", fix: "PgBouncer could not authenticate to the server with the password it has: for scram-sha-256 on the server, auth_file (or auth_query) must hold the plain password or the same SCRAM secret as the server's pg_authid; fix it and RELOAD."},
			{text: "query_wait_timeout", fix: "The client waited longer than query_wait_timeout for a server connection: the pool is full or PgBouncer cannot reach the server. Check `SHOW POOLS;` on the admin console (cl_waiting, sv_active), raise default_pool_size or max_db_connections in pgbouncer.ini, or fix the server."},
			{text: "client_login_timeout", fix: "The login did not finish within client_login_timeout; \"(server down)\" means PgBouncer was still waiting to log in to the server itself. Check the [databases] entry and that the server accepts PgBouncer's connections (PgBouncer's log shows why not)."},
			{text: "password authentication failed", exact: true, sqlstate: "08P01", fix: "PgBouncer itself rejected the password: it checks it against auth_file (e.g. userlist.txt, a line `\"USER\" \"PASSWORD or SCRAM secret\"`) or auth_query, not against the server. Fix that entry and RELOAD, or fix password= / PGPASSWORD / ~/.pgpass."},
			{text: "sasl authentication failed", exact: true, sqlstate: "08P01", fix: "PgBouncer itself rejected the SCRAM exchange: the password does not match the user's entry in auth_file (or auth_query's result), or the user is not there. Fix that entry and RELOAD, or fix password= / PGPASSWORD / ~/.pgpass."},
			{text: "\"trust\" authentication failed", exact: true, sqlstate: "08P01", fix: pgbouncerUnknownUser},
			{text: "no such user", exact: true, sqlstate: "08P01", fix: "PgBouncer's auth_query (run as auth_user on the server) found no such user: create the role on the server (with a password), or fix auth_user / auth_query in pgbouncer.ini, or connect as an existing user (user=)."},
			{text: "certificate authentication failed", exact: true, sqlstate: "08P01", fix: "PgBouncer (auth_type = cert, or a cert line in auth_hba_file) rejected the client certificate: its CN must equal the user name (or match an auth_ident_file map) and be signed by a CA in client_tls_ca_file. Give sslcert= and sslkey= for this user."},
			{text: "unix socket login rejected", exact: true, sqlstate: "08P01", fix: "PgBouncer (auth_type = peer, or a peer line in auth_hba_file) rejected this Unix-socket login: the OS user must equal the database user (or match an auth_ident_file map). Run as that OS user, or connect over TCP (host=127.0.0.1) to a line with another method."},
			{text: "login rejected", exact: true, sqlstate: "08P01", fix: "PgBouncer rejected the login outright: with auth_type = hba the matching line of auth_hba_file is `reject` (or names a method PgBouncer lacks). Fix auth_hba_file (or auth_type) in pgbouncer.ini and RELOAD."},
			{text: "no authentication method is found", exact: true, sqlstate: "08P01", fix: "No line of PgBouncer's auth_hba_file (auth_type = hba) matches this connection's address, database, user and TLS: add one and RELOAD."},
			{text: "ssl required", exact: true, sqlstate: "08P01", fix: "PgBouncer's client_tls_sslmode requires TLS from clients: connect with sslmode=require (or verify-full with the CA of client_tls_cert_file as sslrootcert)."},
			{text: "pam authentication failed", exact: true, sqlstate: "08P01", fix: "PgBouncer (auth_type = pam) had PAM reject the user name or password: fix password= / PGPASSWORD / ~/.pgpass, or the PAM service `pgbouncer` on PgBouncer's host; PgBouncer's log and the system log say why."},
			{text: "ldap authentication failed", exact: true, sqlstate: "08P01", fix: "PgBouncer (auth_type = ldap, or an ldap line in auth_hba_file) had the LDAP server reject the user name or password: fix password= / PGPASSWORD / ~/.pgpass, or auth_ldap_options in pgbouncer.ini; PgBouncer's log says why."},
			{text: "\" is disabled", sqlstate: "08P01", fix: "The database was disabled on PgBouncer's admin console (`DISABLE db;`): run `ENABLE db;` there (dbname=pgbouncer, as an admin_users user) once it should take connections again."},
			{text: "unsupported startup parameter", fix: "PgBouncer refuses startup parameters it does not track: add the parameter's name to ignore_startup_parameters in pgbouncer.ini (e.g. `ignore_startup_parameters = extra_float_digits,options`) and RELOAD, or drop it from the connection (options=, PGOPTIONS)."},
			{text: "pooler is shutting down", fix: "PgBouncer is shutting down (SHUTDOWN, or SIGINT): connect again once it has been restarted."},
		},
		params: []string{"/bouncer"},
		fix:    "This is PgBouncer's admin console (dbname=pgbouncer): connect with the database name of a [databases] entry in pgbouncer.ini to reach a server; `SHOW POOLS;` and `SHOW DATABASES;` here tell whether PgBouncer reaches them."},
	{name: "Supavisor",
		sigs: []signature{
			{text: "(enotfound) tenant/user", fix: supavisorUser},
			{text: "tenant or user not found", fix: supavisorUser}, // before v2.8
			{text: "(enoidentifier)", fix: supavisorUser},
			{text: "(emaxconn", fix: supavisorMax},
			{text: "max client connections reached", fix: supavisorMax}, // before v2.8
			{text: "max clients reached in session mode", fix: supavisorMax},
			{text: "(esslrequired)", fix: "The project enforces SSL: connect with sslmode=require (or verify-full with Supabase's CA as sslrootcert)."},
			{text: "ssl connection is required", exact: true, sqlstate: "XX000", fix: "The project enforces SSL: connect with sslmode=require (or verify-full with Supabase's CA as sslrootcert)."},
			{text: "(eaddrnotallowed)", fix: supavisorAllow},
			{text: "address not in tenant allow_list", fix: supavisorAllow}, // before v2.8
			{text: "(ecircuitbreaker)", fix: "Supavisor is temporarily blocking new connections after repeated failures (too many wrong passwords, or it could not reach the database): fix the password or the database first, then wait a few minutes before connecting again."},
			{text: "(echeckouttimeout)", fix: "No database connection of the pool became free in time: the pool (Pool Size in the project's database settings) is busy; shorten long transactions, use transaction mode (port 6543), or raise the pool size."},
			{text: "(eauthsecrets)", fix: "Supavisor could not fetch this user's password secret from the database: the project may be paused or unhealthy (resume it in the dashboard), or the user does not exist."},
			{text: "(ebanned)", fix: "The project is blocked from connecting through Supavisor (the reason follows \"tenant is banned:\"): see the project's dashboard or contact Supabase support."},
		},
		fix: supavisorUser},
	{name: "RDS Proxy",
		sigs: []signature{
			{text: "this rds proxy requires tls connections", fix: rdsTLS},
			{text: "iam authentication is allowed only with ssl connections", fix: rdsTLS},
			{text: "iam is allowed only with ssl connections", fix: rdsTLS},
			{text: "has no credentials for the role", fix: "The proxy has no Secrets Manager secret for this user: add one (JSON with username and password) and attach it to the proxy's authentication settings (`aws rds modify-db-proxy --auth …`); the proxy's IAM role must be allowed secretsmanager:GetSecretValue on it."},
			{text: "the password that was provided for the role", fix: "The password does not match the user's Secrets Manager secret attached to the proxy: use the secret's password, or update the secret (and the database role) to the new one."},
			{text: "iam authentication failed for", fix: rdsIAM},
			{text: "iam authentication failed because of too many competing requests", fix: "Too many IAM-authenticated connections are being opened at once: open them more slowly (reuse connections, or pool in the application)."},
			{text: "rds supports only iam or md5 authentication", fix: "The proxy does not accept the authentication the client chose (SCRAM): set the proxy's client authentication (ClientPasswordAuthType, e.g. POSTGRES_SCRAM_SHA_256) to what the client uses, or use MD5 or IAM authentication."},
			{text: "a user name is missing from the connection startup packet", fix: "Give a user name: user= or PGUSER."},
			{text: "the maximum number of client connections to the proxy exceeded", fix: rdsLimit},
			{text: "rate of connection to proxy exceeded", fix: rdsLimit},
			{text: "timed-out waiting to acquire database connection", fix: "The proxy could not get a database connection in time: its pool is exhausted or the target is unhealthy. Check `aws rds describe-db-proxy-targets` (TargetHealth), raise MaxConnectionsPercent or ConnectionBorrowTimeout of the target group, or close idle sessions."},
			{text: "request returned an error:", fix: "The database behind the proxy answered with the error quoted after \"Request returned an error:\" (e.g. a database that does not exist: fix dbname=); fix that on the database."},
			{text: "rds proxy", fix: "The message is RDS Proxy's own (\"Feature not supported\": drop replication= or the option it names from options= / PGOPTIONS). Check the proxy's Secrets Manager secret for this user, its IAM role, its target health (`aws rds describe-db-proxy-targets`) and whether it requires TLS (sslmode=require) or IAM authentication."},
		},
		fix: "Check the proxy's Secrets Manager secret for this user (it must hold the current password), the proxy's IAM role allowing secretsmanager:GetSecretValue, its target group health (`aws rds describe-db-proxy-targets`), and whether the proxy requires TLS (sslmode=require) or IAM authentication."},
	{name: "pgcat",
		sigs: []signature{
			{text: "no pool configured for database:", fix: "pgcat.toml has no pool for this database and user: add a [pools.DATABASE] section with a [pools.DATABASE.users.N] entry (username, password, pool_size) for this user, or fix dbname= / user=; then reload pgcat (RELOAD on its admin database, or SIGHUP)."},
			{text: "pool down for database:", fix: "pgcat could not connect to this pool's servers: check [pools.DATABASE.shards.N] servers (host, port) and the user's password (or server_username/server_password) in pgcat.toml; pgcat's log shows the server's error."},
			{text: "could not get connection from the pool", fix: pgcatBusy},
			{text: "checkout failure limit reached", fix: pgcatBusy},
		},
		fix: "Check pgcat.toml: a [pools.DATABASE] section with a [pools.DATABASE.users.N] entry for this user and password, and the shards' servers; pgcat's log says whether it reaches them."},
}

const (
	pgbouncerUnknownUser = "PgBouncer trusts this connection (auth_type = trust, or a trust line of auth_hba_file with auth_type = hba) but does not know the user: it is not in auth_file, and auth_query was not run (there is no auth_user, or the database is not in [databases], so PgBouncer does not ask the server). PgBouncer trusts only the users it knows: add a line `\"USER\" \"\"` for it to auth_file (e.g. userlist.txt) and RELOAD, set auth_user for auth_query, connect to a database listed in [databases] (dbname=), or connect as a user listed in auth_file (user=)."
	neonSNI              = "Neon's proxy picks the endpoint from the TLS SNI name: connect with sslmode=require and a libpq 14 or newer (or a driver that sends SNI) to the endpoint's full host name, or pass the endpoint as options=endpoint%3DENDPOINT_ID (the first label of the host name)."
	supavisorUser        = "Supavisor needs the user as USER.PROJECT_REF (e.g. postgres.abcdefghij) and the pooler host of your project's region, both copied from the project's connection settings; use port 5432 for session mode, 6543 for transaction mode."
	supavisorMax         = "Supavisor's client limit for this project is reached (session mode, port 5432: the pool size; transaction mode, port 6543: max client connections): close idle clients, use transaction mode for many short connections, or raise Pool Size / Max Client Connections in the project's database settings."
	supavisorAllow       = "The client's address is not in the project's network restrictions: add it in the project's database settings (Network Restrictions), or connect from an allowed network."
	rdsTLS               = "The proxy requires TLS here: connect with sslmode=require (or verify-full with the Amazon root CA as sslrootcert), or turn off Require Transport Layer Security on the proxy."
	rdsIAM               = "The IAM token was refused: generate a fresh one (`aws rds generate-db-auth-token --hostname PROXY_ENDPOINT --port 5432 --username USER`, valid 15 minutes) and pass it as password= with sslmode=require; the caller's IAM policy must allow rds-db:connect on the proxy."
	rdsLimit             = "The proxy's limit of client connections (or of new connections per second) is reached: open fewer connections, or more slowly (reuse them)."
	pgcatBusy            = "pgcat found no free server connection: raise the user's pool_size (or connect_timeout / checkout_failure_limit) in pgcat.toml, shorten long transactions, or check that the servers are up."
)

// Pooler names the pooler or proxy (PgBouncer, Supavisor, Neon's proxy, RDS
// Proxy, pgcat) that the error text or the attempt's ParameterStatus values
// show, or "".
func Pooler(e *statelog.Error, a *statelog.Attempt) string {
	if p := poolerOf(e, a); p != nil {
		return p.name
	}
	return ""
}

// poolerOf returns the pooler that sent e (with the fix for that text), or
// that a's server_version shows, or nil.
func poolerOf(e *statelog.Error, a *statelog.Attempt) *pooler {
	// Only what the peer itself sent counts: a host name in a local error
	// ("could not translate host name …neon.tech") proves nothing.
	if e != nil && (e.SQLState != "" || e.Untrusted != "") {
		msg := strings.ToLower(strings.TrimSpace(Core(e.Message)))
		text := msg + "\n" + strings.ToLower(e.Detail+"\n"+e.Hint+"\n"+e.Untrusted)
		for i := range poolers {
			for _, s := range poolers[i].sigs {
				if s.sqlstate != "" && s.sqlstate != e.SQLState {
					continue
				}
				if s.exact && msg == s.text || !s.exact && strings.Contains(text, s.text) {
					p := poolers[i]
					p.fix = s.fix
					return &p
				}
			}
		}
	}
	if a != nil && a.Server != nil {
		v := strings.ToLower(a.Server.Parameters["server_version"])
		for i := range poolers {
			for _, t := range poolers[i].params {
				if strings.Contains(v, t) {
					p := poolers[i]
					p.keepBase = true
					return &p
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

// advisePooler is the advice for an error a pooler or proxy sent. base, the
// advice for the SQLSTATE, is kept only when the pooler was recognised by
// its ParameterStatus: a pooler's own error uses a SQLSTATE of its choice
// (08P01, XX000, 58000) that says nothing PostgreSQL's would.
func advisePooler(p *pooler, base string) string {
	s := poolerNote(p.name) + " " + p.fix
	if p.keepBase && base != "" && !strings.HasPrefix(base, "The server refused the connection after it started talking") && !strings.HasPrefix(base, "The connection failed.") {
		s += " " + base
	}
	return s
}

// poolerWarning is the warning a successful probe through a pooler gets.
func poolerWarning(name string) string {
	return "the server identifies as " + name + ", a pooler or proxy: a successful connection proves the pooler answers, not that the database behind it is up (run a query through it, e.g. `psql -c 'select 1'`, to prove that)"
}

// MaxOSPid is the largest process id Linux, the BSDs and macOS hand out:
// Linux's PID_MAX_LIMIT (2^22); FreeBSD, OpenBSD and macOS stop at 99999.
// Other systems can go higher (AIX's process ids routinely have 7 or 8
// digits; Windows' are DWORDs), so a backend_pid above it is only probably
// not a PostgreSQL backend's.
const MaxOSPid = 1 << 22

// madeUpKeyWarning explains a BackendKeyData whose process id no backend
// on Linux, the BSDs or macOS can have: a pooler or proxy that passes PostgreSQL's ParameterStatus on
// (so server_version does not name it) made up the cancel key itself:
// PgBouncer sends 8 random bytes (1.18.0 src/client.c, the client's
// cancel_key), pgcat a random i32 process id (src/client.rs, "Generate
// random backend ID and secret key").
func madeUpKeyWarning(a *statelog.Attempt) string {
	if a == nil || a.Server == nil || a.Server.BackendPID <= MaxOSPid {
		return ""
	}
	return fmt.Sprintf("backend_pid %d is larger than any Linux, BSD or macOS process id (Linux's limit is %d): the BackendKeyData was probably made up by a pooler or proxy in front of PostgreSQL (PgBouncer and pgcat send random cancel keys), so this login was probably the pooler's; the database behind it may have been reached on an earlier, pooled server connection (run a query through it, e.g. `psql -c 'select 1'`, to prove it is up now); a PostgreSQL server on AIX or Windows can have such process ids itself",
		a.Server.BackendPID, MaxOSPid)
}
