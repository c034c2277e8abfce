package diagnose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

func adviseSQLState(e *statelog.Error, msg string, w where) string {
	switch e.SQLState {
	case "28000":
		if m := re().hba.FindStringSubmatch(msg); m != nil {
			return adviseHBA(m, w)
		}
		if m := re().reject.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("A `reject` line in pg_hba.conf matches host %s, user %s. Remove or narrow it, or put a line that allows this connection above it, then run `SELECT pg_reload_conf()`.", m[1], m[2])
		}
		switch {
		case strings.HasPrefix(msg, "role ") && strings.Contains(msg, "does not exist"):
			r := firstQuoted(msg)
			return fmt.Sprintf("There is no role %q on this server. Connect as an existing user (user=), or create it: `CREATE ROLE \"%s\" LOGIN PASSWORD '…'`.", r, r)
		case strings.Contains(msg, "is not permitted to log in"):
			r := firstQuoted(msg)
			return fmt.Sprintf("The role %q exists but lacks LOGIN. Run `ALTER ROLE \"%s\" LOGIN` as a superuser.", r, r)
		case strings.HasPrefix(msg, "Peer authentication failed"), strings.HasPrefix(msg, "Ident authentication failed"):
			return "pg_hba.conf uses peer/ident here, which requires the operating-system user to equal the database user. Run as that OS user (`sudo -u postgres …`), map names in pg_ident.conf, or connect over TCP (-h localhost) to a line that uses scram-sha-256."
		case strings.Contains(msg, "certificate"):
			return "The server requires a valid client certificate whose CN matches the user. Give sslcert= and sslkey= issued by a CA in the server's ssl_ca_file, with CN equal to the user name (or a pg_ident.conf map)."
		}
		return "The server refused this user, database or address before authentication. Check pg_hba.conf and the roles; the server log says which rule applied."
	case "28P01":
		u := firstQuoted(msg)
		if u == "" {
			u = "USER"
		}
		src := ""
		switch {
		case strings.Contains(e.Message, "password retrieved from file"):
			src = " (it came from the password file named above: fix or remove the matching line)"
		case w.a != nil && w.a.Auth != nil && w.a.Auth.PasswordSource != "":
			src = " (it came from " + passwordSourceName(w.a.Auth.PasswordSource) + ")"
		}
		return fmt.Sprintf("The server rejected the password for user %q%s. Check it, and the matching ~/.pgpass line `%s:%s:DATABASE:%s:PASSWORD` (the first matching line wins), PGPASSWORD and password=. If the role's password was stored as MD5 while password_encryption is now scram-sha-256 (or the reverse), set it again with `\\password %s` in psql.", u, src, w.host, w.port, u, u)
	case "3D000":
		d := firstQuoted(msg)
		return fmt.Sprintf("The database %q does not exist on this server. Create it with `createdb -h %s -p %s %s`, or connect to an existing one with dbname= (`psql -l` lists them). Without dbname=, the database defaults to the user name.", d, w.host, w.port, d)
	case "53300":
		switch {
		case strings.Contains(msg, "too many connections for role"):
			r := firstQuoted(msg)
			return fmt.Sprintf("The role %q reached its connection limit. Raise it with `ALTER ROLE \"%s\" CONNECTION LIMIT n`, close idle sessions, or use a pooler such as PgBouncer.", r, r)
		case strings.Contains(msg, "too many connections for database"):
			d := firstQuoted(msg)
			return fmt.Sprintf("The database %q reached its connection limit. Raise it with `ALTER DATABASE \"%s\" CONNECTION LIMIT n`, close idle sessions, or use a pooler.", d, d)
		case strings.Contains(msg, "reserved"):
			return adviseReservedSlots(msg, w)
		}
		return "The server has reached max_connections. See who holds the slots with `SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3`, close idle sessions, raise max_connections (needs a restart), or put a pooler such as PgBouncer in front."
	case "57P03":
		switch {
		case strings.Contains(e.Detail, "Hot standby mode is disabled"):
			return "The server is a standby with hot_standby = off, so it accepts no connections. Set hot_standby = on on the standby (restart), or connect to the primary."
		case strings.Contains(msg, "shutting down"):
			return "The server is shutting down. Wait for it to come back (`pg_isready` or `pgprobe --ping` in a loop) and check the server log for why it stopped."
		case strings.Contains(msg, "starting up"):
			return "The server is starting up and does not accept connections yet. Wait until it does (`pgprobe --ping` or `pg_isready` tells when; `pgprobe --wait 60s` retries until then); if it lasts, check the server log: it may be replaying WAL after a crash."
		case strings.Contains(msg, "recovery mode"), strings.Contains(msg, "not yet accepting"):
			return "The server is in recovery (crash recovery, or a standby that has not reached a consistent state) and does not accept connections yet. Wait (`pgprobe --wait 60s`), watch the server log for the replay progress, and connect to the primary in the meantime; a standby needs hot_standby = on to accept read-only connections."
		}
		return "The server is running but not yet accepting connections (starting up or in recovery). Wait and retry (`pgprobe --wait 60s` retries until it accepts connections); if it lasts, check the server log for the progress of recovery."
	case "42501":
		d := firstQuoted(msg)
		return fmt.Sprintf("The user lacks the CONNECT privilege on database %q. Grant it: `GRANT CONNECT ON DATABASE \"%s\" TO …`.", d, d)
	case "55000":
		if strings.Contains(msg, "not currently accepting connections") {
			d := firstQuoted(msg)
			return fmt.Sprintf("Connections to database %q are disabled. Re-enable them with `ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true`.", d, d)
		}
	case "0A000":
		if strings.Contains(msg, "protocol") {
			return "The server does not support the protocol version the client asked for (" + msg + "). Set max_protocol_version=3.0" + sinceLibpq(18) + " (or lower it to what the server supports), or upgrade the server or the pooler in between."
		}
		return "The server does not support a feature the client asked for at startup. Check the connection options (replication=, options=, max_protocol_version) against the server's version and any pooler in between."
	case "42704", "22023":
		p, name := firstQuoted(msg), "the parameter named above"
		if p != "" {
			name = strconv.Quote(p)
		} else {
			p = "NAME"
		}
		return fmt.Sprintf("The server rejected the startup parameter %s. Remove or fix it where it was set: options= (-c %s=…), PGOPTIONS, or the PG* environment variables (PGDATESTYLE, PGTZ); `pgprobe settings` shows where each value came from. A parameter that only a newer server knows needs that server version.", name, p)
	case "08P01":
		return "The server says the client broke the protocol during startup (" + msg + "): a client library bug, an unsupported startup option, or a proxy in between rewriting or injecting bytes. Check the server log, try without any pooler or proxy in between, and update the client library."
	}
	return ""
}

// ServerMajor is the major version in the attempt's server_version
// ParameterStatus, or 0 when it is unknown (a failed login usually ends
// before the server sends it) or is not PostgreSQL's (PgBouncer's console).
func ServerMajor(a *statelog.Attempt) int {
	if a == nil || a.Server == nil {
		return 0
	}
	v := a.Server.Parameters["server_version"]
	if strings.Contains(v, "/") {
		return 0
	}
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0
	}
	return n
}

// adviseReservedSlots: 53300 "remaining connection slots are reserved …".
// reserved_connections and pg_use_reserved_connections exist from
// PostgreSQL 16 on, whose messages name the SUPERUSER attribute or that
// role; before 16 the message speaks of "non-replication superuser
// connections".
func adviseReservedSlots(msg string, w where) string {
	const rest = " Close idle sessions (see pg_stat_activity), raise max_connections (needs a restart), or put a pooler such as PgBouncer in front."
	major := ServerMajor(w.a)
	switch {
	case strings.Contains(msg, "pg_use_reserved_connections"):
		return "Only the reserved slots are left: reserved_connections for roles with privileges of pg_use_reserved_connections, and superuser_reserved_connections. Grant this role pg_use_reserved_connections if it should get them (`GRANT pg_use_reserved_connections TO …`)." + rest
	case strings.Contains(msg, "SUPERUSER attribute"), major >= 16:
		return "Only the reserved slots are left (superuser_reserved_connections, and reserved_connections for roles with pg_use_reserved_connections)." + rest
	case strings.Contains(msg, "non-replication superuser"), major != 0:
		return "Only the slots reserved for superusers are left (superuser_reserved_connections)." + rest
	}
	return "Only the reserved slots are left (superuser_reserved_connections, and on PostgreSQL 16+ reserved_connections)." + rest
}

// adviseHBA turns "no pg_hba.conf entry for host "A", user "U", database
// "D", ENC" into the line that would let the connection in.
func adviseHBA(m []string, w where) string {
	replication, addr, user, db, enc := m[1] != "", m[2], m[3], m[4], m[5]
	if replication {
		db = "replication"
	}
	if addr == "[local]" {
		return fmt.Sprintf("No line in pg_hba.conf matches this local (Unix-socket) connection. Add `local %s %s scram-sha-256` (or peer) above any line that would match first, then run `SELECT pg_reload_conf()` (or `pg_ctl reload`).", db, user)
	}
	mask := "/32"
	if strings.Contains(addr, ":") {
		mask = "/128"
	}
	var kind, encWords string
	switch enc {
	case "SSL encryption", "SSL on":
		kind, encWords = "hostssl", "over SSL"
	case "GSS encryption":
		kind, encWords = "hostgssenc", "with GSS encryption"
	default:
		kind, encWords = "hostnossl", "without encryption"
	}
	line := fmt.Sprintf("`%s %s %s %s%s scram-sha-256`", kind, db, user, addr, mask)
	alt := ""
	switch {
	case kind == "hostnossl" && answeredN(w):
		alt = " (or `host …`, which matches with and without SSL; `hostssl` cannot match here: the server answered 'N' to SSLRequest, so SSL is off on it)"
	case kind == "hostnossl":
		alt = " (or `host …`, which matches with and without SSL; better, connect with sslmode=require and use `hostssl`)"
	}
	if kind == "hostgssenc" || (w.a != nil && w.a.GSS != nil) {
		line = fmt.Sprintf("`%s %s %s %s%s gss include_realm=0`", kind, db, user, addr, mask)
	}
	return fmt.Sprintf("No line in pg_hba.conf lets user %q reach database %q from %s %s. Add %s%s to pg_hba.conf above any line that would match first, then run `SELECT pg_reload_conf()` (or `pg_ctl reload`).", user, db, addr, encWords, line, alt) + gssHBA(enc, w.a)
}

func passwordSourceName(s string) string {
	switch s {
	case "pgpass":
		return "the password file (~/.pgpass or passfile=)"
	case "env":
		return "PGPASSWORD"
	case "conninfo":
		return "the connection string"
	case "prompt":
		return "the prompt"
	case "flag":
		return "a command-line flag"
	case "service":
		return "the service file"
	}
	return s
}
