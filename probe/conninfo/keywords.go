package conninfo

// Keywords is libpq's PQconninfoOptions in libpq's order (PostgreSQL 18),
// each with the environment variable libpq falls back to and its default.
// Checked against src/interfaces/libpq/fe-connect.c of postgres/postgres
// branch REL_18_STABLE at commit 79a506228bef41339ba64d27a47e7756dc1fd8db
// (2026-06-05): names, environment variables, compiled-in defaults and the
// display characters ("*" = Secret, "D" = Debug). One exception: servicefile
// is not in libpq 18's table; it came with libpq 19 (master, commit
// 092f3c63ef "libpq: Add "servicefile" connection option", 2025-07-13) and
// is kept because service.go implements it. libpq 19 also adds oauth_ca_file
// (PGOAUTHCAFILE), which is not listed here.
//
// scram_client_key and scram_server_key are "D" in libpq, not "*"; pgprobe
// still treats them as secrets (they are key material equivalent to the
// password) and never shows them.
//
// Default is the value libpq ends up with when nothing sets the keyword: the
// compiled-in default of the options table, or the one pqConnectOptions2
// fills in (sslcertmode). Defaults libpq computes at run time are not listed
// here but are filled in by Resolve: user (the OS user), dbname (= user),
// passfile (~/.pgpass). host has no stored default: Settings.Hosts applies
// the default Unix socket directory, as pqConnectOptions2 does per host slot.
// sslcert, sslkey, sslrootcert and sslcrl fall back to files under
// ~/.postgresql/ only when TLS is set up; that is the TLS code's business.
//
// Defaults are those of a libpq built with OpenSSL and GSSAPI (Debian's, the
// one psql here uses): sslmode=prefer, channel_binding=prefer,
// sslcertmode=allow, gssencmode=prefer. gssencmode=require is accepted, as
// there; the probe decides it per address, by the Kerberos credential
// cache, as such a libpq does (probe/gss.go).
var Keywords = []Keyword{
	{Name: "service", EnvVar: "PGSERVICE"},
	{Name: "servicefile", EnvVar: "PGSERVICEFILE"}, // libpq 19, not 18 (see above)
	{Name: "user", EnvVar: "PGUSER"},
	{Name: "password", EnvVar: "PGPASSWORD", Secret: true},
	{Name: "passfile", EnvVar: "PGPASSFILE"},
	{Name: "channel_binding", EnvVar: "PGCHANNELBINDING", Default: "prefer"},
	{Name: "connect_timeout", EnvVar: "PGCONNECT_TIMEOUT"},
	{Name: "dbname", EnvVar: "PGDATABASE"},
	{Name: "host", EnvVar: "PGHOST"},
	{Name: "hostaddr", EnvVar: "PGHOSTADDR"},
	{Name: "port", EnvVar: "PGPORT", Default: "5432"},
	{Name: "client_encoding", EnvVar: "PGCLIENTENCODING"},
	{Name: "options", EnvVar: "PGOPTIONS", Default: ""},
	{Name: "application_name", EnvVar: "PGAPPNAME"},
	{Name: "fallback_application_name"},
	{Name: "keepalives"},
	{Name: "keepalives_idle"},
	{Name: "keepalives_interval"},
	{Name: "keepalives_count"},
	{Name: "tcp_user_timeout"},
	{Name: "sslmode", EnvVar: "PGSSLMODE", Default: "prefer"},
	{Name: "sslnegotiation", EnvVar: "PGSSLNEGOTIATION", Default: "postgres"}, // PG17
	{Name: "sslcompression", EnvVar: "PGSSLCOMPRESSION", Default: "0"},
	{Name: "sslcert", EnvVar: "PGSSLCERT"},
	{Name: "sslkey", EnvVar: "PGSSLKEY"},
	{Name: "sslcertmode", EnvVar: "PGSSLCERTMODE", Default: "allow"}, // PG16
	{Name: "sslpassword", Secret: true},
	{Name: "sslrootcert", EnvVar: "PGSSLROOTCERT"},
	{Name: "sslcrl", EnvVar: "PGSSLCRL"},
	{Name: "sslcrldir", EnvVar: "PGSSLCRLDIR"},
	{Name: "sslsni", EnvVar: "PGSSLSNI", Default: "1"},
	{Name: "requirepeer", EnvVar: "PGREQUIREPEER"},
	{Name: "require_auth", EnvVar: "PGREQUIREAUTH"},                // PG16
	{Name: "min_protocol_version", EnvVar: "PGMINPROTOCOLVERSION"}, // PG18
	{Name: "max_protocol_version", EnvVar: "PGMAXPROTOCOLVERSION"}, // PG18
	{Name: "ssl_min_protocol_version", EnvVar: "PGSSLMINPROTOCOLVERSION", Default: "TLSv1.2"},
	{Name: "ssl_max_protocol_version", EnvVar: "PGSSLMAXPROTOCOLVERSION"},
	{Name: "gssencmode", EnvVar: "PGGSSENCMODE", Default: "prefer"},
	{Name: "krbsrvname", EnvVar: "PGKRBSRVNAME", Default: "postgres"},
	{Name: "gsslib", EnvVar: "PGGSSLIB"},
	{Name: "gssdelegation", EnvVar: "PGGSSDELEGATION", Default: "0"}, // PG16
	{Name: "replication", Debug: true},
	{Name: "target_session_attrs", EnvVar: "PGTARGETSESSIONATTRS", Default: "any"},
	{Name: "load_balance_hosts", EnvVar: "PGLOADBALANCEHOSTS", Default: "disable"}, // PG16
	{Name: "scram_client_key", Secret: true, Debug: true},                          // PG18
	{Name: "scram_server_key", Secret: true, Debug: true},                          // PG18
	{Name: "oauth_issuer"},                                                         // PG18
	{Name: "oauth_client_id"},                                                      // PG18
	{Name: "oauth_client_secret", Secret: true},                                    // PG18
	{Name: "oauth_scope"},                                                          // PG18
	{Name: "sslkeylogfile", Debug: true},                                           // PG18: last in libpq's table
}

var keywordIndex = func() map[string]int {
	m := make(map[string]int, len(Keywords))
	for i, k := range Keywords {
		m[k.Name] = i
	}
	return m
}()

// compiledDefaults are the keywords whose default conninfo_add_defaults
// fills in from the options table (sslcertmode's comes later, from
// pqConnectOptions2, and is applied there).
var compiledDefaults = map[string]bool{
	"channel_binding": true, "port": true, "options": true, "sslmode": true,
	"sslnegotiation": true, "sslcompression": true, "sslsni": true,
	"ssl_min_protocol_version": true, "gssencmode": true, "krbsrvname": true,
	"gssdelegation": true, "target_session_attrs": true, "load_balance_hosts": true,
}

// LookupKeyword finds a keyword by its exact (case-sensitive) name, as
// libpq's conninfo_find does.
func LookupKeyword(name string) (Keyword, bool) {
	i, ok := keywordIndex[name]
	if !ok {
		return Keyword{}, false
	}
	return Keywords[i], true
}

// isSecret reports whether a keyword's value must never be shown.
func isSecret(name string) bool {
	k, ok := LookupKeyword(name)
	return ok && k.Secret
}
