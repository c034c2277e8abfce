package diagnose

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// where is what the advice needs to know about the place that failed.
type where struct {
	host, addr, port string
	unix             bool
	sslmode          string
	a                *statelog.Attempt
	l                *statelog.Log // the whole record, nil when unknown
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
	if m := re().prefix.FindStringSubmatch(e.Message); m != nil && (a == nil || a.Host == "") {
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

func firstQuoted(s string) string {
	if m := re().quoted.FindStringSubmatch(s); m != nil {
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
func Advise(e *statelog.Error, a *statelog.Attempt) string { return adviseIn(nil, e, a) }

// adviseIn is Advise within the record l (nil when unknown).
func adviseIn(l *statelog.Log, e *statelog.Error, a *statelog.Attempt) string {
	// An interrupt says nothing about the server: the user stopped the
	// probe, and needs no advice about deadlines or settings.
	if e == nil || e.Class == statelog.ClassInterrupted {
		return ""
	}
	s := advise(l, e, a)
	if p := poolerOf(e, a); p != nil {
		return advisePooler(p, s)
	}
	return s
}

func advise(l *statelog.Log, e *statelog.Error, a *statelog.Attempt) string {
	w := whereOf(e, a)
	w.l = l
	msg := Core(e.Message)
	if s := adviseGSS(e, msg, w); s != "" {
		return s
	}
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
		return adviseProtocol(e, msg, w)
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
	if step == statelog.StepAuthRequest && sentAuthResponse(w.a) {
		step = statelog.StepAuthResponse // the wait was for the answer to it
	}
	switch step {
	case statelog.StepResolve:
		what, cause = "name resolution of "+w.host, "the DNS server is slow or unreachable; check /etc/resolv.conf or use hostaddr="
	case statelog.StepConnect:
		what, cause = "no answer to the TCP connection request to "+w.hostport(), "a firewall or security group is silently dropping packets, the address is wrong, or the host is down; test with "+w.isready()+" or `nc -vz "+w.host+" "+w.port+"`"
	case statelog.StepSSLRequest, statelog.StepSSLResponse:
		what, cause = "no answer to SSLRequest", "something accepted the TCP connection but does not speak PostgreSQL (a proxy or load balancer with no backend, another service on that port), or the server is overloaded"
	case statelog.StepTLSHandshake:
		what, cause = "the TLS handshake did not complete", "a middlebox is interfering with TLS, or the server is overloaded"
	case statelog.StepStartup, statelog.StepAuthRequest:
		what, cause = "no answer to the startup message", "the server or a pooler is overloaded or waiting for a free backend; check the server log and pg_stat_activity"
	case statelog.StepAuthResponse:
		what, cause = "no answer to the authentication response", "the server is waiting for an external authentication service (LDAP, RADIUS, PAM, Kerberos); check that service and the server log"
	case statelog.StepAuthOK, statelog.StepParameter, statelog.StepBackendKeyData, statelog.StepReadyForQuery:
		what, cause = "no ReadyForQuery after authentication", "the new backend is slow to start (a lock on the database or role, a slow login hook, an overloaded server); check pg_stat_activity and the server log"
	case statelog.StepCheckTarget:
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
		if ev.Step == statelog.StepAuthResponse {
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
		if s := adviseClosedAfterStartup(e, w); s != "" {
			return s
		}
		return "The server closed the connection without an error message: it may have crashed or been restarted, a pooler or proxy in front of it dropped the connection, or a firewall reset it. Check the server log at this moment and any proxy between client and server."
	}
	return fmt.Sprintf("The connection to %s failed at the socket level. Check that the server is running and reachable (%s) and the firewall between client and server.", w.hostport(), w.isready())
}

func adviseSSL(e *statelog.Error, msg string, w where) string {
	switch {
	case strings.Contains(msg, "server does not support SSL, but SSL was required"):
		return fmt.Sprintf("The server answered 'N' to SSLRequest: SSL is off on it, yet sslmode=%s requires encryption. Enable it on the server (ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then `SELECT pg_reload_conf()`), or, if an unencrypted connection is acceptable, use sslmode=prefer.", cmp.Or(w.sslmode, "require"))
	case strings.Contains(msg, "error response during SSL exchange"):
		return "The server answered SSLRequest with an error instead of 'S' or 'N'. Its text arrived before any authentication, so it is shown only as untrusted bytes. This usually means the server is out of connection slots, starting up, or not PostgreSQL at all; check the server log at this moment."
	case strings.Contains(msg, "unencrypted data after SSL response"):
		return "Bytes arrived unencrypted right after the server's 'S' answer. A real PostgreSQL server never does this; something between client and server is injecting data (CVE-2021-23222). Do not trust this path: check proxies and the network."
	}
	return "SSL negotiation with the server failed. Check ssl settings on the server and sslmode on the client."
}

func adviseProtocol(e *statelog.Error, msg string, w where) string {
	if s := adviseClosedAfterStartup(e, w); s != "" {
		return s
	}
	switch {
	case strings.Contains(msg, `but "min_protocol_version" was set to`):
		return "The server answered with NegotiateProtocolVersion: it speaks only the older protocol version the message names (PostgreSQL 17 and older speak 3.0; 3.2 needs PostgreSQL 18), and min_protocol_version forbids going down to it. Lower min_protocol_version (3.0 is libpq's default) or connect to a server that speaks 3.2; a pooler in front of PostgreSQL 18 may also be the one answering."
	case strings.Contains(msg, "protocol version not supported") || strings.Contains(msg, "protocol extension"):
		return "The server (or a pooler in front of it) does not support the protocol version or extensions the client asked for. Lower max_protocol_version" + sinceLibpq(18) + ", or upgrade the pooler."
	}
	return fmt.Sprintf("The peer at %s did not answer as a PostgreSQL server would. Check that the port really belongs to PostgreSQL and not to another service (HTTP, SSH, a TLS-only proxy that expects sslnegotiation=direct); %s helps tell them apart.", w.hostport(), w.isready())
}

func adviseAuth(e *statelog.Error, msg string, w where) string {
	switch {
	case strings.Contains(msg, "no password supplied"):
		if s := adviseIgnoredPasswordFile(w.l); s != "" {
			return s
		}
		method := "a password"
		if w.a != nil && w.a.Auth != nil && w.a.Auth.Method != "" {
			method = w.a.Auth.Method
		}
		return fmt.Sprintf("The server asked for %s, but no password was given. Supply one with PGPASSWORD, password= in the connection string, -W to prompt, or a line `%s:%s:DATABASE:USER:PASSWORD` in ~/.pgpass (chmod 0600); or change the matching pg_hba.conf line if this client should not need one.", method, w.host, w.port)
	case strings.Contains(msg, "channel binding"):
		return "channel_binding=require needs SCRAM-SHA-256-PLUS, which needs TLS and a scram-sha-256 password on the server. Connect with SSL, make sure the pg_hba.conf line uses scram-sha-256 and the role's password is a SCRAM hash, or use channel_binding=prefer."
	case strings.Contains(msg, "authentication method requirement"):
		return adviseRequireAuth(msg, w)
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
