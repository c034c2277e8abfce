//go:build windows

package probe

import "io/fs"

// keyFileTooOpen is never true on Windows: libpq skips the check there
// ("it is not clear how the permissions map"), and so does pgprobe.
func keyFileTooOpen(fs.FileInfo) bool { return false }
