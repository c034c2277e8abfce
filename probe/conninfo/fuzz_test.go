package conninfo

import (
	"fmt"
	"strings"
	"testing"
)

func fuzzInput(target string) Input {
	env := map[string]string{"PGSYSCONFDIR": "/nonexistent-pgprobe-sysconf"}
	return Input{
		Target:  target,
		Getenv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HomeDir: "/nonexistent-pgprobe-home",
		OSUser:  "fuzz",
	}
}

// quoteConninfo quotes a value for the key=value form.
func quoteConninfo(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// percentEncode encodes every byte but letters and digits.
func percentEncode(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// checkNoPanicAnywhere runs every entry point over the input.
func checkNoPanicAnywhere(t *testing.T, s string) {
	_, _ = parseConnString(s)
	_ = IsConnString(s)
	_ = Redact(s)
	if st, err := Resolve(fuzzInput(s)); err == nil {
		_, _ = st.Hosts()
		_ = st.All()
		_, _ = ParseRequireAuth(st.Get("require_auth"))
		for _, p := range strings.Split(st.Get("port"), ",") {
			_, _ = ParsePort(p)
		}
	}
}

func FuzzParseConninfo(f *testing.F) {
	for _, seed := range []string{
		"", "host=h port=5432", "host='a b' password='p\\'w'", "host", "host='", "bogus=1",
		"requiressl=1 sslmode=disable", "host=a,b hostaddr=1,2 port=1,2", "require_auth=!md5,!password",
		"sslnegotiation=direct sslmode=prefer", "sslrootcert=system", "connect_timeout=x",
		"password=two words", "host=\x00x", "service=s", "= = =", "a\\", "'",
	} {
		f.Add(seed, "hunter2")
	}
	f.Fuzz(func(t *testing.T, s, secret string) {
		checkNoPanicAnywhere(t, s)
		params, err := parseConnString(s)
		if err == nil && IsConnString(s) {
			for _, p := range params {
				if _, ok := LookupKeyword(p.keyword); !ok {
					t.Fatalf("unknown keyword %q stored", p.keyword)
				}
			}
		}
		// A quoted password never shows in an error or in Redact's output.
		secret = "Zq9" + strings.ReplaceAll(secret, "\x00", "") + "9qZ"
		if strings.Contains(s, secret) {
			return
		}
		in := "password=" + quoteConninfo(secret) + " " + s
		if _, err := Resolve(fuzzInput(in)); err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("error shows the password: %v", err)
		}
		if red := Redact(in); strings.Contains(red, secret) {
			t.Fatalf("Redact(%q) = %q shows the password", in, red)
		}
	})
}

func FuzzParseURI(f *testing.F) {
	for _, seed := range []string{
		"", "host", "host:5432/db", "[::1]:5432/db?sslmode=require", "h1,h2:1,[::1]/db", "[::1", "[]", "[::1]z",
		"host?zzz", "host?a=b=c", "%zz", "a%00b", "host/db?ssl=true&requiressl=0", "?host=/tmp&port=1",
		"u@host", ":pw@host", "host/ db", "host/d b", "host?application_name= x ", "@", "?&", "?=",
	} {
		f.Add(seed, "hunter2")
	}
	f.Fuzz(func(t *testing.T, rest, secret string) {
		for _, prefix := range []string{"postgresql://", "postgres://"} {
			checkNoPanicAnywhere(t, prefix+rest)
		}
		// A password in user:password@ never shows in an error or in
		// Redact's output.
		secret = "Zq9" + strings.ReplaceAll(secret, "\x00", "") + "9qZ"
		enc := percentEncode(secret)
		if strings.Contains(rest, secret) || strings.Contains(rest, enc) {
			return
		}
		in := "postgresql://u:" + enc + "@" + rest
		if _, err := Resolve(fuzzInput(in)); err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), enc)) {
			t.Fatalf("error shows the password: %v", err)
		}
		if red := Redact(in); strings.Contains(red, secret) || strings.Contains(red, enc) {
			t.Fatalf("Redact(%q) = %q shows the password", in, red)
		}
	})
}
