package probe

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/internal/wire"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// mechOAuth is PostgreSQL 18's OAuth SASL mechanism (RFC 7628).
const mechOAuth = "OAUTHBEARER"

// saslRequirement is pg_SASL_init's require_auth check of the mechanism it
// picked: libpq 18 names the mechanism, where check_expected_areq (a
// method that is not SASL at all) says "SASL". It returns libpq's message,
// or "".
func (m *Machine) saslRequirement(mech string) string {
	raw := m.settings.Get("require_auth")
	if raw == "" {
		return ""
	}
	ra, err := conninfo.ParseRequireAuth(raw)
	if err != nil {
		return err.Error()
	}
	method := "scram-sha-256"
	if mech == mechOAuth {
		method = "oauth"
	}
	if ra.Allows(method) {
		return ""
	}
	return fmt.Sprintf("authentication method requirement \"%s\" failed: server requested %s authentication", raw, mech)
}

// oauthBearer is where libpq 18 would start its OAuth client: without
// oauth_issuer and oauth_client_id it fails as libpq does; with them it
// would discover the issuer's endpoints and get a token (the device
// authorization flow, or an application's hook), which pgprobe does not
// do. Either way the probe ends here, before anything is sent.
func (m *Machine) oauthBearer(began time.Time, name string, mechs []string) {
	m.attempt.Auth.Method = "oauth"
	issuer, client := m.settings.Get("oauth_issuer"), m.settings.Get("oauth_client_id")
	m.record(statelog.StepAuthRequest, began, name+": "+strings.Join(mechs, ", ")+" → "+mechOAuth, nil,
		map[string]any{"code": wire.AuthReqSASL, "mechanisms": mechs})
	if issuer == "" || client == "" {
		m.authFail(time.Now(), "OAUTHBEARER needs oauth_issuer and oauth_client_id",
			"server requires OAuth authentication, but oauth_issuer and oauth_client_id are not both set")
		return
	}
	would := fmt.Sprintf("libpq 18 would ask the server for its discovery document, fetch %s's OpenID configuration and get a token for client %q", issuer, client)
	if scope := m.settings.Get("oauth_scope"); scope != "" {
		would += fmt.Sprintf(" with scope %q", scope)
	}
	would += " (the device authorization flow, or an application's token hook)"
	e := m.prefixed(newError(statelog.ClassAuth, "server requested OAUTHBEARER authentication: pgprobe does not run the OAuth flow"))
	e.Detail = would
	m.record(statelog.StepAuthResponse, time.Now(), would+"; pgprobe stops here and sends nothing", e, nil)
	m.bad(e)
}
