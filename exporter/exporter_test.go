//go:build unix

package exporter

import (
	"crypto/x509"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

const monPassword = "Mon-Pa55-never-shown"

// anyValue in a want map: the metric must be there, whatever its value.
var anyValue = math.NaN()

// ownMetricsWant is /metrics after TestProbe's requests.
var ownMetricsWant = map[string]float64{
	"pgprobe_exporter_module_unknown_total":                              1,
	"pgprobe_exporter_requests_refused_total{reason=password_in_target}": 4,
	"pgprobe_exporter_requests_refused_total{reason=forbidden_target}":   2,
	"pgprobe_exporter_probes_total{module=login,result=success}":         anyValue,
	"pgprobe_exporter_probes_total{module=default,result=failure}":       anyValue,
	"pgprobe_exporter_config_last_reload_successful":                     1,
	"pgprobe_exporter_max_concurrent_probes":                             float64(DefaultMaxConcurrent),
	"pgprobe_exporter_probes_in_flight":                                  0,
	"go_goroutines":                                                      anyValue,
	"process_resident_memory_bytes":                                      anyValue,
	"pgprobe_exporter_config_last_reload_success_timestamp_seconds":      anyValue,
	"pgprobe_exporter_probe_queue_timeouts_total":                        0,
	"pgprobe_exporter_build_info":                                        1,
	"pgprobe_exporter_requests_refused_total{reason=unknown_module}":     1,
	"pgprobe_exporter_requests_refused_total{reason=bad_timeout}":        1,
	"pgprobe_exporter_requests_refused_total{reason=bad_target}":         2,
	"pgprobe_exporter_probes_total{module=nopassword,result=failure}":    1,
	"pgprobe_exporter_probes_total{module=login_env,result=success}":     1,
	"pgprobe_exporter_probes_total{module=missingfile,result=failure}":   1,
	"pgprobe_exporter_probes_total{module=longlived,result=failure}":     1,
	"pgprobe_exporter_probes_total{module=short,result=failure}":         1,
	"pgprobe_exporter_probes_total{module=default,result=success}":       1,
}

// probeCase is one GET /probe and what its metrics must say.
type probeCase struct {
	name, target, module, timeout string
	status                        int
	// want: metric{labels} → value (NaN: present, anyValue value).
	want map[string]float64
	// absent: metrics that must not be there.
	absent []string
}

func probeURL(base, target, module string) string {
	v := url.Values{"target": {target}}
	if module != "" {
		v.Set(paramModule, module)
	}
	return base + "/probe?" + v.Encode()
}

// key is "name" or "name{k=v,…}" (one label set, no quotes).
func lookup(t *testing.T, body, key string) (float64, bool) {
	t.Helper()
	name, rest, _ := strings.Cut(key, "{")
	labels := map[string]string{}
	if rest != "" {
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
	}
	return metric(parseMetrics(t, body), name, labels)
}

func TestProbe(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{SSL: true,
		Roles: []pgtest.Role{{Name: "mon", Password: monPassword}},
		HBA:   []string{"hostssl all all 127.0.0.1/32 scram-sha-256"}})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "mon.password")
	writeFile(t, pwFile, monPassword+"\n")
	t.Setenv("PGPROBE_TEST_MON_PASSWORD", monPassword)
	// The exporter's own environment must not leak into probes.
	t.Setenv("PGPASSWORD", monPassword) // would let "nopassword" in
	t.Setenv("PGUSER", "mon")
	x := startExporter(t, fmt.Sprintf(`
modules:
  login:
    settings: {user: mon, dbname: postgres, sslmode: verify-full, sslrootcert: %[1]q}
    password_file: %[2]q
  login_env:
    settings: {user: mon, dbname: postgres, sslmode: verify-full, sslrootcert: %[1]q}
    password_env: PGPROBE_TEST_MON_PASSWORD
  nopassword:
    settings: {user: mon, dbname: postgres, sslmode: require}
  longlived:
    settings: {user: mon, dbname: postgres, sslmode: verify-full, sslrootcert: %[1]q}
    password_file: %[2]q
    min_cert_days: 100000
  short:
    timeout: 700ms
  missingfile:
    password_file: %[3]q
allowed_targets: [127.0.0.1, localhost]
`, c.CAFile, pwFile, filepath.Join(dir, "absent")), Options{}, nil)
	addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
	refused := fmt.Sprintf("127.0.0.1:%d", pgtest.FreePort(t))
	silent := "127.0.0.1:" + strconv.Itoa(pgtest.SilentPeer(t))
	cert := pgtest.ParseCert(t, c.ServerCert())
	var bodies []string

	for _, tc := range probeCases(c.Port, refused, silent, cert) {
		t.Run(tc.name, func(t *testing.T) { bodies = append(bodies, tc.check(t, x.URL)) })
	}

	t.Run("passwords in targets are refused and never echoed", func(t *testing.T) {
		for _, target := range []string{
			"postgresql://mon:" + monPassword + "@127.0.0.1/postgres",
			"host=127.0.0.1 password=" + monPassword,
			"host=127.0.0.1 password='" + monPassword + " with spaces'",
			"postgresql://127.0.0.1/postgres?sslpassword=" + monPassword,
		} {
			status, body := get(t, probeURL(x.URL, target, "login"), "")
			bodies = append(bodies, body)
			if status != http.StatusBadRequest || strings.Contains(body, "Pa55") {
				t.Errorf("status %d, body %q: want 400 without the password", status, body)
			}
		}
	})

	t.Run("debug output", func(t *testing.T) {
		status, body := get(t, probeURL(x.URL, addr, "login")+"&debug=true", "")
		bodies = append(bodies, body)
		for _, want := range []string{"Logs for the probe:", "CONNECTION_AWAITING_RESPONSE", "ready_for_query",
			"Metrics that would have been returned:", "probe_success 1", "Module configuration:", "name: login", "password_file: " + pwFile} {
			if status != 200 || !strings.Contains(body, want) {
				t.Errorf("debug output (status %d) lacks %q:\n%s", status, want, body)
			}
		}
		if strings.Contains(body, "\x1b[") {
			t.Errorf("debug output has colour escapes:\n%s", body)
		}
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		_, body := get(t, probeURL(x.URL, addr, "login"), "")
		checkMetrics(t, "/probe", body)
		_, body = get(t, probeURL(x.URL, refused, ""), "")
		checkMetrics(t, "/probe of a refused target", body)
		_, body = get(t, x.URL+"/metrics", "")
		checkMetrics(t, "/metrics", body)
		bodies = append(bodies, body)
	})

	t.Run("own metrics", func(t *testing.T) {
		_, body := get(t, x.URL+"/metrics", "")
		for key, want := range ownMetricsWant {
			got, ok := lookup(t, body, key)
			if !ok || !math.IsNaN(want) && got != want {
				t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
			}
		}
	})

	t.Run("the password appears in no output and no log", func(t *testing.T) {
		bodies = append(bodies, x.Log.String())
		for _, b := range bodies {
			if strings.Contains(b, "Pa55") {
				t.Errorf("an output holds the password:\n%s", b)
			}
		}
	})
}

// probeCases are /probe's cases against a cluster on port, a refused and a
// silent target; cert is the cluster's certificate.
func probeCases(port int, refused, silent string, cert *x509.Certificate) []probeCase {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return []probeCase{
		{name: "default module pings", target: addr, status: 200, want: map[string]float64{
			"probe_success": 1, "probe_postgres_exit_code": 0, "probe_postgres_ssl_response_info{response=S}": 1,
			"probe_postgres_tls": 1, "probe_tls_version_info{version=TLS 1.3}": 1, "probe_ip_protocol": 4,
			"probe_ssl_earliest_cert_expiry": float64(cert.NotAfter.Unix()), "probe_timeout_seconds": 119.5,
			"probe_postgres_phase_duration_seconds{phase=connect}": anyValue, "probe_postgres_attempts": 1},
			absent: []string{"probe_postgres_error_info", "probe_postgres_auth_method_info", "probe_ssl_last_chain_info"}},
		{name: "login with password_file", target: addr, module: "login", timeout: "10", status: 200, want: map[string]float64{
			"probe_success": 1, "probe_timeout_seconds": 9.5,
			"probe_postgres_auth_method_info{method=scram-sha-256-plus}": 1, "probe_postgres_channel_binding": 1,
			"probe_postgres_protocol_version_info{version=3.0}": 1, "probe_postgres_in_hot_standby": 0,
			"probe_postgres_server_info": anyValue, "probe_ssl_last_chain_expiry_timestamp_seconds": float64(cert.NotAfter.Unix()),
			"probe_ssl_last_chain_info{serialnumber=" + cert.SerialNumber.Text(16) + "}": 1,
			"probe_tls_cipher_info": 1, "probe_postgres_round_trips": anyValue,
			"probe_postgres_phase_duration_seconds{phase=auth}": anyValue, "probe_postgres_phase_duration_seconds{phase=ready}": anyValue}},
		{name: "login with password_env, a host name", target: "localhost:" + strconv.Itoa(port), module: "login_env", status: 200,
			want: map[string]float64{"probe_success": 1, "probe_dns_lookup_time_seconds": anyValue}},
		{name: "connection string target", target: "host=127.0.0.1 port=" + strconv.Itoa(port) + " application_name=x", module: "login", status: 200,
			want: map[string]float64{"probe_success": 1}},
		{name: "URI target", target: "postgresql://127.0.0.1:" + strconv.Itoa(port) + "/postgres", module: "login", status: 200,
			want: map[string]float64{"probe_success": 1}},
		{name: "no password given: the exporter's PGPASSWORD is not sent", target: addr, module: "nopassword", status: 200,
			want: map[string]float64{"probe_success": 0, "probe_postgres_exit_code": 1, "probe_postgres_error_info{class=auth,sqlstate=}": 1}},
		{name: "a failed check", target: addr, module: "longlived", status: 200, want: map[string]float64{
			"probe_success": 0, "probe_postgres_exit_code": 4, "probe_postgres_error_info{class=check}": 1}},
		{name: "unreadable password_file", target: addr, module: "missingfile", status: 200, want: map[string]float64{
			"probe_success": 0, "probe_postgres_exit_code": 3, "probe_postgres_attempts": 0}},
		{name: "refused target", target: refused, status: 200, want: map[string]float64{
			"probe_success": 0, "probe_postgres_exit_code": 2, "probe_postgres_error_info{class=connect,sqlstate=}": 1}},
		{name: "silent target, scrape timeout 1.5 s", target: silent, timeout: "1.5", status: 200, want: map[string]float64{
			"probe_success": 0, "probe_timeout_seconds": 1, "probe_postgres_error_info{class=timeout}": 1}},
		{name: "a module timeout below the scrape's wins", target: silent, module: "short", timeout: "5", status: 200, want: map[string]float64{
			"probe_success": 0, "probe_timeout_seconds": 0.7}},
		{name: "unknown module", target: addr, module: "nope", status: 400},
		{name: "bad timeout header", target: addr, timeout: "soon", status: 400},
		{name: "missing target", status: 400},
		{name: "a target setting a file", target: "host=127.0.0.1 sslrootcert=/etc/passwd", status: 400},
		{name: "disallowed target", target: "10.1.2.3:5432", status: 403},
		{name: "disallowed hostaddr", target: "host=localhost hostaddr=10.1.2.3", status: 403},
	}
}

// check makes the request and checks the answer; it returns the body.
func (tc probeCase) check(t *testing.T, base string) string {
	t.Helper()
	var status int
	var body string
	if tc.timeout == "soon" {
		req, _ := http.NewRequest(http.MethodGet, probeURL(base, tc.target, tc.module), nil)
		req.Header.Set(ScrapeTimeoutHeader, "soon")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = resp.StatusCode
	} else {
		status, body = get(t, probeURL(base, tc.target, tc.module), tc.timeout)
	}
	if status != tc.status {
		t.Fatalf("status %d, want %d\n%s", status, tc.status, body)
	}
	if status != 200 {
		return body
	}
	for key, want := range tc.want {
		got, ok := lookup(t, body, key)
		if !ok || !math.IsNaN(want) && math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v\n%s", key, got, ok, want, body)
		}
	}
	for _, name := range tc.absent {
		if _, ok := lookup(t, body, name); ok {
			t.Errorf("%s is there, want it absent\n%s", name, body)
		}
	}
	return body
}
