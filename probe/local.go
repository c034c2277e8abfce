package probe

import (
	"fmt"
	"net"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pgprobe/pgprobe/internal/wire"
)

// localeEncoding is client_encoding=auto: the encoding of the user's locale,
// named as PostgreSQL names it (pg_get_encoding_from_locale).
func localeEncoding(getenv func(string) (string, bool)) string {
	loc := ""
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v, ok := getenv(k); ok && v != "" {
			loc = v
			break
		}
	}
	if loc == "" || loc == "C" || loc == "POSIX" {
		return "SQL_ASCII"
	}
	cs := loc
	if i := strings.IndexByte(cs, '.'); i >= 0 {
		cs = cs[i+1:]
	} else {
		return "SQL_ASCII"
	}
	if i := strings.IndexByte(cs, '@'); i >= 0 {
		cs = cs[:i]
	}
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(cs))
	switch norm {
	case "utf8":
		return "UTF8"
	case "iso88591", "latin1":
		return "LATIN1"
	case "iso88592":
		return "LATIN2"
	case "iso885915":
		return "LATIN9"
	case "iso88595":
		return "ISO_8859_5"
	case "koi8r":
		return "KOI8R"
	case "koi8u":
		return "KOI8U"
	case "eucjp":
		return "EUC_JP"
	case "euckr":
		return "EUC_KR"
	case "gbk", "cp936":
		return "GBK"
	case "big5":
		return "BIG5"
	case "cp1251":
		return "WIN1251"
	case "cp1252":
		return "WIN1252"
	case "ansix3.41968", "ascii", "usascii":
		return "SQL_ASCII"
	}
	return strings.ToUpper(cs)
}

// checkPeer is requirepeer: the OS user running the server at the other end
// of a Unix socket must be the one named. It returns libpq's message, or "".
func checkPeer(c net.Conn, want string) string {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return "requirepeer parameter is not supported on this platform"
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return "could not get peer credentials: " + err.Error()
	}
	var (
		cred *unix.Ucred
		gerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		gerr = err
	}
	if gerr != nil {
		return "could not get peer credentials: " + wire.Strerror(gerr)
	}
	u, err := user.LookupId(strconv.Itoa(int(cred.Uid)))
	if err != nil {
		return fmt.Sprintf("could not look up local user ID %d: %s", cred.Uid, err)
	}
	if u.Username != want {
		return fmt.Sprintf("requirepeer specifies \"%s\", but actual peer user name is \"%s\"", want, u.Username)
	}
	return ""
}
