//go:build unix

package probe

import (
	"io/fs"
	"syscall"
)

// keyFileTooOpen is libpq's key-file permission rule: root-owned keys may be
// 0640 (a shared group can read system-wide certificates); any other
// owner's must be 0600 or less.
func keyFileTooOpen(fi fs.FileInfo) bool {
	perm := fi.Mode().Perm()
	owner := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = int(st.Uid)
	}
	return (owner == 0 && perm&0o037 != 0) || (owner != 0 && perm&0o077 != 0)
}
