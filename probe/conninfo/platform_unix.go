//go:build unix

package conninfo

import (
	"os"
	"os/user"
	"strings"
)

// passfileName is PGPASSFILE's default name in the home directory.
const passfileName = ".pgpass"

// UserTLSDir is where libpq looks for postgresql.crt, postgresql.key,
// root.crt and root.crl in the home directory.
const UserTLSDir = ".postgresql"

// checkFileModes: libpq refuses group- or world-readable password files
// (and key files) everywhere but Windows.
const checkFileModes = true

// HomeDir is pqGetHomeDirectory: $HOME when set and non-empty, else the
// password database's entry for the current user.
func HomeDir(getenv func(string) (string, bool)) string {
	if h, ok := getenv("HOME"); ok && h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// debianSocketDir is DEFAULT_PGSOCKET_DIR in Debian's libpq.
const debianSocketDir = "/var/run/postgresql"

// DefaultSocketDir is the Unix socket directory libpq uses when no host is
// given: "/var/run/postgresql" if it is a directory (Debian's libpq default,
// which the installed psql uses), else "/tmp" (upstream's default).
func DefaultSocketDir() string {
	if st, err := os.Stat(debianSocketDir); err == nil && st.IsDir() {
		return debianSocketDir
	}
	return "/tmp"
}

// isUnixSockPath is libpq's is_unixsock_path: an absolute path, or '@' for
// Linux's abstract namespace.
func isUnixSockPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "@")
}
