package diagnose

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Advice that names the cause from facts beyond the message: the client's
// own files, the server's version learnt by an attempt, the record's
// warnings, the size of the startup message.

// maxStartupPacket is PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a longer
// startup packet is refused with "invalid length of startup packet", which
// is only logged (COMMERROR): the client sees the connection close.
const maxStartupPacket = 10000

// adviseKeyPermissions: libpq's check of the client key file's mode
// (fe-secure-openssl.c), which fails before anything reaches the server.
func adviseKeyPermissions(msg string) string {
	f := firstQuoted(msg)
	q := shellQuote(f)
	return fmt.Sprintf("The client's private key file %q (sslkey=) can be read by group or others, so libpq refuses to use it: the fix is on this machine, not on the server. Run `chmod 0600 %s` as its owner (libpq also accepts 0640 when root owns the file, for a group that must read it).", f, q)
}

// requested is what the server asked for, in check_expected_areq's words,
// and require_auth's name for it.
var requested = []struct{ reason, method, what string }{
	{"server requested a hashed password", "md5", "MD5 password authentication"},
	{"server requested a cleartext password", "password", "the password in cleartext (pg_hba.conf method password)"},
	{"server requested SASL authentication", "scram-sha-256", "SCRAM-SHA-256 authentication"},
	{"server requested GSSAPI authentication", "gss", "GSSAPI (Kerberos) authentication"},
	{"server requested SSPI authentication", "sspi", "SSPI authentication"},
	{"server did not complete authentication", "none", ""},
}

// adviseRequireAuth explains libpq's `authentication method requirement
// "LIST" failed: REASON`: what the server asked for and the two ways out,
// on the server or in require_auth. "" when msg is not that message.
func adviseRequireAuth(msg string, w where) string {
	const lead = `authentication method requirement "`
	i := strings.Index(msg, lead)
	if i < 0 {
		return ""
	}
	raw, reason, ok := strings.Cut(msg[i+len(lead):], `" failed: `)
	if !ok {
		return ""
	}
	reason = firstLine(reason)
	for _, r := range requested {
		if reason != r.reason {
			continue
		}
		fix := allowIn(raw, r.method)
		switch r.method {
		case "md5":
			user := startupValue(w.a, "user", "USER")
			return fmt.Sprintf("The server asked for %s, which require_auth=%s forbids, so the password was never sent. A server asks for MD5 when the matching pg_hba.conf line says md5 and the role's password is stored as an MD5 hash. Change one or the other: store the password as SCRAM (password_encryption = 'scram-sha-256', then `\\password %s` in psql; the md5 line then uses SCRAM) or make the line scram-sha-256; or let the client accept MD5 with %s.", r.what, raw, user, fix)
		case "none":
			return fmt.Sprintf("The server let the client in without the authentication that require_auth=%s demands: the matching pg_hba.conf line is trust, or a method such as peer or cert that asks the client for no secret. Change that line to scram-sha-256 and run `SELECT pg_reload_conf()`, or accept it with %s.", raw, fix)
		}
		return fmt.Sprintf("The server asked for %s, which require_auth=%s forbids, so nothing secret was sent. Change one or the other: the method of the matching pg_hba.conf line (then `SELECT pg_reload_conf()`), or require_auth, with %s.", r.what, raw, fix)
	}
	return fmt.Sprintf("The server asked for an authentication method that require_auth=%s forbids (%s). Change one or the other: the method of the matching pg_hba.conf line, or require_auth.", raw, reason)
}

// allowIn is the require_auth setting that would also accept method: a
// negated list loses its !method, a plain list gains method.
func allowIn(raw, method string) string {
	if !strings.HasPrefix(raw, "!") {
		return "require_auth=" + raw + "," + method
	}
	var keep []string
	for _, m := range strings.Split(raw, ",") {
		if m != "!"+method {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return "no require_auth at all"
	}
	return "require_auth=" + strings.Join(keep, ",")
}

// startupValue is a parameter of the attempt's StartupMessage (its event's
// data), or def.
func startupValue(a *statelog.Attempt, key, def string) string {
	if a == nil {
		return def
	}
	for _, ev := range a.Events {
		if ev.Step != statelog.StepStartup {
			continue
		}
		if v, ok := ev.Data[key].(string); ok && v != "" {
			return v
		}
	}
	return def
}

// startupBytes is the size of the attempt's StartupMessage as the probe
// recorded it (0 when unknown). JSON read back gives a float64.
func startupBytes(a *statelog.Attempt) int {
	if a == nil {
		return 0
	}
	for _, ev := range a.Events {
		if ev.Step != statelog.StepStartup {
			continue
		}
		switch n := ev.Data["packet_bytes"].(type) {
		case int:
			return n
		case float64:
			return int(n)
		}
	}
	return 0
}

// adviseClosedAfterStartup: the server hung up in answer to the startup
// message, before any authentication request. "" for any other failure.
func adviseClosedAfterStartup(e *statelog.Error, w where) string {
	whileSent := e.Step == statelog.StepStartup && (e.Errno == "ECONNRESET" || e.Errno == "EPIPE")
	answered := e.Step == statelog.StepAuthRequest && !askedToAuthenticate(w.a) && strings.Contains(e.Message, "closed")
	if !whileSent && !answered {
		return ""
	}
	if n := startupBytes(w.a); n > maxStartupPacket {
		return fmt.Sprintf("The server hung up on the startup message without an error message: the message was %d bytes, and PostgreSQL refuses a startup packet over %d bytes, logging only \"invalid length of startup packet\". A startup parameter is far too long (user=, dbname=, options= or application_name=: the startup message above shows which); shorten it.", n, maxStartupPacket)
	}
	return "The server hung up on the startup message without an error message. PostgreSQL does that when it refuses the startup packet itself (its log then says \"invalid length of startup packet\" or \"incomplete startup packet\"); otherwise the new backend crashed, or a pooler or proxy in front of the server lost its backend. Look in the server's log at this moment, and in any proxy's."
}

// askedToAuthenticate: the attempt got an authentication request.
func askedToAuthenticate(a *statelog.Attempt) bool {
	if a == nil {
		return false
	}
	for _, ev := range a.Events {
		if ev.Step == statelog.StepAuthRequest && ev.Error == nil {
			return true
		}
	}
	return false
}

// adviseDirectTLS: a direct TLS handshake (sslnegotiation=direct) that the
// server broke off. A server before PostgreSQL 17 reads the ClientHello as
// a startup packet whose length (0x16030…) is absurd and hangs up. "" when
// the server is known to be 17 or later.
func adviseDirectTLS(w where) string {
	v, major := knownVersion(w)
	switch {
	case major >= 17:
		return ""
	case major > 0:
		return fmt.Sprintf("The server is PostgreSQL %s, and sslnegotiation=direct needs PostgreSQL 17 or later: an older server takes the TLS ClientHello for a startup packet of impossible length and hangs up (its log says \"invalid length of startup packet\"). Use sslnegotiation=postgres (the default), or upgrade the server.", v)
	}
	return "With sslnegotiation=direct the client starts TLS without SSLRequest, which only PostgreSQL 17 or later accepts: an older server hangs up at once (its log says \"invalid length of startup packet\"), and that may be the cause here. Try sslnegotiation=postgres (the default), which every version accepts. On PostgreSQL 17 or later, check that ssl = on, the server log for SSL errors, and any proxy in between."
}

// knownVersion is the server_version of the server the attempt reached, as
// that attempt or an earlier one to the same address and port learnt it
// (libpq learns it only after authentication), with its major version; 0
// when no attempt got that far.
func knownVersion(w where) (string, int) {
	if n := ServerMajor(w.a); n > 0 {
		return w.a.Server.Parameters["server_version"], n
	}
	if w.l == nil || w.a == nil {
		return "", 0
	}
	for _, x := range w.l.Attempts {
		if x == nil || x == w.a || x.HostAddr != w.a.HostAddr || x.Port != w.a.Port || x.Network != w.a.Network {
			continue
		}
		if n := ServerMajor(x); n > 0 {
			return x.Server.Parameters["server_version"], n
		}
	}
	return "", 0
}

// answeredN: the server this attempt reached answered 'N' to SSLRequest, in
// this attempt or another to the same address and port: SSL is off on it.
func answeredN(w where) bool {
	if w.a == nil {
		return false
	}
	if w.a.SSLResponse != nil {
		return *w.a.SSLResponse == "N"
	}
	if w.l == nil {
		return false
	}
	for _, x := range w.l.Attempts {
		if x != nil && x.SSLResponse != nil && x.HostAddr == w.a.HostAddr && x.Port == w.a.Port && x.Network == w.a.Network {
			return *x.SSLResponse == "N"
		}
	}
	return false
}

// adviseNoHostName: sslmode=verify-full with hostaddr= and no host=: libpq
// has no name to check the certificate against.
func adviseNoHostName(w where) string {
	addr := cmp.Or(w.addr, "ADDRESS")
	var sans []string
	subject := ""
	if w.a != nil && w.a.HostAddr != "" {
		addr = w.a.HostAddr
	}
	if w.a != nil && w.a.TLS != nil && len(w.a.TLS.PeerCertificates) > 0 {
		sans = w.a.TLS.PeerCertificates[0].SANs
		subject = w.a.TLS.PeerCertificates[0].Subject
	}
	name, lists := certName(sans, subject)
	if name == "" {
		return fmt.Sprintf("sslmode=verify-full checks the server's certificate against host=, and only hostaddr=%s was given. Keep hostaddr= and add host= with a name the server's certificate lists: libpq connects to hostaddr and checks the certificate against host, without a name lookup. Or use sslmode=verify-ca, which checks the chain but not the name.", addr)
	}
	return fmt.Sprintf("sslmode=verify-full checks the server's certificate against host=, and only hostaddr=%s was given. Keep hostaddr= and add host=%s, a name the certificate lists (%s): libpq connects to hostaddr and checks the certificate against host, without a name lookup. Or use sslmode=verify-ca, which checks the chain but not the name.", addr, name, lists)
}

// certName picks the name to suggest for host= from a certificate's SANs
// (DNS:…, IP:…, as the record holds them), else its CN, and says what the
// certificate lists.
func certName(sans []string, subject string) (name, lists string) {
	for _, prefix := range []string{"DNS:", "IP:"} {
		for _, s := range sans {
			if v, ok := strings.CutPrefix(s, prefix); ok && !strings.HasPrefix(v, "*") {
				return v, strings.Join(sans, ", ")
			}
		}
	}
	if len(sans) > 0 {
		return "", ""
	}
	for _, part := range strings.Split(subject, ",") {
		if cn, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok && cn != "" && !strings.HasPrefix(cn, "*") {
			return cn, "its subject, " + subject + "; it has no subjectAltName"
		}
	}
	return "", ""
}

// ignoredPasswordFile is the password file libpq skipped, as its warning in
// the record names it, and why; "" when none was.
func ignoredPasswordFile(l *statelog.Log) (file, why string) {
	if l == nil {
		return "", ""
	}
	for _, w := range l.Warnings {
		if !strings.Contains(w, "password file") {
			continue
		}
		switch {
		case strings.Contains(w, "group or world access"):
			return firstQuoted(w), "group or others can read it"
		case strings.Contains(w, "not a plain file"):
			return firstQuoted(w), "it is not a plain file"
		}
	}
	return "", ""
}

// adviseIgnoredPasswordFile: no password was supplied because libpq
// ignored the password file.
func adviseIgnoredPasswordFile(l *statelog.Log) string {
	f, why := ignoredPasswordFile(l)
	if f == "" {
		return ""
	}
	if why == "it is not a plain file" {
		return fmt.Sprintf("libpq ignored the password file %q because %s (the WARNING above), so no password was found. Point passfile= (or PGPASSFILE) at a regular file, mode 0600.", f, why)
	}
	return fmt.Sprintf("libpq ignored the password file %q because %s (the WARNING above), so no password was found. Run `chmod 0600 %s`: libpq reads a password file only when it is private to its owner.", f, why, shellQuote(f))
}

// shellQuote quotes s for a shell command when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == '@' || r == '%' || r == '=' || r == ',' ||
			('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sinceLibpq names the libpq release that first knows a keyword or value
// the advice suggests, for users of an older psql.
func sinceLibpq(v int) string { return " (libpq " + strconv.Itoa(v) + " or later)" }
