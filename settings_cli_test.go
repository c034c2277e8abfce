//go:build unix

package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// `pgprobe settings -o json` on some of libpq's 001_uri.pl vectors (the
// whole table runs against the parser in probe/conninfo).
func TestSettingsURIVectors(t *testing.T) {
	cases := []struct {
		uri  string
		want map[string]string // keyword → value, source conninfo
		err  string
	}{
		{`postgresql://uri-user:secret@host:12345/db`, map[string]string{"user": "uri-user", "password": "****", "dbname": "db", "host": "host", "port": "12345"}, ""},
		{`postgresql://[::1]:12345/db`, map[string]string{"dbname": "db", "host": "::1", "port": "12345"}, ""},
		{`postgresql://host1:1,host2:2,host3/db`, map[string]string{"host": "host1,host2,host3", "port": "1,2,", "dbname": "db"}, ""},
		{`postgresql://host/db?user=uri-user&port=12345`, map[string]string{"user": "uri-user", "dbname": "db", "port": "12345"}, ""},
		{`postgresql://%68ost/`, map[string]string{"host": "host"}, ""},
		{`postgres://?host=%2Fvar%2Flib%2Fpostgresql`, map[string]string{"host": "/var/lib/postgresql"}, ""},
		{`postgresql://host/db?u%7aer=someotheruser&port=12345`, nil, `invalid URI query parameter: "uzer"`},
		{`postgresql://[::1`, nil, `end of string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://[::1"`},
		{`postgresql://host?zzz`, nil, `missing key/value separator "=" in URI query parameter: "zzz"`},
		{`postgresql://%zz`, nil, `invalid percent-encoded token: "%zz"`},
		{`postgresql://%00`, nil, `forbidden value %00 in percent-encoded value: "%00"`},
		{`host=h load_balance_hosts=doesnotexist`, nil, `invalid load_balance_hosts value: "doesnotexist"`},
		{`host=h nosuchkeyword=1`, nil, `invalid connection option "nosuchkeyword"`},
	}
	for _, tc := range cases {
		t.Run(tc.uri, func(t *testing.T) {
			r := pgprobe(t, nil, "settings", "-o", "json", tc.uri)
			if tc.err != "" {
				mustCode(t, r, 3)
				mustEqual(t, r, "error.message", tc.err)
				return
			}
			mustCode(t, r, 0)
			for kw, v := range tc.want {
				mustEqual(t, r, "settings."+kw+".value", v)
				mustEqual(t, r, "settings."+kw+".source", "conninfo")
			}
		})
	}
}

// A service file and a .pgpass file are used as libpq uses them, and
// settings names them as the source; the probe connects with them.
func TestServiceFileAndPgpassSources(t *testing.T) {
	c := sslServer(t)
	home := t.TempDir()
	svc := pgtest.WriteFile(t, home, "services.conf", []byte(fmt.Sprintf("[app]\nhost=127.0.0.1\nport=%d\nuser=scramuser\ndbname=postgres\n", c.Port)), 0o600)
	pgtest.WriteFile(t, home, ".pgpass", []byte(fmt.Sprintf("127.0.0.1:%d:postgres:scramuser:%s\n", c.Port, scramPW)), 0o600)
	env := map[string]string{"HOME": home, "PGSERVICEFILE": svc}
	r := pgprobe(t, env, "settings", "-o", "json", "service=app")
	mustCode(t, r, 0)
	mustEqual(t, r, "settings.host.source", "service")
	mustEqual(t, r, "settings.port.source", "service")
	mustEqual(t, r, "settings.password.source", "pgpass")
	mustEqual(t, r, "settings.password.value", "****")
	if o, _ := get(r.doc, "settings.password.origin").(string); o != filepath.Join(home, ".pgpass")+":1" {
		t.Errorf("password origin %q", o)
	}
	r = pgprobe(t, env, "-o", "json", "service=app")
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.auth.password_source", "pgpass")
	if out, code := pgtest.RunPsql(t, "service=app", "", "HOME="+home, "PGSERVICEFILE="+svc); code != 0 {
		t.Errorf("psql with the same files: %d %s", code, out)
	}
}
