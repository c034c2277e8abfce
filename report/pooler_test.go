package report

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func TestPoolerOnlyFromWhatThePeerSent(t *testing.T) {
	// A host name in a local error is not the proxy speaking.
	dns := &statelog.Error{Class: statelog.ClassDNS, Message: `could not translate host name "ep-cool-1.us-east-2.aws.neon.tech" to address: Name or service not known`}
	if p := Pooler(dns, nil); p != "" {
		t.Errorf("a DNS error was attributed to %s", p)
	}
	if a := Advise(dns, nil); strings.Contains(a, "pooler") {
		t.Errorf("DNS advice mentions a pooler: %s", a)
	}
	// A database called neondb on plain PostgreSQL is no proxy either.
	db := &statelog.Error{Class: statelog.ClassServer, SQLState: "3D000", Message: `FATAL:  database "neondb" does not exist`}
	if p := Pooler(db, nil); p != "" {
		t.Errorf("3D000 for neondb was attributed to %s", p)
	}
	// The PgBouncer text keeps the SQLSTATE-specific fix after the note.
	pb := &statelog.Error{Class: statelog.ClassServer, SQLState: "08P01", Message: "FATAL:  no more connections allowed (max_client_conn)"}
	a := Advise(pb, nil)
	for _, want := range []string{"PgBouncer", "not proven", "max_client_conn"} {
		if !strings.Contains(a, want) {
			t.Errorf("advice lacks %q: %s", want, a)
		}
	}
	// ParameterStatus on a successful attempt gives a warning, once.
	l := &statelog.Log{Attempts: []*statelog.Attempt{{OK: true, Server: &statelog.Server{Parameters: map[string]string{"server_version": "1.22.1/bouncer"}}}}}
	Annotate(l)
	Annotate(l)
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "PgBouncer") {
		t.Errorf("warnings = %q", l.Warnings)
	}
}
