//go:build unix

package server

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

const gssTestPW = "gss-server-secret-7Ω"

// gssServerRealm is a real MIT KDC with a user and the service
// postgres/localhost, whose keytab the test server reads.
type gssServerRealm struct {
	kdc   *pgtest.KDC
	cache string // gssuser's ticket
}

func startGSSServerRealm(t *testing.T) *gssServerRealm {
	t.Helper()
	kdc := pgtest.StartKDC(t)
	kdc.AddUser(t, "gssuser", gssTestPW)
	kdc.AddService(t, "postgres/localhost")
	return &gssServerRealm{kdc: kdc, cache: kdc.Kinit(t, "gssuser", gssTestPW, "")}
}

// probeGSS runs the probe with the realm's Kerberos environment.
func (r *gssServerRealm) probeGSS(t *testing.T, target string) *statelog.Log {
	t.Helper()
	env := map[string]string{}
	for _, kv := range r.kdc.Env(r.cache) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	req := probe.Request{Input: conninfo.Input{Target: target, HomeDir: t.TempDir(), Getenv: getenv}, Timeout: 15 * time.Second}
	return probe.Probe(context.Background(), req)
}

func lastAttempt(l *statelog.Log) *statelog.Attempt {
	if len(l.Attempts) == 0 {
		return &statelog.Attempt{}
	}
	return l.Attempts[len(l.Attempts)-1]
}

func TestServerGSSWithPgprobeAndPsql(t *testing.T) {
	r := startGSSServerRealm(t)
	for _, tc := range []struct {
		name        string
		cfg         Config
		conn        string
		gssResponse string // the session's answer to GSSENCRequest, "" for none asked
		encryption  bool
	}{
		{"gssencmode=require: the session inside GSSAPI encryption", Config{GSS: &GSSConfig{Keytab: r.kdc.Keytab}, Auth: AuthGSS, Then: ThenOK},
			"gssencmode=require", "G", true},
		{"gss authentication over plaintext", Config{GSS: &GSSConfig{Keytab: r.kdc.Keytab, ServicePrincipal: "postgres/localhost"}, Auth: AuthGSS, Then: ThenOK},
			"gssencmode=disable sslmode=disable", "", false},
		{"GSSAPI encryption refused: gss authentication after 'N'", Config{GSS: &GSSConfig{Keytab: r.kdc.Keytab, NoEncryption: true}, Auth: AuthGSS, Then: ThenOK},
			"sslmode=disable", "N", false},
		{"scram inside GSSAPI encryption", Config{GSS: &GSSConfig{Keytab: r.kdc.Keytab}, Auth: AuthSCRAMSHA256, Password: gssTestPW, Then: ThenOK},
			"gssencmode=require password=" + gssTestPW, "G", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			target := ts.conninfo("host=localhost user=gssuser dbname=postgres", tc.conn)
			l := r.probeGSS(t, target)
			s := ts.next(t)
			if l.Error != nil || l.ExitCode != 0 {
				t.Fatalf("probe: exit %d %+v\n%s", l.ExitCode, l.Error, renderLog(t, l))
			}
			a := lastAttempt(l)
			if a.Auth == nil || (tc.cfg.Auth == AuthGSS && a.Auth.Method != "gss") || a.GSS == nil || a.GSS.Encrypted != tc.encryption || !a.GSS.Established {
				t.Errorf("probe's attempt: auth %+v gss %+v\n%s", a.Auth, a.GSS, renderLog(t, l))
			}
			if got := ""; s.GSSResponse != nil {
				got = *s.GSSResponse
				if got != tc.gssResponse {
					t.Errorf("session gss_response %q, want %q", got, tc.gssResponse)
				}
			} else if tc.gssResponse != "" {
				t.Errorf("session gss_response nil, want %q", tc.gssResponse)
			}
			g := s.GSS
			if s.Outcome != statelog.OutcomeReady || g == nil || !g.Established || g.Encryption != tc.encryption ||
				g.ClientPrincipal != "gssuser@"+pgtest.Realm || g.ServicePrincipal != "postgres/localhost@"+pgtest.Realm ||
				g.Mechanism != "kerberos_v5" || g.TokenBytes == 0 || g.ReplyBytes == 0 || !strings.Contains(strings.Join(g.Flags, " "), "mutual") {
				t.Errorf("session: outcome %s gss %+v\n%s", s.Outcome, g, renderSession(t, s))
			}
			if tc.encryption && (g.PacketsReceived == 0 || g.PacketsSent == 0) {
				t.Errorf("no wrap tokens counted: %+v", g)
			}
			out := renderSession(t, s)
			for _, want := range []string{"gssuser@" + pgtest.Realm, "kerberos_v5"} {
				if !strings.Contains(out, want) {
					t.Errorf("the session's rendering lacks %q:\n%s", want, out)
				}
			}
			wantNoSecret(t, "session", out+renderLog(t, l), gssTestPW)

			// MIT's GSSAPI through libpq agrees: psql connects and its
			// query gets the server's "not a database" error (exit 1).
			psqlOut, code := pgtest.RunPsql(t, target, "select 1", r.kdc.Env(r.cache)...)
			s = ts.next(t)
			if code != 1 || !strings.Contains(psqlOut, "pgprobe") || s.Outcome != statelog.OutcomeReady || s.GSS == nil || s.GSS.Encryption != tc.encryption {
				t.Errorf("psql: exit %d %q; session %s %+v", code, psqlOut, s.Outcome, s.GSS)
			}
		})
	}
}

// TestServerGSSFaults makes the server do what PostgreSQL will not (or
// what a misconfigured one does) and checks pgprobe's verdict and the
// server's record of the client's tokens.
func TestServerGSSFaults(t *testing.T) {
	r := startGSSServerRealm(t)
	otherKeytab := filepath.Join(r.kdc.Dir, "other.keytab")
	r.kdc.AddServiceTo(t, "postgres/elsewhere", otherKeytab)
	enc := func(sc *Script) Config {
		return Config{GSS: &GSSConfig{Keytab: r.kdc.Keytab}, Auth: AuthGSS, Then: ThenOK, Script: func(int) *Script { return sc }}
	}
	wrongKeytab := Config{GSS: &GSSConfig{Keytab: otherKeytab}, Auth: AuthGSS, Then: ThenOK}
	const noKey = "No key table entry found matching postgres/localhost@" + pgtest.Realm
	for _, tc := range []struct {
		name        string
		cfg         Config
		conn        string
		exit        int
		probeErr    string // in pgprobe's error message
		advice      string // in pgprobe's advice
		established bool   // the server accepted the context
		gssErr      string // the session's gss.error
		event       string // in a session event's detail
	}{
		{"'G' then close", enc(&Script{Actions: []Action{{Step: statelog.StepGSSResponse, Close: true}}}), "gssencmode=require", 1,
			"server closed the connection during the GSSAPI handshake", "keytab", false, "", "script: connection closed at gss_response"},
		{"unsealed wrap token", enc(&Script{GSSFault: GSSFaultUnsealed}), "gssencmode=require", 2,
			"GSSAPI unwrap error: a wrap token without confidentiality", "stream that followed was broken", true, "", "without confidentiality (Sealed flag off)"},
		{"oversize packet", enc(&Script{GSSFault: GSSFaultOversize}), "gssencmode=require", 2,
			"oversize GSSAPI packet sent by the server (16384 > 16380)", "stream that followed was broken", true, "", "over PQ_GSS_MAX_PACKET_SIZE"},
		{"garbage packet", enc(&Script{GSSFault: GSSFaultGarbage}), "gssencmode=require", 2,
			"GSSAPI unwrap error: not a GSS-API wrap token", "stream that followed was broken", true, "", "random bytes"},
		{"malformed AP-REP", enc(&Script{Actions: []Action{{Step: statelog.StepGSSHandshake, Replace: []byte{0, 0, 0, 4, 'j', 'u', 'n', 'k'}}}}), "gssencmode=require", 1,
			"could not initiate GSSAPI security context: Invalid token was supplied", "Kerberos", true, "", "replaced by 8 raw bytes"},
		{"keytab without the service: GSSAPI encryption", wrongKeytab, "gssencmode=require", 1,
			"server closed the connection during the GSSAPI handshake", "ktadd", false, noKey, "could not accept GSSAPI security context"},
		{"keytab without the service: gss authentication answers a KRB-ERROR", wrongKeytab, "gssencmode=disable sslmode=disable", 1,
			"GSSAPI continuation error: Unspecified GSS failure.  Minor code may provide more information: Service key not available", "ktadd", false, noKey, "AuthenticationGSSContinue: a KRB-ERROR"},
		{"the principal is not the user", enc(nil), "gssencmode=require user=postgres", 1,
			`FATAL:  GSSAPI authentication failed for user "postgres"`, "does not map", true, "", `the principal gssuser@PGPROBE.TEST is not the user "postgres"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			l := r.probeGSS(t, ts.conninfo("host=localhost user=gssuser dbname=postgres", tc.conn))
			s := ts.next(t)
			if l.ExitCode != tc.exit || l.Error == nil || !strings.Contains(l.Error.Message, tc.probeErr) || !strings.Contains(diagnose.Advise(l.Error, lastAttempt(l)), tc.advice) {
				t.Errorf("probe: exit %d, error %+v; want exit %d, %q, advice with %q\n%s", l.ExitCode, l.Error, tc.exit, tc.probeErr, tc.advice, renderLog(t, l))
			}
			out := renderSession(t, s)
			if s.GSS == nil && !strings.HasPrefix(tc.name, "'G'") {
				t.Fatalf("no gss record:\n%s", out)
			}
			if s.GSS != nil && (s.GSS.Established != tc.established || s.GSS.Error != "" && !strings.HasPrefix(s.GSS.Error, tc.gssErr) || s.GSS.Error == "" && tc.gssErr != "") {
				t.Errorf("session gss %+v; want established %v, error %q\n%s", s.GSS, tc.established, tc.gssErr, out)
			}
			if !slices.ContainsFunc(s.Events, func(e statelog.Event) bool {
				return strings.Contains(e.Detail, tc.event) || e.Error != nil && strings.Contains(e.Error.Message, tc.event)
			}) {
				t.Errorf("no event says %q:\n%s", tc.event, out)
			}
			wantNoSecret(t, "records", out+renderLog(t, l), gssTestPW)
		})
	}
	t.Run("unencrypted data after GSSENCRequest", func(t *testing.T) {
		ts := startServer(t, enc(nil))
		c := rawClient(t, ts)
		mustSend(t, c, &pgproto3.GSSEncRequest{}, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "mallory"}})
		s := ts.next(t)
		if s.Outcome != statelog.OutcomeRefused || s.Error == nil || s.Error.Message != "received unencrypted data after GSSAPI encryption request" || s.Startup != nil {
			t.Errorf("session %s %+v", s.Outcome, s.Error)
		}
	})
}
