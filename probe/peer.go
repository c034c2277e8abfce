package probe

import "errors"

// errNoPeerCred is getpeereid's ENOSYS: the platform cannot tell who is at
// the other end of a Unix socket (libpq's port/getpeereid.c stub).
var errNoPeerCred = errors.New("requirepeer parameter is not supported on this platform")
