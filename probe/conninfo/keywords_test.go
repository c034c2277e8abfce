package conninfo

import "testing"

// TestKeywordsAgainstLibpq18 compares Keywords with libpq 18's
// PQconninfoOptions[]: postgres/postgres, src/interfaces/libpq/fe-connect.c,
// branch REL_18_STABLE at commit 79a506228bef41339ba64d27a47e7756dc1fd8db.
// disp is the table's Disp-Char ("*" password field, "D" debug option);
// label is its Label, kept here for reference; compiled is null where the
// table has NULL.
func TestKeywordsAgainstLibpq18(t *testing.T) {
	const null = "\x00NULL" // no compiled-in default
	type entry struct {
		name, env, compiled, disp, label string
	}
	libpq18 := []entry{
		{"service", "PGSERVICE", null, "", "Database-Service"},
		{"user", "PGUSER", null, "", "Database-User"},
		{"password", "PGPASSWORD", null, "*", "Database-Password"},
		{"passfile", "PGPASSFILE", null, "", "Database-Password-File"},
		{"channel_binding", "PGCHANNELBINDING", "prefer", "", "Channel-Binding"}, // DefaultChannelBinding with USE_SSL
		{"connect_timeout", "PGCONNECT_TIMEOUT", null, "", "Connect-timeout"},
		{"dbname", "PGDATABASE", null, "", "Database-Name"},
		{"host", "PGHOST", null, "", "Database-Host"},
		{"hostaddr", "PGHOSTADDR", null, "", "Database-Host-IP-Address"},
		{"port", "PGPORT", "5432", "", "Database-Port"}, // DEF_PGPORT_STR
		{"client_encoding", "PGCLIENTENCODING", null, "", "Client-Encoding"},
		{"options", "PGOPTIONS", "", "", "Backend-Options"}, // DefaultOption ""
		{"application_name", "PGAPPNAME", null, "", "Application-Name"},
		{"fallback_application_name", "", null, "", "Fallback-Application-Name"},
		{"keepalives", "", null, "", "TCP-Keepalives"},
		{"keepalives_idle", "", null, "", "TCP-Keepalives-Idle"},
		{"keepalives_interval", "", null, "", "TCP-Keepalives-Interval"},
		{"keepalives_count", "", null, "", "TCP-Keepalives-Count"},
		{"tcp_user_timeout", "", null, "", "TCP-User-Timeout"},
		{"sslmode", "PGSSLMODE", "prefer", "", "SSL-Mode"},
		{"sslnegotiation", "PGSSLNEGOTIATION", "postgres", "", "SSL-Negotiation"},
		{"sslcompression", "PGSSLCOMPRESSION", "0", "", "SSL-Compression"},
		{"sslcert", "PGSSLCERT", null, "", "SSL-Client-Cert"},
		{"sslkey", "PGSSLKEY", null, "", "SSL-Client-Key"},
		{"sslcertmode", "PGSSLCERTMODE", null, "", "SSL-Client-Cert-Mode"}, // "allow" comes from pqConnectOptions2
		{"sslpassword", "", null, "*", "SSL-Client-Key-Password"},
		{"sslrootcert", "PGSSLROOTCERT", null, "", "SSL-Root-Certificate"},
		{"sslcrl", "PGSSLCRL", null, "", "SSL-Revocation-List"},
		{"sslcrldir", "PGSSLCRLDIR", null, "", "SSL-Revocation-List-Dir"},
		{"sslsni", "PGSSLSNI", "1", "", "SSL-SNI"},
		{"requirepeer", "PGREQUIREPEER", null, "", "Require-Peer"},
		{"require_auth", "PGREQUIREAUTH", null, "", "Require-Auth"},
		{"min_protocol_version", "PGMINPROTOCOLVERSION", null, "", "Min-Protocol-Version"},
		{"max_protocol_version", "PGMAXPROTOCOLVERSION", null, "", "Max-Protocol-Version"},
		{"ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION", "TLSv1.2", "", "SSL-Minimum-Protocol-Version"},
		{"ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION", null, "", "SSL-Maximum-Protocol-Version"},
		{"gssencmode", "PGGSSENCMODE", "prefer", "", "GSSENC-Mode"}, // DefaultGSSMode with ENABLE_GSS
		{"krbsrvname", "PGKRBSRVNAME", "postgres", "", "Kerberos-service-name"},
		{"gsslib", "PGGSSLIB", null, "", "GSS-library"},
		{"gssdelegation", "PGGSSDELEGATION", "0", "", "GSS-delegation"},
		{"replication", "", null, "D", "Replication"},
		{"target_session_attrs", "PGTARGETSESSIONATTRS", "any", "", "Target-Session-Attrs"},
		{"load_balance_hosts", "PGLOADBALANCEHOSTS", "disable", "", "Load-Balance-Hosts"},
		{"scram_client_key", "", null, "D", "SCRAM-Client-Key"},
		{"scram_server_key", "", null, "D", "SCRAM-Server-Key"},
		{"oauth_issuer", "", null, "", "OAuth-Issuer"},
		{"oauth_client_id", "", null, "", "OAuth-Client-ID"},
		{"oauth_client_secret", "", null, "*", "OAuth-Client-Secret"},
		{"oauth_scope", "", null, "", "OAuth-Scope"},
		{"sslkeylogfile", "", null, "D", "SSL-Key-Log-File"},
	}
	// Not in libpq 18: servicefile came with libpq 19 (commit 092f3c63ef).
	extra := map[string]bool{"servicefile": true}
	// Secret although libpq only marks them "D": SCRAM keys stand for the password.
	secretAnyway := map[string]bool{"scram_client_key": true, "scram_server_key": true}

	var ours []Keyword
	for _, k := range Keywords {
		if !extra[k.Name] {
			ours = append(ours, k)
		}
	}
	if len(ours) != len(libpq18) {
		t.Errorf("%d keywords besides %v, libpq 18 has %d", len(ours), extra, len(libpq18))
	}
	for i, e := range libpq18 {
		t.Run(e.name, func(t *testing.T) {
			k, ok := LookupKeyword(e.name)
			if !ok {
				t.Fatalf("missing (libpq label %q)", e.label)
			}
			if i < len(ours) && ours[i].Name != e.name {
				t.Errorf("position %d is %s: libpq 18 has %s there", i, ours[i].Name, e.name)
			}
			if k.EnvVar != e.env {
				t.Errorf("EnvVar = %q, want %q", k.EnvVar, e.env)
			}
			if e.compiled != null && k.Default != e.compiled {
				t.Errorf("Default = %q, libpq's compiled-in default is %q", k.Default, e.compiled)
			}
			if (e.compiled != null) != compiledDefaults[e.name] {
				t.Errorf("compiledDefaults[%s] = %v, libpq compiled-in default %q", e.name, compiledDefaults[e.name], e.compiled)
			}
			if want := e.disp == "*" || secretAnyway[e.name]; k.Secret != want {
				t.Errorf("Secret = %v, want %v (Disp-Char %q)", k.Secret, want, e.disp)
			}
			if want := e.disp == "D"; k.Debug != want {
				t.Errorf("Debug = %v, want %v (Disp-Char %q)", k.Debug, want, e.disp)
			}
		})
	}
	if k, ok := LookupKeyword("oauth_ca_file"); ok {
		t.Errorf("oauth_ca_file (libpq 19) is listed: %+v", k)
	}
}
