package report

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

func sampleSession() *statelog.Session {
	s := &statelog.Session{Schema: statelog.Schema, Type: statelog.SessionType, Index: 3, Client: "127.0.0.1:50000",
		Network: "tcp", Listen: "127.0.0.1:5432", StartedAt: t0, DurationMS: 4.5, Outcome: statelog.OutcomeReady,
		SSLRequest: true, SSLResponse: statelog.Str("S"),
		TLS: &statelog.SessionTLS{Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", SNI: "db.example.com", ALPN: "postgresql",
			ALPNOffered: []string{"postgresql"}, VersionsOffered: []string{"TLSv1.3", "TLSv1.2"}, CiphersOffered: []string{"TLS_AES_128_GCM_SHA256"}},
		Startup: &statelog.Startup{ProtocolVersion: "3.0", Parameters: map[string]string{"user": "app", "database": "orders",
			"application_name": "billing\x1b[31m", "DateStyle": "ISO"}},
		Auth:   &statelog.SessionAuth{Method: "scram-sha-256-plus", PasswordReceived: true, Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, Mechanism: "SCRAM-SHA-256-PLUS", ChannelBindingFlag: "p", ChannelBinding: true},
		Events: []statelog.Event{},
	}
	at := t0
	for i, e := range [][3]string{
		{"BackendInitialize", "connect", "connection received: host=127.0.0.1 port=50000"},
		{"ProcessStartupPacket", "ssl_request", "SSLRequest (8 bytes, code 80877103)"},
		{"ProcessStartupPacket", "ssl_response", "'S': SSL is on: the TLS handshake follows"},
		{"secure_open_server", "tls_handshake", "TLSv1.3 TLS_AES_128_GCM_SHA256, SNI db.example.com, ALPN postgresql"},
		{"ProcessStartupPacket", "startup", "StartupMessage 3.0: user=app database=orders application_name=billing\x1b[31m"},
		{"ClientAuthentication", "auth_ok", "AuthenticationOk (method scram-sha-256-plus)"},
		{"PostgresMain", "ready_for_query", "ReadyForQuery (idle)"},
		{"proc_exit", "close", "connection closed"},
	} {
		at = at.Add(500 * time.Microsecond)
		s.Events = append(s.Events, statelog.Event{Seq: i + 1, State: e[0], Step: e[1], At: at, ElapsedMS: float64(i+1) * 0.5, DurationMS: 0.5, Detail: e[2]})
	}
	return s
}

func TestSessionJSONFields(t *testing.T) {
	var b bytes.Buffer
	if err := SessionNDJSON(&b, sampleSession()); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("ndjson is not one line:\n%s", b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) string {
		var out []string
		for k := range m.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	if got, want := keys(doc), "auth cancel client direct_tls duration_ms error events gss_request gss_response index listen network outcome schema ssl_request ssl_response started_at startup tls type"; got != want {
		t.Errorf("session keys:\n got %s\nwant %s", got, want)
	}
	if got := keys(doc["tls"]); got != "alpn alpn_offered cipher ciphers_offered sni version versions_offered" {
		t.Errorf("tls keys %s", got)
	}
	if got := keys(doc["startup"]); got != "parameters protocol_version" {
		t.Errorf("startup keys %s", got)
	}
	if got := keys(doc["auth"]); got != "channel_binding channel_binding_flag mechanism mechanisms method password_received password_verified" {
		t.Errorf("auth keys %s", got)
	}

	var ind bytes.Buffer
	if err := SessionJSON(&ind, sampleSession()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ind.String(), "{\n  \"schema\": \"pgprobe/v1\",\n  \"type\": \"session\",") {
		t.Errorf("indented document:\n%s", ind.String())
	}
}

func TestSessionTimeline(t *testing.T) {
	var plain, colored bytes.Buffer
	if err := SessionTimeline(&plain, sampleSession(), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := SessionTimeline(&colored, sampleSession(), Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("escape bytes without colour (a client's text must be escaped):\n%q", out)
	}
	if !strings.ContainsRune(colored.String(), 0x1b) {
		t.Error("no colour with Color on")
	}
	for _, want := range []string{
		"client 3: 127.0.0.1:50000 → 127.0.0.1:5432  ✓ startup completed",
		"secure_open_server    tls_handshake",
		"SNI              db.example.com",
		"ALPN offered     postgresql",
		`application_name "billing\x1b[31m"`,
		"password sent    yes (never recorded)",
		"channel binding  yes (tls-server-end-point, verified)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
}

func TestSessionWriter(t *testing.T) {
	one := map[string]string{}
	for _, f := range SessionFormats {
		var b bytes.Buffer
		var err error
		switch f {
		case "timeline":
			err = SessionTimeline(&b, sampleSession(), Options{})
		case "json":
			err = SessionJSON(&b, sampleSession())
		case "ndjson":
			err = SessionNDJSON(&b, sampleSession())
		default:
			t.Fatalf("no check for format %q", f)
		}
		if err != nil {
			t.Fatal(err)
		}
		one[f] = b.String()
	}
	// Two sessions in a row: timelines apart by a blank line, documents
	// and lines one after the other.
	for f, want := range map[string]string{
		"timeline": one["timeline"] + "\n" + one["timeline"],
		"json":     one["json"] + one["json"],
		"ndjson":   one["ndjson"] + one["ndjson"],
	} {
		var b bytes.Buffer
		w, err := NewSessionWriter(f, &b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := w.WriteSession(sampleSession()); err != nil {
				t.Fatal(err)
			}
		}
		if b.String() != want {
			t.Errorf("%s: two sessions\n got %q\nwant %q", f, b.String(), want)
		}
	}
	if _, err := NewSessionWriter("table", io.Discard, Options{}); err == nil || !strings.Contains(err.Error(), "timeline, json, ndjson") {
		t.Errorf("unknown format: %v", err)
	}
}
