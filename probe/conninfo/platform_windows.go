//go:build windows

package conninfo

import "os"

// passfileName is PGPASSFILE's default name in the home directory.
const passfileName = "pgpass.conf"

// UserTLSDir is where libpq looks for postgresql.crt and the rest in the
// home directory: on Windows the home directory is already PostgreSQL's own.
const UserTLSDir = ""

// checkFileModes: libpq skips the permission checks on Windows ("it is not
// clear how the permissions map there").
const checkFileModes = false

// HomeDir is pqGetHomeDirectory on Windows: %APPDATA%/postgresql (libpq asks
// SHGetFolderPath(CSIDL_APPDATA), which is what APPDATA holds).
func HomeDir(getenv func(string) (string, bool)) string {
	appdata, ok := getenv("APPDATA")
	if !ok || appdata == "" {
		var err error
		if appdata, err = os.UserConfigDir(); err != nil {
			return ""
		}
	}
	return appdata + "/postgresql"
}

// DefaultSocketDir is "": Windows builds of libpq have no
// DEFAULT_PGSOCKET_DIR, so a missing host means "localhost".
func DefaultSocketDir() string { return "" }

// isUnixSockPath is libpq's is_unixsock_path with Windows's
// is_absolute_path: "/x", "\x", "C:/x" or "C:\x"; or '@'.
func isUnixSockPath(s string) bool {
	if s == "" {
		return false
	}
	sep := func(c byte) bool { return c == '/' || c == '\\' }
	if sep(s[0]) || s[0] == '@' {
		return true
	}
	letter := s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z'
	return len(s) >= 3 && letter && s[1] == ':' && sep(s[2])
}
