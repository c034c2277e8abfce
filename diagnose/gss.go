package diagnose

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// adviseGSS is the advice for the Kerberos failures people hit, from the
// cause the client recorded (statelog.Error.Cause) or the server's words.
// It returns "" when the failure is not a Kerberos one.
func adviseGSS(e *statelog.Error, msg string, w where) string {
	var g statelog.GSS
	if w.a != nil && w.a.GSS != nil {
		g = *w.a.GSS
	}
	service := g.ServicePrincipal
	if service == "" {
		service = "postgres/" + w.host + "@REALM"
	}
	cache := g.CredentialCache
	if cache == "" {
		cache = "the default credential cache (KRB5CCNAME)"
	}
	switch e.Cause {
	case "kerberos_no_ccache":
		return fmt.Sprintf("There is no Kerberos ticket in %s. Run `kinit` (as the principal the server expects) and try again; `klist` shows what the cache holds. If the ticket is elsewhere, point KRB5CCNAME at it.", cache)
	case "kerberos_ticket_expired":
		return fmt.Sprintf("The Kerberos ticket in %s has expired. Run `kinit` again (or `kinit -R` while it is renewable); `klist` shows the expiry times.", cache)
	case "kerberos_unknown_service_principal":
		return fmt.Sprintf("The KDC has no principal %s. libpq asks for krbsrvname/HOST with the host name as given: check krbsrvname (default postgres) and that the server's keytab principal uses the same name — a CNAME, an alias or an IP address (host=%s) names another principal. Connect with the name the principal was made for, or add that principal (`kadmin -q 'addprinc -randkey %s'`, then ktadd it to the server's keytab).", service, w.host, strings.SplitN(service, "@", 2)[0])
	case "kerberos_kdc_unreachable":
		return "No KDC of the realm answered. Check the realm's kdc lines in krb5.conf (KRB5_CONFIG), DNS SRV records (_kerberos._tcp.REALM) and that port 88 is reachable from here (firewall, VPN)."
	case "kerberos_clock_skew":
		return "The clocks of this machine, the KDC and the server differ by more than Kerberos allows (5 minutes by default). Synchronise them (NTP: `timedatectl`, chrony)."
	case "kerberos_not_in_keytab":
		return fmt.Sprintf("The server could not accept the Kerberos ticket for %s: its keytab (krb_server_keyfile) lacks that principal or holds an older key version (kvno). Its log says \"could not accept GSSAPI security context\" with the reason; re-export the key with `ktadd` into the keytab the server reads (readable by its OS user) and reload.", service)
	}
	switch {
	case strings.Contains(msg, "GSSAPI authentication failed for user"):
		who := g.ClientPrincipal
		if who == "" {
			who = "the ticket's principal"
		}
		return fmt.Sprintf("The server accepted the Kerberos ticket but %s does not map to the database user asked for. With include_realm=0 the user name must equal the principal's name without the realm; otherwise use a pg_ident.conf map (map=…) or connect as the matching user, or `kinit` as the right principal.", who)
	case strings.Contains(msg, "GSSAPI unwrap error") || strings.Contains(msg, "oversize GSSAPI packet"):
		return "The Kerberos handshake worked, but the GSSAPI-encrypted stream that followed was broken: the server (or a proxy in between that rewrites the stream) sent a packet libpq cannot unwrap. This is no network or login problem. Check the server's and any pooler's GSSAPI encryption support and versions; meanwhile connect with gssencmode=disable (and sslmode=require) to keep encryption through TLS."
	case strings.HasPrefix(msg, "could not initiate GSSAPI security context") || strings.HasPrefix(msg, "GSSAPI continuation error"):
		return "The Kerberos exchange failed; the text after the colon is the reason from the Kerberos library or the KDC. `klist` shows the tickets you have, `kvno " + strings.SplitN(service, "@", 2)[0] + "` asks the KDC for the server's ticket."
	}
	return ""
}

// gssHBA is the pg_hba.conf advice when GSS encryption was refused or
// only GSS encryption is allowed: hostgssenc lines match GSS-encrypted
// connections only, hostnogssenc lines everything else.
func gssHBA(enc string, a *statelog.Attempt) string {
	if a == nil || a.GSS == nil {
		return ""
	}
	if enc == "GSS encryption" {
		return " The client reached the server with GSSAPI encryption: only `hostgssenc` and `host` lines match it, never `hostnogssenc` or `hostssl`. libpq then falls back to SSL and plaintext (gssencmode=prefer), where `hostnogssenc` lines apply."
	}
	return ""
}
