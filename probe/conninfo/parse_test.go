package conninfo

import (
	"strings"
	"testing"
)

// uriVectors are libpq's src/interfaces/libpq/t/001_uri.pl: the input, the
// expected libpq_uri_regress output, the expected error (without the
// "libpq_uri_regress: " prefix) and environment variables.
var uriVectors = []struct {
	uri, want, err string
	env            []string
}{
	{uri: `postgresql://uri-user:secret@host:12345/db`, want: `user='uri-user' password='secret' dbname='db' host='host' port='12345' (inet)`},
	{uri: `postgresql://uri-user@host:12345/db`, want: `user='uri-user' dbname='db' host='host' port='12345' (inet)`},
	{uri: `postgresql://uri-user@host/db`, want: `user='uri-user' dbname='db' host='host' (inet)`},
	{uri: `postgresql://host:12345/db`, want: `dbname='db' host='host' port='12345' (inet)`},
	{uri: `postgresql://host/db`, want: `dbname='db' host='host' (inet)`},
	{uri: `postgresql://uri-user@host:12345/`, want: `user='uri-user' host='host' port='12345' (inet)`},
	{uri: `postgresql://uri-user@host/`, want: `user='uri-user' host='host' (inet)`},
	{uri: `postgresql://uri-user@`, want: `user='uri-user' (local)`},
	{uri: `postgresql://host:12345/`, want: `host='host' port='12345' (inet)`},
	{uri: `postgresql://host:12345`, want: `host='host' port='12345' (inet)`},
	{uri: `postgresql://host/db`, want: `dbname='db' host='host' (inet)`},
	{uri: `postgresql://host/`, want: `host='host' (inet)`},
	{uri: `postgresql://host`, want: `host='host' (inet)`},
	{uri: `postgresql://`, want: `(local)`},
	{uri: `postgresql://?hostaddr=127.0.0.1`, want: `hostaddr='127.0.0.1' (inet)`},
	{uri: `postgresql://example.com?hostaddr=63.1.2.4`, want: `host='example.com' hostaddr='63.1.2.4' (inet)`},
	{uri: `postgresql://%68ost/`, want: `host='host' (inet)`},
	{uri: `postgresql://host/db?user=uri-user`, want: `user='uri-user' dbname='db' host='host' (inet)`},
	{uri: `postgresql://host/db?user=uri-user&port=12345`, want: `user='uri-user' dbname='db' host='host' port='12345' (inet)`},
	{uri: `postgresql://host/db?u%73er=someotheruser&port=12345`, want: `user='someotheruser' dbname='db' host='host' port='12345' (inet)`},
	{uri: `postgresql://host/db?u%7aer=someotheruser&port=12345`, err: `invalid URI query parameter: "uzer"`},
	{uri: `postgresql://host:12345?user=uri-user`, want: `user='uri-user' host='host' port='12345' (inet)`},
	{uri: `postgresql://host?user=uri-user`, want: `user='uri-user' host='host' (inet)`},
	{uri: `postgresql://host?`, want: `host='host' (inet)`},
	{uri: `postgresql://[::1]:12345/db`, want: `dbname='db' host='::1' port='12345' (inet)`},
	{uri: `postgresql://[::1]/db`, want: `dbname='db' host='::1' (inet)`},
	{uri: `postgresql://[2001:db8::1234]/`, want: `host='2001:db8::1234' (inet)`},
	{uri: `postgresql://[200z:db8::1234]/`, want: `host='200z:db8::1234' (inet)`},
	{uri: `postgresql://[::1]`, want: `host='::1' (inet)`},
	{uri: `postgres://`, want: `(local)`},
	{uri: `postgres:///`, want: `(local)`},
	{uri: `postgres:///db`, want: `dbname='db' (local)`},
	{uri: `postgres://uri-user@/db`, want: `user='uri-user' dbname='db' (local)`},
	{uri: `postgres://?host=/path/to/socket/dir`, want: `host='/path/to/socket/dir' (local)`},
	{uri: `postgresql://host?uzer=`, err: `invalid URI query parameter: "uzer"`},
	{uri: `postgre://`, err: `missing "=" after "postgre://" in connection info string`},
	{uri: `postgres://[::1`, err: `end of string reached when looking for matching "]" in IPv6 host address in URI: "postgres://[::1"`},
	{uri: `postgres://[]`, err: `IPv6 host address may not be empty in URI: "postgres://[]"`},
	{uri: `postgres://[::1]z`, err: `unexpected character "z" at position 17 in URI (expected ":" or "/"): "postgres://[::1]z"`},
	{uri: `postgresql://host?zzz`, err: `missing key/value separator "=" in URI query parameter: "zzz"`},
	{uri: `postgresql://host?value1&value2`, err: `missing key/value separator "=" in URI query parameter: "value1"`},
	{uri: `postgresql://host?key=key=value`, err: `extra key/value separator "=" in URI query parameter: "key"`},
	{uri: `postgres://host?dbname=%XXfoo`, err: `invalid percent-encoded token: "%XXfoo"`},
	{uri: `postgresql://a%00b`, err: `forbidden value %00 in percent-encoded value: "a%00b"`},
	{uri: `postgresql://%zz`, err: `invalid percent-encoded token: "%zz"`},
	{uri: `postgresql://%1`, err: `invalid percent-encoded token: "%1"`},
	{uri: `postgresql://%`, err: `invalid percent-encoded token: "%"`},
	{uri: `postgres://@host`, want: `host='host' (inet)`},
	{uri: `postgres://host:/`, want: `host='host' (inet)`},
	{uri: `postgres://:12345/`, want: `port='12345' (local)`},
	{uri: `postgres://otheruser@?host=/no/such/directory`, want: `user='otheruser' host='/no/such/directory' (local)`},
	{uri: `postgres://otheruser@/?host=/no/such/directory`, want: `user='otheruser' host='/no/such/directory' (local)`},
	{uri: `postgres://otheruser@:12345?host=/no/such/socket/path`, want: `user='otheruser' host='/no/such/socket/path' port='12345' (local)`},
	{uri: `postgres://otheruser@:12345/db?host=/path/to/socket`, want: `user='otheruser' dbname='db' host='/path/to/socket' port='12345' (local)`},
	{uri: `postgres://:12345/db?host=/path/to/socket`, want: `dbname='db' host='/path/to/socket' port='12345' (local)`},
	{uri: `postgres://:12345?host=/path/to/socket`, want: `host='/path/to/socket' port='12345' (local)`},
	{uri: `postgres://%2Fvar%2Flib%2Fpostgresql/dbname`, want: `dbname='dbname' host='/var/lib/postgresql' (local)`},
	// The default sslmode becomes verify-full when the system CA store is used.
	{uri: `postgresql://host?sslmode=disable`, want: `host='host' sslmode='disable' (inet)`, env: []string{"PGSSLROOTCERT", "system"}},
	{uri: `postgresql://host?sslmode=prefer`, want: `host='host' sslmode='prefer' (inet)`, env: []string{"PGSSLROOTCERT", "system"}},
	{uri: `postgresql://host?sslmode=verify-full`, want: `host='host' (inet)`, env: []string{"PGSSLROOTCERT", "system"}},

	// Not in 001_uri.pl: more of conninfo_uri_parse_options, derived from
	// its source.
	{uri: `postgresql://h1,h2:5433,[::1]:5434/db`, want: `dbname='db' host='h1,h2,::1' port=',5433,5434' (inet)`},
	{uri: `postgresql://h1:1,h2/db`, want: `dbname='db' host='h1,h2' port='1,' (inet)`},
	{uri: `postgresql://,/`, want: `host=',' port=',' (inet)`},
	// libpq reads user='u' password='p' host='ss@host': the host is the
	// rest of the password, so pgprobe refuses the URI and says why.
	{uri: `postgresql://u:p@ss@host/db`, err: `the URI has more than one "@" before the host: libpq ends user:password@ at the first one, so it would read the rest of the user name or password as host and port. Percent-encode "@" in the user name and password as %40 (and "/" as %2F)`},
	{uri: `postgresql://u:@host`, want: `user='u' host='host' (inet)`},
	{uri: `postgresql://:pw@host`, want: `password='pw' host='host' (inet)`},
	{uri: `postgresql://us%40er:p%3Aw@host`, want: `user='us@er' password='p:w' host='host' (inet)`},
	{uri: `postgresql://u?x@host`, want: `user='u?x' host='host' (inet)`},
	{uri: `postgresql://host/db?ssl=true`, want: `dbname='db' host='host' sslmode='require' (inet)`},
	{uri: `postgresql://host/db?ssl=false`, err: `invalid URI query parameter: "ssl"`},
	{uri: `postgresql://host/db?requiressl=1`, want: `dbname='db' host='host' sslmode='require' (inet)`},
	{uri: `postgresql://host/db?requiressl=0&sslmode=disable`, want: `dbname='db' host='host' sslmode='disable' (inet)`},
	{uri: `postgresql://host/db?dbname=other&host=h2`, want: `dbname='other' host='h2' (inet)`},
	{uri: `postgresql://host/db?application_name=a+b`, want: `dbname='db' host='host' application_name='a+b' (inet)`},
	{uri: `postgresql://host/db?a=b&`, err: `invalid URI query parameter: "a"`},
	{uri: `postgresql://host/db?port=1&&user=x`, err: `missing key/value separator "=" in URI query parameter: ""`},
	{uri: `postgresql://host/db?=x`, err: `invalid URI query parameter: ""`},
	{uri: `postgresql://[::1]x/`, err: `unexpected character "x" at position 19 in URI (expected ":" or "/"): "postgresql://[::1]x/"`},
	{uri: `postgresql://[::1]?port=1`, want: `host='::1' port='1' (inet)`},
	{uri: `postgresql://[::1],[::2]:7`, want: `host='::1,::2' port=',7' (inet)`},
	// PostgreSQL 17+: spaces around a component are dropped, inside it they
	// are an error.
	{uri: `postgresql://host/db?application_name=%20my%20app%20`, want: `dbname='db' host='host' application_name=' my app ' (inet)`},
	{uri: `postgresql://host/db?application_name= app `, want: `dbname='db' host='host' application_name='app' (inet)`},
	{uri: `postgresql://host/db?application_name=my app`, err: `unexpected spaces found in "my app", use percent-encoded spaces (%20) instead`},
	{uri: `postgresql://host/ db`, want: `dbname='db' host='host' (inet)`},
	{uri: `postgresql://ho st/db`, err: `unexpected spaces found in "ho st", use percent-encoded spaces (%20) instead`},
	{uri: `postgresql://%ZZ@host`, err: `invalid percent-encoded token: "%ZZ"`},
	// Secrets are never quoted.
	{uri: `postgresql://u:my secret@host`, err: `unexpected spaces found in "****", use percent-encoded spaces (%20) instead`},
	{uri: `postgresql://u:bad%zzsecret@host`, err: `invalid percent-encoded token: "****"`},
	{uri: `postgresql://u:bad%00secret@host`, err: `forbidden value %00 in percent-encoded value: "****"`},
	{uri: `postgresql://host?password=bad%zzsecret`, err: `invalid percent-encoded token: "****"`},
	{uri: `postgresql://host?sslpassword=my secret`, err: `unexpected spaces found in "****", use percent-encoded spaces (%20) instead`},
	// An unencoded '&' in a secret parameter, '/' in a password.
	{uri: `postgresql://host?password=ab&cd`, err: `missing key/value separator "=" in URI query parameter: "****" (after password=, whose value may hold an unencoded "&": write it as %26)`},
	{uri: `postgresql://host?sslpassword=ab&cd=1`, err: `invalid URI query parameter: "****" (after sslpassword=, whose value may hold an unencoded "&": write it as %26)`},
	{uri: `postgresql://host?sslmode=require&cd=1`, err: `invalid URI query parameter: "cd"`},
	{uri: `postgresql://u:pa/ss@host/db`, err: `the URI has an "@" after a "/": libpq looks for user:password@ only before the first "/", so it would read what comes before it as host:port, and that is not a port. If the user name or password holds "/" or "@", percent-encode them (%2F, %40)`},
	{uri: `postgresql://me@corp.com:pw@host/db`, err: `the URI has more than one "@" before the host: libpq ends user:password@ at the first one, so it would read the rest of the user name or password as host and port. Percent-encode "@" in the user name and password as %40 (and "/" as %2F)`},
	{uri: `postgresql://app:p@ss@host:5432/db`, err: `the URI has more than one "@" before the host: libpq ends user:password@ at the first one, so it would read the rest of the user name or password as host and port. Percent-encode "@" in the user name and password as %40 (and "/" as %2F)`},
	{uri: `postgresql://app:p%40ss@host/db?application_name=a@b`, want: `user='app' password='p@ss' dbname='db' host='host' application_name='a@b' (inet)`},
	{uri: `postgresql://u:pa%2Fss@host/db`, want: `user='u' password='pa/ss' dbname='db' host='host' (inet)`},
	{uri: `postgresql://u:secret@[::1`, err: `end of string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://u:****@[::1"`},
	{uri: `postgresql://u:secret@[]`, err: `IPv6 host address may not be empty in URI: "postgresql://u:****@[]"`},
	{uri: `postgresql://u:secret@[::1]z`, err: `unexpected character "z" at position 28 in URI (expected ":" or "/"): "postgresql://u:****@[::1]z"`},
}

func TestURIVectors(t *testing.T) {
	for _, v := range uriVectors {
		t.Run(v.uri, func(t *testing.T) {
			env := newTestEnv(t).set(v.env...)
			got, err := uriRegress(t, env, v.uri)
			if err != v.err {
				t.Fatalf("error:\n got %q\nwant %q", err, v.err)
			}
			if got != v.want {
				t.Fatalf("output:\n got %q\nwant %q", got, v.want)
			}
		})
	}
}

func TestParseKeyValue(t *testing.T) {
	tests := []struct {
		in   string
		want string // "k=v|k=v" in the order stored
		err  string
	}{
		{in: ``, want: ``},
		{in: `   `, want: ``},
		{in: `host=h port=5`, want: `host=h|port=5`},
		{in: `host = h   port =5 `, want: `host=h|port=5`},
		{in: "host=h\tport=5\n", want: `host=h|port=5`},
		{in: `host='a b' dbname='it\'s'`, want: `host=a b|dbname=it's`},
		{in: `password=a\ b`, want: `password=a b`},
		{in: `password='a\\b'`, want: `password=a\b`},
		{in: `options='-c search_path=x'`, want: `options=-c search_path=x`},
		{in: `host=''`, want: `host=`},
		{in: `host=`, want: `host=`},
		{in: `host= port=5`, want: `host=port=5`}, // blanks after '=' are skipped
		{in: `host=a'b`, want: `host=a'b`},
		{in: `host='a'port=5`, want: `host=a|port=5`},
		{in: `host=h\`, want: `host=h`},
		{in: `host=h host=i`, want: `host=h|host=i`},
		{in: `requiressl=1`, want: `sslmode=require`},
		{in: `requiressl=0`, want: `sslmode=prefer`},
		{in: `requiressl=yes`, want: `sslmode=prefer`},
		{in: `dbname=postgresql://x`, want: `dbname=postgresql://x`},
		{in: `host`, err: `missing "=" after "host" in connection info string`},
		{in: `host=h port`, err: `missing "=" after "port" in connection info string`},
		{in: `host x=1`, err: `missing "=" after "host" in connection info string`},
		{in: `postgre://`, err: `missing "=" after "postgre://" in connection info string`},
		{in: `host='h`, err: `unterminated quoted string in connection info string`},
		{in: `host='h\'`, err: `unterminated quoted string in connection info string`},
		{in: `hots=h`, err: `invalid connection option "hots"`},
		{in: `=h`, err: `invalid connection option ""`},
		{in: `Host=h`, err: `invalid connection option "Host"`},
		{in: `bogus=1 x`, err: `invalid connection option "bogus"`},
		{in: "host=h\x00bogus=1", want: `host=h`},
		// A word after an unquoted secret is part of the secret: not shown.
		{in: `password=my secret`, err: `missing "=" after "****" in connection info string (the word after password= is not shown, as it may be the rest of its value: if the value has a space in it, quote it: password='…')`},
		{in: `password=my sec=ret`, err: `invalid connection option "****" (the word after password= is not shown, as it may be the rest of its value: if the value has a space in it, quote it: password='…')`},
		{in: `sslpassword=my secret`, err: `missing "=" after "****" in connection info string (the word after sslpassword= is not shown, as it may be the rest of its value: if the value has a space in it, quote it: sslpassword='…')`},
		{in: `password=my host=h`, want: `password=my|host=h`},
		{in: `password='my' sec=ret`, err: `invalid connection option "sec"`},
		{in: `password='my secret' oops`, err: `missing "=" after "oops" in connection info string`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			params, err := parseConnString(tt.in)
			if tt.err != "" || err != nil {
				if err == nil || err.Message != tt.err {
					t.Fatalf("error: got %v, want %q", err, tt.err)
				}
				return
			}
			var parts []string
			for _, p := range params {
				parts = append(parts, p.keyword+"="+p.value)
			}
			if got := strings.Join(parts, "|"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsConnString(t *testing.T) {
	for in, want := range map[string]bool{
		"":                   false,
		"mydb":               false,
		"my db":              false,
		"postgres://":        true,
		"postgresql://h":     true,
		"Postgresql://h":     false,
		"postgre://":         false,
		"host=h":             true,
		"a=b":                true,
		"=":                  true,
		"postgres:/x":        false,
		"db\x00host=h":       false,
		"postgresql:///mydb": true,
	} {
		if got := IsConnString(in); got != want {
			t.Errorf("IsConnString(%q) = %v, want %v", in, got, want)
		}
	}
}
