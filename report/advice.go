package report

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Annotate fills Advice on l.Error and on every attempt's and event's error
// that has none yet. Calling it again changes nothing.
func Annotate(l *statelog.Log) {
	if l == nil {
		return
	}
	// The final error first: it may be the same *Error as its attempt's,
	// and only the final one gets the note on addresses never tried.
	if last := attemptOf(l, l.Error); l.Error != nil && l.Error.Advice == "" {
		if fb := sslOnlyRetry(l, last); fb != "" {
			l.Error.Advice = fb + untriedAddresses(l.Error, last)
		} else {
			l.Error.Advice = Advise(l.Error, last) + untriedAddresses(l.Error, last)
		}
	}
	for _, a := range l.Attempts {
		if a == nil {
			continue
		}
		fill(a.Error, a)
		for i := range a.Events {
			fill(a.Events[i].Error, a)
		}
	}
	if l.Error == nil {
		for _, a := range l.Attempts {
			if a == nil || !a.OK {
				continue
			}
			addWarning(l, failedFirst(l, a))
			if name := Pooler(nil, a); name != "" {
				addWarning(l, poolerWarning(name))
			} else {
				addWarning(l, madeUpKeyWarning(a))
			}
			break
		}
	}
}

// addWarning appends w to the record's warnings once.
func addWarning(l *statelog.Log, w string) {
	if w == "" {
		return
	}
	for _, x := range l.Warnings {
		if x == w {
			return
		}
	}
	l.Warnings = append(l.Warnings, w)
}

func fill(e *statelog.Error, a *statelog.Attempt) {
	if e != nil && e.Advice == "" {
		e.Advice = Advise(e, a)
	}
}

// attemptOf finds the attempt an error belongs to: the one that holds the
// very same *Error, else the last attempt.
func attemptOf(l *statelog.Log, e *statelog.Error) *statelog.Attempt {
	if l == nil || len(l.Attempts) == 0 {
		return nil
	}
	if e != nil {
		for i := len(l.Attempts) - 1; i >= 0; i-- {
			a := l.Attempts[i]
			if a == nil {
				continue
			}
			if a.Error == e {
				return a
			}
			for j := range a.Events {
				if a.Events[j].Error == e {
					return a
				}
			}
		}
	}
	return l.Attempts[len(l.Attempts)-1]
}

var (
	rePrefix = regexp.MustCompile(`^connection to server (?:on socket "([^"]*)"|at "([^"]*)"(?: \(([^)]*)\))?, port (\d+)) failed: `)
	reHBA    = regexp.MustCompile(`no pg_hba\.conf entry for (replication connection from )?host "([^"]*)", user "([^"]*)", (?:database "([^"]*)", )?(SSL encryption|GSS encryption|no encryption|SSL on|SSL off)`)
	reReject = regexp.MustCompile(`pg_hba\.conf rejects (?:replication )?connection for host "([^"]*)", user "([^"]*)"`)
	reQuoted = regexp.MustCompile(`"([^"]*)"`)
)

// where is what the advice needs to know about the place that failed.
type where struct {
	host, addr, port string
	unix             bool
	sslmode          string
	a                *statelog.Attempt
}

func whereOf(e *statelog.Error, a *statelog.Attempt) where {
	w := where{host: "HOST", port: "5432", a: a}
	if a != nil {
		if a.Host != "" {
			w.host = a.Host
		}
		w.addr = a.HostAddr
		if a.Port != 0 {
			w.port = strconv.Itoa(a.Port)
		}
		w.unix = a.Network == "unix"
		w.sslmode = a.SSLMode
	}
	if m := rePrefix.FindStringSubmatch(e.Message); m != nil && (a == nil || a.Host == "") {
		if m[1] != "" {
			w.unix, w.addr = true, m[1]
			w.host = strings.TrimSuffix(m[1][:strings.LastIndexByte(m[1], '/')+1], "/")
			if i := strings.LastIndex(m[1], ".s.PGSQL."); i >= 0 {
				w.port = m[1][i+len(".s.PGSQL."):]
			}
		} else {
			w.host, w.addr, w.port = m[2], m[3], m[4]
		}
	}
	return w
}

// core is the message without libpq's "connection to server … failed: "
// prefix and without the severity.
func core(msg string) string {
	if loc := rePrefix.FindStringIndex(msg); loc != nil {
		msg = msg[loc[1]:]
	}
	for _, sev := range []string{"FATAL:  ", "ERROR:  ", "PANIC:  "} {
		msg = strings.TrimPrefix(msg, sev)
	}
	return msg
}

func firstQuoted(s string) string {
	if m := reQuoted.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func (w where) isready() string {
	return fmt.Sprintf("`pg_isready -h %s -p %s`", w.host, w.port)
}

func (w where) hostport() string {
	if w.unix {
		if w.addr != "" {
			return "socket " + w.addr
		}
		return "socket in " + w.host
	}
	if w.addr != "" && w.addr != w.host {
		return fmt.Sprintf("%s (%s) port %s", w.host, w.addr, w.port)
	}
	return w.host + " port " + w.port
}

// Advise explains an error in plain language: what it means, the likely
// cause, and what to try, naming the concrete fix. a is the attempt the
// error belongs to (nil when unknown). It never repeats a secret: it only
// uses names the server or the settings already showed.
func Advise(e *statelog.Error, a *statelog.Attempt) string {
	if e == nil {
		return ""
	}
	s := advise(e, a)
	if p := poolerOf(e, a); p != nil {
		return advisePooler(p, s)
	}
	return s
}

func advise(e *statelog.Error, a *statelog.Attempt) string {
	w := whereOf(e, a)
	msg := core(e.Message)
	switch {
	case e.SQLState != "":
		if s := adviseSQLState(e, msg, w); s != "" {
			return s
		}
	}
	switch e.Class {
	case statelog.ClassUsage:
		return "The settings are invalid, so no connection was attempted. Fix the connection string, URI, flag or file the message names; `pgprobe settings` shows every resolved value and where it came from."
	case statelog.ClassDNS:
		return adviseDNS(msg, w)
	case statelog.ClassTimeout:
		return adviseTimeout(e, w)
	case statelog.ClassConnect:
		return adviseConnect(e, msg, w)
	case statelog.ClassSSL:
		return adviseSSL(e, msg, w)
	case statelog.ClassTLS:
		return adviseTLS(e, msg, w)
	case statelog.ClassProtocol:
		return adviseProtocol(msg, w)
	case statelog.ClassAuth:
		return adviseAuth(e, msg, w)
	case statelog.ClassServer:
		return "The server refused the connection after it started talking to the client. Read the message, DETAIL and HINT above; the server log says more, especially with `log_connections = on`."
	case statelog.ClassTarget:
		return adviseTarget(msg)
	case statelog.ClassCheck:
		return "The connection worked, but a check you asked for failed. For certificate age, renew the server certificate (ssl_cert_file) and run `SELECT pg_reload_conf()`; for the TLS version, raise ssl_min_protocol_version on the server or lower --min-tls-version."
	}
	return "The connection failed. Read the message above; the server log often says more."
}

func adviseDNS(msg string, w where) string {
	name := firstQuoted(msg)
	if name == "" {
		name = w.host
	}
	if strings.Contains(msg, "Temporary failure") {
		return fmt.Sprintf("The name %q could not be resolved because no DNS server answered. Check the resolver (/etc/resolv.conf, VPN, network), try `getent hosts %s`, or connect by address with hostaddr=.", name, name)
	}
	return fmt.Sprintf("The host name %q does not exist as far as the resolver knows. Check its spelling, /etc/hosts and DNS (`getent hosts %s`), or connect by address with hostaddr=.", name, name)
}

func adviseTimeout(e *statelog.Error, w where) string {
	var what, cause string
	step := e.Step
	if step == "auth_request" && sentAuthResponse(w.a) {
		step = "auth_response" // the wait was for the answer to it
	}
	switch step {
	case "resolve":
		what, cause = "name resolution of "+w.host, "the DNS server is slow or unreachable; check /etc/resolv.conf or use hostaddr="
	case "connect":
		what, cause = "no answer to the TCP connection request to "+w.hostport(), "a firewall or security group is silently dropping packets, the address is wrong, or the host is down; test with "+w.isready()+" or `nc -vz "+w.host+" "+w.port+"`"
	case "ssl_request", "ssl_response":
		what, cause = "no answer to SSLRequest", "something accepted the TCP connection but does not speak PostgreSQL (a proxy or load balancer with no backend, another service on that port), or the server is overloaded"
	case "tls_handshake":
		what, cause = "the TLS handshake did not complete", "a middlebox is interfering with TLS, or the server is overloaded"
	case "startup", "auth_request":
		what, cause = "no answer to the startup message", "the server or a pooler is overloaded or waiting for a free backend; check the server log and pg_stat_activity"
	case "auth_response":
		what, cause = "no answer to the authentication response", "the server is waiting for an external authentication service (LDAP, RADIUS, PAM, Kerberos); check that service and the server log"
	case "auth_ok", "parameter_status", "backend_key_data", "ready_for_query":
		what, cause = "no ReadyForQuery after authentication", "the new backend is slow to start (a lock on the database or role, a slow login hook, an overloaded server); check pg_stat_activity and the server log"
	case "check_target":
		what, cause = "the target_session_attrs check", "the server is slow to answer a simple query"
	default:
		what, cause = "a step that was waiting", "the server or the network is slow"
	}
	return fmt.Sprintf("The deadline passed while waiting (%s). Likely cause: %s. If the server is just slow, raise -t/--timeout or connect_timeout.", what, cause)
}

// sentAuthResponse: the attempt got as far as answering an authentication request.
func sentAuthResponse(a *statelog.Attempt) bool {
	if a == nil {
		return false
	}
	for _, ev := range a.Events {
		if ev.Step == "auth_response" {
			return true
		}
	}
	return false
}

func adviseConnect(e *statelog.Error, msg string, w where) string {
	errno := e.Errno
	low := strings.ToLower(msg)
	switch {
	case errno == "ECONNREFUSED" || strings.Contains(low, "connection refused"):
		if w.unix {
			return fmt.Sprintf("Nothing accepts connections on %s: the server is not running, or it listens elsewhere. Start it (`pg_ctl start` or the service manager), and check unix_socket_directories and port in postgresql.conf; test with %s.", w.hostport(), w.isready())
		}
		return fmt.Sprintf("The host answered but nothing listens on %s: the server is not running, or it is not listening on that address and port. Check listen_addresses (e.g. '*' instead of 'localhost') and port in postgresql.conf (a restart is needed), and any firewall in between; test with %s.", w.hostport(), w.isready())
	case errno == "ENOENT" || strings.Contains(low, "no such file or directory"):
		return fmt.Sprintf("There is no PostgreSQL socket at %s: the server is not running, or its unix_socket_directories or port differ (Debian uses /var/run/postgresql, a source build /tmp). Point host= at the right directory, or use -h localhost; test with %s.", w.hostport(), w.isready())
	case errno == "EACCES" || strings.Contains(low, "permission denied"):
		return fmt.Sprintf("The operating system refused access to %s. Check the permissions of the socket directory and unix_socket_permissions / unix_socket_group in postgresql.conf.", w.hostport())
	case errno == "EHOSTUNREACH" || errno == "ENETUNREACH" || errno == "EADDRNOTAVAIL" || errno == "EAFNOSUPPORT" || strings.Contains(low, "no route to host") || strings.Contains(low, "network is unreachable"):
		if s := adviseIPv6Only(w); s != "" {
			return s
		}
		return fmt.Sprintf("The network has no route to %s: a firewall rejected the packets, the host is down, or the client has no route to that network (VPN down, IPv6 address without IPv6 connectivity). Check routing and firewalls, or connect to another address with hostaddr=; test with %s.", w.hostport(), w.isready())
	case errno == "ETIMEDOUT" || strings.Contains(low, "timed out"):
		return fmt.Sprintf("The TCP connection to %s timed out in the kernel: packets are dropped on the way (firewall, security group) or the host is down. Test with %s.", w.hostport(), w.isready())
	case strings.Contains(low, "server closed the connection unexpectedly") || errno == "ECONNRESET" || errno == "EPIPE":
		return "The server closed the connection without an error message: it may have crashed or been restarted, a pooler or proxy in front of it dropped the connection, or a firewall reset it. Check the server log at this moment and any proxy between client and server."
	}
	return fmt.Sprintf("The connection to %s failed at the socket level. Check that the server is running and reachable (%s) and the firewall between client and server.", w.hostport(), w.isready())
}

// adviseIPv6Only explains the IPv6-only name on an IPv4-only network: every
// address of the name is IPv6 and this machine has no route to them.
func adviseIPv6Only(w where) string {
	if w.a == nil || len(w.a.Addresses) == 0 || !isIPv6(w.addr) {
		return ""
	}
	for _, ip := range w.a.Addresses {
		if !isIPv6(ip) {
			return ""
		}
	}
	return fmt.Sprintf("%s resolves only to IPv6 addresses (%s), and this machine has no route to them: the network here looks IPv4-only. Connect to an IPv4 address of the server (hostaddr=, or a name with an A record), or give this machine IPv6 connectivity; `getent ahosts %s` shows what the name resolves to, `ip -6 route` the IPv6 routes.", w.host, strings.Join(w.a.Addresses, ", "), w.host)
}

func isIPv6(s string) bool {
	return strings.Contains(s, ":")
}

// untriedAddresses is the note for a final error from a server that answered
// at one address of a name while other addresses of it were never tried:
// libpq stops at the first server that answers, even with an error.
func untriedAddresses(e *statelog.Error, a *statelog.Attempt) string {
	if e == nil || a == nil || e.SQLState == "" || e.SQLState == "57P03" || len(a.Addresses) < 2 {
		return ""
	}
	for i, ip := range a.Addresses {
		if ip != a.HostAddr {
			continue
		}
		rest := a.Addresses[i+1:]
		if len(rest) == 0 {
			return ""
		}
		return fmt.Sprintf(" Note: %s also resolves to %s, which libpq did not try: it stops at the first server that answers, even with an error, and the same server may answer differently there (a pg_hba.conf line matches one address family: 127.0.0.1/32 does not cover ::1/128). Compare with host=%s.", a.Host, strings.Join(rest, ", "), rest[0])
	}
	return ""
}

// failedFirst is the warning for a success reached only after other
// addresses of the same name failed: each connection pays for those tries.
func failedFirst(l *statelog.Log, ok *statelog.Attempt) string {
	if ok == nil || len(ok.Addresses) < 2 {
		return ""
	}
	var failed []string
	seen := map[string]bool{}
	for _, a := range l.Attempts {
		if a == nil || a == ok || a.Host != ok.Host || a.HostAddr == ok.HostAddr || a.Error == nil || seen[a.HostAddr] {
			continue
		}
		seen[a.HostAddr] = true
		failed = append(failed, fmt.Sprintf("%s failed (%s)", a.HostAddr, strings.TrimSpace(firstLine(core(a.Error.Message)))))
	}
	if len(failed) == 0 {
		return ""
	}
	fix := "Make the server listen on every address the name resolves to (listen_addresses, firewall), or correct the name's records"
	if ok.Host == "localhost" {
		fix = "Make the server listen on both (listen_addresses = 'localhost' covers ::1 and 127.0.0.1; a restart is needed)"
	}
	return fmt.Sprintf("%s resolves to %s, and %s before %s answered: every connection by this name pays for that. %s, or connect with host=%s.", ok.Host, strings.Join(ok.Addresses, ", "), strings.Join(failed, ", "), ok.HostAddr, fix, ok.HostAddr)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func adviseSSL(e *statelog.Error, msg string, w where) string {
	switch {
	case strings.Contains(msg, "server does not support SSL, but SSL was required"):
		return fmt.Sprintf("The server answered 'N' to SSLRequest: SSL is off on it, yet sslmode=%s requires encryption. Enable it on the server (ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then `SELECT pg_reload_conf()`), or, if an unencrypted connection is acceptable, use sslmode=prefer.", orDefault(w.sslmode, "require"))
	case strings.Contains(msg, "error response during SSL exchange"):
		return "The server answered SSLRequest with an error instead of 'S' or 'N'. Its text arrived before any authentication, so it is shown only as untrusted bytes. This usually means the server is out of connection slots, starting up, or not PostgreSQL at all; check the server log at this moment."
	case strings.Contains(msg, "unencrypted data after SSL response"):
		return "Bytes arrived unencrypted right after the server's 'S' answer. A real PostgreSQL server never does this; something between client and server is injecting data (CVE-2021-23222). Do not trust this path: check proxies and the network."
	}
	return "SSL negotiation with the server failed. Check ssl settings on the server and sslmode on the client."
}

func adviseTLS(e *statelog.Error, msg string, w where) string {
	var tls *statelog.TLS
	if w.a != nil {
		tls = w.a.TLS
	}
	ve := strings.ToLower(e.Message)
	if tls != nil && tls.VerifyError != "" {
		ve += " " + strings.ToLower(tls.VerifyError)
	}
	switch {
	case strings.Contains(msg, "does not match host name"):
		names := ""
		if tls != nil && len(tls.PeerCertificates) > 0 && len(tls.PeerCertificates[0].SANs) > 0 {
			names = " (" + strings.Join(tls.PeerCertificates[0].SANs, ", ") + ")"
		}
		return fmt.Sprintf("The certificate is signed by a trusted CA but does not name the host you connected to (%s). Connect by a name the certificate lists%s, or reissue the server certificate with subjectAltName %s; sslmode=verify-ca checks the chain without the name.", w.host, names, sanFor(w.host))
	case strings.Contains(msg, "root certificate file") && strings.Contains(msg, "does not exist"):
		return "sslmode=verify-ca/verify-full needs the CA that signed the server's certificate, and the root certificate file is missing. Put the CA certificate in ~/.postgresql/root.crt or point sslrootcert= at it (sslrootcert=system for a public CA), or use sslmode=require to encrypt without verifying."
	case strings.Contains(ve, "expired") || strings.Contains(ve, "not yet valid"):
		return "The server's certificate is outside its validity period. Renew it (ssl_cert_file/ssl_key_file on the server) and run `SELECT pg_reload_conf()`; also check both clocks."
	case strings.Contains(ve, "certificate verify failed") || strings.Contains(ve, "unknown authority") || strings.Contains(ve, "x509"):
		issuer := ""
		if tls != nil && len(tls.PeerCertificates) > 0 {
			issuer = " The server's certificate was issued by " + strconv.Quote(tls.PeerCertificates[0].Issuer) + "."
		}
		return "The server's certificate does not chain to a CA the client trusts: sslrootcert points at the wrong file, or the server uses a self-signed or private-CA certificate." + issuer + " Set sslrootcert= to that CA's certificate (default ~/.postgresql/root.crt), use sslrootcert=system for a public CA, or make the server send its intermediate certificates in ssl_cert_file."
	case strings.Contains(ve, "unknown ca") || strings.Contains(ve, "bad certificate") || strings.Contains(ve, "certificate required"):
		return "The server rejected the client certificate (or wanted one): its ssl_ca_file does not trust the certificate given in sslcert, or pg_hba.conf requires clientcert. Give sslcert= and sslkey= signed by a CA in the server's ssl_ca_file."
	case strings.Contains(ve, "wrong version number") || strings.Contains(ve, "protocol version"):
		return adviseTLSVersion(msg, w, strings.Contains(ve, "wrong version number") && !strings.Contains(ve, "alert protocol version"))
	case strings.Contains(ve, "eof detected") || strings.Contains(ve, "syscall error"):
		return "The connection broke during the TLS handshake. Check the server log for SSL errors (an unreadable ssl_key_file, a missing certificate) and any proxy in between."
	}
	return "The TLS handshake or certificate verification failed. Check the server's ssl_* settings and the client's sslmode, sslrootcert, sslcert and sslkey."
}

// sanFor is the subjectAltName entry that would name host: IP:… for an
// IPv4 or IPv6 address, DNS:… for a name. libpq accepts either for an
// address (it compares dNSName entries with the host string too, as
// probe.VerifyPeerName does), but an iPAddress entry is what RFC 6125 and
// other clients (Go, JDBC) require. Legacy inet_aton forms that libpq takes
// for IPv4 ("0x7f.1", "3221225985"; probe's hostIsIP) are not recognised
// here and get DNS:…, which libpq accepts as written: report cannot import
// probe (probe's tests import report), and probe does not export that parser.
func sanFor(host string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return "IP:" + ip.WithZone("").String()
	}
	return "DNS:" + host
}

// reTLSRange is the client's range of TLS versions in the note libpq (and
// pgprobe) adds to a protocol-version failure: "… does not support any SSL
// protocol version between TLSv1.2 and TLSv1.3."
var reTLSRange = regexp.MustCompile(`between (TLSv[0-9.]*[0-9]) and (TLSv[0-9.]*[0-9])`)

// tlsRank orders libpq's TLS version names: TLSv1 < TLSv1.1 < … (0 unknown).
func tlsRank(v string) int {
	switch v {
	case "TLSv1", "TLSv1.0":
		return 10
	case "TLSv1.1":
		return 11
	case "TLSv1.2":
		return 12
	case "TLSv1.3":
		return 13
	}
	return 0
}

// adviseTLSVersion explains a handshake that failed on the protocol version.
// The versions offered are the client's ssl_min_protocol_version and
// ssl_max_protocol_version; --min-tls-version is checked only after a
// handshake succeeded, so it is no fix here.
//
// wrongVersion is OpenSSL's "wrong version number" without a
// protocol-version alert (pgprobe's text for Go's "first record does not
// look like a TLS handshake" and its own version checks, probe/tls.go):
// with OpenSSL, and so with libpq, its usual cause is a peer that does not
// speak TLS at all, so that comes first. A protocol-version alert is the
// server's own refusal of the versions offered.
func adviseTLSVersion(msg string, w where, wrongVersion bool) string {
	lo, hi := "", ""
	if m := reTLSRange.FindStringSubmatch(msg); m != nil {
		lo, hi = m[1], m[2]
	}
	capped := tlsRank(hi) != 0 && tlsRank(hi) < tlsRank("TLSv1.3")
	offered := ""
	if lo != "" {
		offered = fmt.Sprintf(" (the client offered %s to %s)", lo, hi)
	}
	if wrongVersion {
		s := fmt.Sprintf("The peer at %s may not speak TLS at all: \"wrong version number\" usually means its answer to the ClientHello was not TLS. Check that the port is PostgreSQL's, that no proxy in between answered 'S' and then spoke plaintext, and that a server reached with sslnegotiation=direct is PostgreSQL 17 or newer (else use sslnegotiation=postgres).", w.hostport())
		if capped {
			return s + fmt.Sprintf(" Otherwise the client's ssl_max_protocol_version=%s%s may be below the server's ssl_min_protocol_version: raise or remove it.", hi, offered)
		}
		return s + " Otherwise client and server share no TLS version" + offered + ": compare ssl_min_protocol_version/ssl_max_protocol_version on both sides."
	}
	if capped {
		return fmt.Sprintf("Client and server share no TLS version: the client's ssl_max_protocol_version=%s caps it at %s (it offered %s to %s), below what the server accepts (its ssl_min_protocol_version is likely higher). Raise or remove the client's ssl_max_protocol_version= (or PGSSLMAXPROTOCOLVERSION), or lower ssl_min_protocol_version on the server and run `SELECT pg_reload_conf()`.", hi, hi, lo, hi)
	}
	return "Client and server share no TLS version" + offered + ". Compare the server's ssl_min_protocol_version/ssl_max_protocol_version with the client's ssl_min_protocol_version= and ssl_max_protocol_version= (or PGSSLMINPROTOCOLVERSION, PGSSLMAXPROTOCOLVERSION), and widen whichever range excludes the other."
}

func adviseProtocol(msg string, w where) string {
	switch {
	case strings.Contains(msg, "protocol version not supported") || strings.Contains(msg, "protocol extension"):
		return "The server (or a pooler in front of it) does not support the protocol version or extensions the client asked for. Lower max_protocol_version, or upgrade the pooler."
	}
	return fmt.Sprintf("The peer at %s did not answer as a PostgreSQL server would. Check that the port really belongs to PostgreSQL and not to another service (HTTP, SSH, a TLS-only proxy that expects sslnegotiation=direct); %s helps tell them apart.", w.hostport(), w.isready())
}

func adviseAuth(e *statelog.Error, msg string, w where) string {
	switch {
	case strings.Contains(msg, "no password supplied"):
		method := "a password"
		if w.a != nil && w.a.Auth != nil && w.a.Auth.Method != "" {
			method = w.a.Auth.Method
		}
		return fmt.Sprintf("The server asked for %s, but no password was given. Supply one with PGPASSWORD, password= in the connection string, -W to prompt, or a line `%s:%s:DATABASE:USER:PASSWORD` in ~/.pgpass (chmod 0600); or change the matching pg_hba.conf line if this client should not need one.", method, w.host, w.port)
	case strings.Contains(msg, "channel binding"):
		return "channel_binding=require needs SCRAM-SHA-256-PLUS, which needs TLS and a scram-sha-256 password on the server. Connect with SSL, make sure the pg_hba.conf line uses scram-sha-256 and the role's password is a SCRAM hash, or use channel_binding=prefer."
	case strings.Contains(msg, "require_auth"):
		return "The server asked for an authentication method that require_auth forbids. Either allow that method in require_auth, or change the method in the server's pg_hba.conf."
	case strings.Contains(msg, "before the SCRAM exchange was complete"):
		return "The server claimed success without proving it knows the password. A genuine PostgreSQL server never does this; suspect an impostor or a man in the middle, and connect with sslmode=verify-full."
	}
	return "Authentication failed. Check the user name, the password and the pg_hba.conf line that matches this connection; the server log tells which line matched."
}

func adviseTarget(msg string) string {
	if strings.Contains(msg, "not") {
		return "The server is a primary (or read-write) but target_session_attrs asked for a standby (or read-only). List a standby among the hosts, or relax target_session_attrs (prefer-standby, any)."
	}
	return "The server is a standby (or read-only) but target_session_attrs asked for a primary (read-write). List the current primary among the hosts (after a failover it may have moved), or relax target_session_attrs."
}

func adviseSQLState(e *statelog.Error, msg string, w where) string {
	switch e.SQLState {
	case "28000":
		if m := reHBA.FindStringSubmatch(msg); m != nil {
			return adviseHBA(m)
		}
		if m := reReject.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("A `reject` line in pg_hba.conf matches host %s, user %s. Remove or narrow it, or put a line that allows this connection above it, then run `SELECT pg_reload_conf()`.", m[1], m[2])
		}
		switch {
		case strings.HasPrefix(msg, "role ") && strings.Contains(msg, "does not exist"):
			r := firstQuoted(msg)
			return fmt.Sprintf("There is no role %q on this server. Connect as an existing user (user=), or create it: `CREATE ROLE \"%s\" LOGIN PASSWORD '…'`.", r, r)
		case strings.Contains(msg, "is not permitted to log in"):
			r := firstQuoted(msg)
			return fmt.Sprintf("The role %q exists but lacks LOGIN. Run `ALTER ROLE \"%s\" LOGIN` as a superuser.", r, r)
		case strings.HasPrefix(msg, "Peer authentication failed"), strings.HasPrefix(msg, "Ident authentication failed"):
			return "pg_hba.conf uses peer/ident here, which requires the operating-system user to equal the database user. Run as that OS user (`sudo -u postgres …`), map names in pg_ident.conf, or connect over TCP (-h localhost) to a line that uses scram-sha-256."
		case strings.Contains(msg, "certificate"):
			return "The server requires a valid client certificate whose CN matches the user. Give sslcert= and sslkey= issued by a CA in the server's ssl_ca_file, with CN equal to the user name (or a pg_ident.conf map)."
		}
		return "The server refused this user, database or address before authentication. Check pg_hba.conf and the roles; the server log says which rule applied."
	case "28P01":
		u := firstQuoted(msg)
		if u == "" {
			u = "USER"
		}
		src := ""
		switch {
		case strings.Contains(e.Message, "password retrieved from file"):
			src = " (it came from the password file named above: fix or remove the matching line)"
		case w.a != nil && w.a.Auth != nil && w.a.Auth.PasswordSource != "":
			src = " (it came from " + passwordSourceName(w.a.Auth.PasswordSource) + ")"
		}
		return fmt.Sprintf("The server rejected the password for user %q%s. Check it, and the matching ~/.pgpass line `%s:%s:DATABASE:%s:PASSWORD` (the first matching line wins), PGPASSWORD and password=. If the role's password was stored as MD5 while password_encryption is now scram-sha-256 (or the reverse), set it again with `\\password %s` in psql.", u, src, w.host, w.port, u, u)
	case "3D000":
		d := firstQuoted(msg)
		return fmt.Sprintf("The database %q does not exist on this server. Create it with `createdb -h %s -p %s %s`, or connect to an existing one with dbname= (`psql -l` lists them). Without dbname=, the database defaults to the user name.", d, w.host, w.port, d)
	case "53300":
		switch {
		case strings.Contains(msg, "too many connections for role"):
			r := firstQuoted(msg)
			return fmt.Sprintf("The role %q reached its connection limit. Raise it with `ALTER ROLE \"%s\" CONNECTION LIMIT n`, close idle sessions, or use a pooler such as PgBouncer.", r, r)
		case strings.Contains(msg, "too many connections for database"):
			d := firstQuoted(msg)
			return fmt.Sprintf("The database %q reached its connection limit. Raise it with `ALTER DATABASE \"%s\" CONNECTION LIMIT n`, close idle sessions, or use a pooler.", d, d)
		case strings.Contains(msg, "reserved"):
			return adviseReservedSlots(msg, w)
		}
		return "The server has reached max_connections. See who holds the slots with `SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3`, close idle sessions, raise max_connections (needs a restart), or put a pooler such as PgBouncer in front."
	case "57P03":
		switch {
		case strings.Contains(e.Detail, "Hot standby mode is disabled"):
			return "The server is a standby with hot_standby = off, so it accepts no connections. Set hot_standby = on on the standby (restart), or connect to the primary."
		case strings.Contains(msg, "shutting down"):
			return "The server is shutting down. Wait for it to come back (`pg_isready` or `pgprobe --ping` in a loop) and check the server log for why it stopped."
		case strings.Contains(msg, "starting up"):
			return "The server is starting up and does not accept connections yet. Wait until it does (`pgprobe --ping` or `pg_isready` tells when; `pgprobe --wait 60s` retries until then); if it lasts, check the server log: it may be replaying WAL after a crash."
		case strings.Contains(msg, "recovery mode"), strings.Contains(msg, "not yet accepting"):
			return "The server is in recovery (crash recovery, or a standby that has not reached a consistent state) and does not accept connections yet. Wait (`pgprobe --wait 60s`), watch the server log for the replay progress, and connect to the primary in the meantime; a standby needs hot_standby = on to accept read-only connections."
		}
		return "The server is running but not yet accepting connections (starting up or in recovery). Wait and retry (`pgprobe --wait 60s` retries until it accepts connections); if it lasts, check the server log for the progress of recovery."
	case "42501":
		d := firstQuoted(msg)
		return fmt.Sprintf("The user lacks the CONNECT privilege on database %q. Grant it: `GRANT CONNECT ON DATABASE \"%s\" TO …`.", d, d)
	case "55000":
		if strings.Contains(msg, "not currently accepting connections") {
			d := firstQuoted(msg)
			return fmt.Sprintf("Connections to database %q are disabled. Re-enable them with `ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true`.", d, d)
		}
	case "0A000":
		if strings.Contains(msg, "protocol") {
			return "The server does not support the protocol version the client asked for (" + msg + "). Set max_protocol_version=3.0 (or lower it to what the server supports), or upgrade the server or the pooler in between."
		}
		return "The server does not support a feature the client asked for at startup. Check the connection options (replication=, options=, max_protocol_version) against the server's version and any pooler in between."
	case "42704", "22023":
		p, name := firstQuoted(msg), "the parameter named above"
		if p != "" {
			name = strconv.Quote(p)
		} else {
			p = "NAME"
		}
		return fmt.Sprintf("The server rejected the startup parameter %s. Remove or fix it where it was set: options= (-c %s=…), PGOPTIONS, or the PG* environment variables (PGDATESTYLE, PGTZ); `pgprobe settings` shows where each value came from. A parameter that only a newer server knows needs that server version.", name, p)
	case "08P01":
		return "The server says the client broke the protocol during startup (" + msg + "): a client library bug, an unsupported startup option, or a proxy in between rewriting or injecting bytes. Check the server log, try without any pooler or proxy in between, and update the client library."
	}
	return ""
}

// serverMajor is the major version in the attempt's server_version
// ParameterStatus, or 0 when it is unknown (a failed login usually ends
// before the server sends it) or is not PostgreSQL's (PgBouncer's console).
func serverMajor(a *statelog.Attempt) int {
	if a == nil || a.Server == nil {
		return 0
	}
	v := a.Server.Parameters["server_version"]
	if strings.Contains(v, "/") {
		return 0
	}
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0
	}
	return n
}

// adviseReservedSlots: 53300 "remaining connection slots are reserved …".
// reserved_connections and pg_use_reserved_connections exist from
// PostgreSQL 16 on, whose messages name the SUPERUSER attribute or that
// role; before 16 the message speaks of "non-replication superuser
// connections".
func adviseReservedSlots(msg string, w where) string {
	const rest = " Close idle sessions (see pg_stat_activity), raise max_connections (needs a restart), or put a pooler such as PgBouncer in front."
	major := serverMajor(w.a)
	switch {
	case strings.Contains(msg, "pg_use_reserved_connections"):
		return "Only the reserved slots are left: reserved_connections for roles with privileges of pg_use_reserved_connections, and superuser_reserved_connections. Grant this role pg_use_reserved_connections if it should get them (`GRANT pg_use_reserved_connections TO …`)." + rest
	case strings.Contains(msg, "SUPERUSER attribute"), major >= 16:
		return "Only the reserved slots are left (superuser_reserved_connections, and reserved_connections for roles with pg_use_reserved_connections)." + rest
	case strings.Contains(msg, "non-replication superuser"), major != 0:
		return "Only the slots reserved for superusers are left (superuser_reserved_connections)." + rest
	}
	return "Only the reserved slots are left (superuser_reserved_connections, and on PostgreSQL 16+ reserved_connections)." + rest
}

// adviseHBA turns "no pg_hba.conf entry for host "A", user "U", database
// "D", ENC" into the line that would let the connection in.
func adviseHBA(m []string) string {
	replication, addr, user, db, enc := m[1] != "", m[2], m[3], m[4], m[5]
	if replication {
		db = "replication"
	}
	if addr == "[local]" {
		return fmt.Sprintf("No line in pg_hba.conf matches this local (Unix-socket) connection. Add `local %s %s scram-sha-256` (or peer) above any line that would match first, then run `SELECT pg_reload_conf()` (or `pg_ctl reload`).", db, user)
	}
	mask := "/32"
	if strings.Contains(addr, ":") {
		mask = "/128"
	}
	var kind, encWords string
	switch enc {
	case "SSL encryption", "SSL on":
		kind, encWords = "hostssl", "over SSL"
	case "GSS encryption":
		kind, encWords = "hostgssenc", "with GSS encryption"
	default:
		kind, encWords = "hostnossl", "without encryption"
	}
	line := fmt.Sprintf("`%s %s %s %s%s scram-sha-256`", kind, db, user, addr, mask)
	alt := ""
	if kind == "hostnossl" {
		alt = " (or `host …`, which matches with and without SSL; better, connect with sslmode=require and use `hostssl`)"
	}
	return fmt.Sprintf("No line in pg_hba.conf lets user %q reach database %q from %s %s. Add %s%s to pg_hba.conf above any line that would match first, then run `SELECT pg_reload_conf()` (or `pg_ctl reload`).", user, db, addr, encWords, line, alt)
}

func passwordSourceName(s string) string {
	switch s {
	case "pgpass":
		return "the password file (~/.pgpass or passfile=)"
	case "env":
		return "PGPASSWORD"
	case "conninfo":
		return "the connection string"
	case "prompt":
		return "the prompt"
	case "flag":
		return "a command-line flag"
	case "service":
		return "the service file"
	}
	return s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
