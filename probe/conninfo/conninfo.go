// Package conninfo reads connection settings exactly as libpq does — a
// key=value string or a postgresql:// URI, psql's flags, the PG* environment,
// service files, the password file and libpq's compiled-in defaults — and
// records where every value came from.
//
// It is the project's own parser rather than pgconn.ParseConfig because a
// diagnostic tool needs the provenance of each value, libpq's exact error
// wording, and must never forward an unknown keyword to a server.
package conninfo

// Source says where a setting's value came from.
type Source string

const (
	SourceDefault  Source = "default"
	SourceEnv      Source = "env"
	SourceService  Source = "service"
	SourcePgpass   Source = "pgpass"
	SourceConninfo Source = "conninfo"
	SourceFlag     Source = "flag"
)

// Keyword is one entry of libpq's PQconninfoOptions.
type Keyword struct {
	Name    string // "sslmode"
	EnvVar  string // "PGSSLMODE", or "" when libpq reads none
	Default string // libpq's default when nothing sets it ("" when none; see Keywords)
	Secret  bool   // password, sslpassword, scram keys, oauth secret: shown as ****
	Debug   bool   // libpq's "D" options (replication, scram_client_key, …)
}

// Value is a resolved setting.
type Value struct {
	Value  string `json:"value"`
	Source Source `json:"source"`
	// Origin names the place precisely: "PGSSLMODE", "/home/u/.pg_service.conf:3",
	// "/home/u/.pgpass:2", "-h", "connection string", "URI", "URI query
	// parameter", "dbname argument". Empty for compiled-in defaults; a
	// derived default names what it derives from ("OS user", "user", "home directory",
	// "sslrootcert=system").
	Origin string `json:"origin,omitempty"`
}

// Error is an invalid setting, worded as libpq words it. Callers exit 3.
// Messages never contain a secret.
type Error struct {
	Message string
	// NextHost is set by ParsePort for a port outside 1–65535: libpq gives
	// up on that host only and tries the next one.
	NextHost bool
}

func (e *Error) Error() string { return e.Message }

// HostType is libpq's pg_conn_host_type.
type HostType int

const (
	HostName    HostType = iota // CHT_HOST_NAME
	HostAddress                 // CHT_HOST_ADDRESS
	UnixSocket                  // CHT_UNIX_SOCKET
)
