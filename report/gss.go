package report

import (
	"fmt"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// gssBlock shows a Kerberos GSS-API context: who, for which service, how
// long the ticket lasts, and whether the session is encrypted by it.
func (t *timeline) gssBlock(g *statelog.GSS) {
	t.block("GSSAPI")
	t.kv(4, "client", orNone(clean(g.ClientPrincipal)))
	t.kv(4, "service", clean(g.ServicePrincipal))
	t.kv(4, "cache", clean(g.CredentialCache))
	if g.TicketExpires != nil {
		left := fmt.Sprintf("%s (%g hours left)", g.TicketExpires.Format("2006-01-02 15:04 UTC"), g.TicketHoursLeft)
		switch {
		case g.TicketHoursLeft <= 0:
			left = t.p.bad.Sprint(left + ": expired, run kinit")
		case g.TicketHoursLeft < 1:
			left = t.p.warn.Sprint(left)
		}
		t.kv(4, "ticket expires", left)
	}
	t.kv(4, "mechanism", g.Mechanism+" ("+g.MechanismOID+"), flags "+strings.Join(g.Flags, ", "))
	enc := "no (authentication only)"
	switch {
	case g.Encrypted:
		enc = t.p.ok.Sprint("yes") + " (GSSAPI encryption: sealed wrap tokens)"
	case !g.Established:
		enc = "no (the context was not established)"
	}
	t.kv(4, "encrypted", enc)
	if g.Note != "" {
		t.kv(4, "note", clean(g.Note))
	}
}
