//go:build linux

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestListenKeytab: with --keytab, pgprobe listen answers GSSENCRequest with
// 'G' and records the client's Kerberos tokens (principals and sizes, never
// their contents). The ticket comes from a real MIT KDC; the client is
// pgprobe itself with gssencmode=require.
func TestListenKeytab(t *testing.T) {
	const pw = "gss-user-Ω9"
	kdc := pgtest.StartKDC(t)
	kdc.AddUser(t, "gssuser", pw)
	kdc.AddService(t, "postgres/localhost")
	cache := kdc.Kinit(t, "gssuser", pw, "")

	port, wait := listen(t, "--keytab", kdc.Keytab, "--auth", "gss", "--then", "ok", "-o", "ndjson", "--count", "1")
	vars := map[string]string{}
	for _, kv := range kdc.Env(cache) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	r := pgprobe(t, vars, "-o", "json", "host=localhost port="+port+" user=gssuser dbname=postgres gssencmode=require")
	mustCode(t, r, 0)
	mustEqual(t, r, "attempts.0.gss_response", "G")
	rc, stdout, stderr := wait()
	if rc != 0 {
		t.Fatalf("listen exit %d: %s", rc, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if got := get(doc, "gss.client_principal"); got == nil || !strings.HasPrefix(got.(string), "gssuser") {
		t.Errorf(".gss.client_principal = %v, want gssuser@…\n%s", got, stdout)
	}
	if strings.Contains(stdout+stderr+r.stdout, pw) {
		t.Errorf("the password is in the output")
	}

	// --auth gss without a keytab is a usage error that says what is missing.
	var out strings.Builder
	if code := run([]string{"pgprobe", "listen", "--addr", "127.0.0.1:0", "--auth", "gss"}, strings.NewReader(""), &out, &out); code != 3 || !strings.Contains(out.String(), "--auth gss needs --keytab") {
		t.Errorf("--auth gss without --keytab: exit %d: %s", code, out.String())
	}
}
