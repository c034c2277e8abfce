package probe

import (
	"fmt"
	"os"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// GSSAPI encryption as a libpq built with GSSAPI (the distributions') decides
// it in init_allowed_encryption_methods and select_next_encryption_method,
// before it connects: over a Unix socket never; over TCP only when
// pg_GSS_have_cred_cache finds Kerberos credentials. pgprobe has no GSSAPI
// yet: without credentials it does what such a libpq does (prefer skips
// GSSENCRequest, require fails); with credentials it says that libpq would
// try GSSAPI encryption first and that it cannot.

// The messages of libpq 17 and 18 (libpq 15 says "GSSAPI encryption
// required but was impossible (possibly no credential cache, no server
// support, or using a local socket)" after connecting).
const (
	gssLocalSocket = "GSSAPI encryption required but it is not supported over a local socket"
	gssNoCCache    = "GSSAPI encryption required but no credential cache"
)

// gssEncryption decides GSSAPI encryption for address a, as libpq does
// before connecting to it. It notes the decision in the attempt's record
// and returns the error that ends the probe, if any.
func (m *Machine) gssEncryption(a address) *statelog.Error {
	mode := m.settings.Get("gssencmode")
	if mode == "disable" {
		return nil
	}
	if a.network == "unix" {
		if mode == "require" {
			return newError(statelog.ClassSSL, gssLocalSocket)
		}
		return nil
	}
	cache, found := credentialCache(m.cfg.Getenv)
	if !found {
		if mode == "require" {
			m.attempt.GSSEncryption = "no Kerberos credential cache (" + cache + "): libpq cannot request GSSAPI encryption"
			return newError(statelog.ClassSSL, gssNoCCache)
		}
		m.attempt.GSSEncryption = "gssencmode=prefer: no Kerberos credential cache (" + cache + "), so no GSSENCRequest, as libpq"
		return nil
	}
	if mode == "require" {
		m.attempt.GSSEncryption = "a Kerberos credential cache exists (" + cache + "): libpq would send GSSENCRequest"
		return newError(statelog.ClassUsage, fmt.Sprintf("gssencmode=require: a Kerberos credential cache exists (%s), so libpq would request GSSAPI encryption; pgprobe cannot do GSSAPI encryption yet", cache))
	}
	w := fmt.Sprintf("a Kerberos credential cache exists (%s): libpq would first try GSSAPI encryption (GSSENCRequest, gssencmode=prefer); pgprobe cannot do GSSAPI yet and goes on without it", cache)
	m.attempt.GSSEncryption = "skipped: pgprobe cannot do GSSAPI encryption yet (libpq would try it first: a credential cache exists)"
	m.warnOnce(w)
	return nil
}

// credentialCache is the Kerberos credential cache libkrb5 would use
// (KRB5CCNAME, else Debian's default FILE:/tmp/krb5cc_UID) and whether it
// is there. A cache that is not a file or directory (KEYRING:, KCM:, …)
// cannot be looked at without libkrb5: it counts as there.
func credentialCache(getenv func(string) (string, bool)) (string, bool) {
	name, ok := getenv("KRB5CCNAME")
	if !ok || name == "" {
		name = fmt.Sprintf("FILE:/tmp/krb5cc_%d", os.Getuid())
	}
	path := name
	switch typ, rest, hasType := strings.Cut(name, ":"); {
	case !hasType:
	case typ == "FILE" || typ == "DIR":
		path = rest
	case typ == "MEMORY":
		return name, false // a new process's memory cache is empty
	default:
		return name, true
	}
	_, err := os.Stat(path)
	return name, err == nil
}

// warnOnce adds a warning to the record unless it is there already.
func (m *Machine) warnOnce(w string) {
	for _, x := range m.log.Warnings {
		if x == w {
			return
		}
	}
	m.log.Warnings = append(m.log.Warnings, w)
}
