package diagnose

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

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
		failed = append(failed, fmt.Sprintf("%s failed (%s)", a.HostAddr, strings.TrimSpace(firstLine(Core(a.Error.Message)))))
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
