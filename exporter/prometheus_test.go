//go:build unix

package exporter

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// The shipped files, as users copy them.
const examples = "../examples/prometheus"

// startPrometheus runs Debian's prometheus on config (a file in its own
// directory) until the test ends, and returns its base URL.
func startPrometheus(t *testing.T, config string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed: run scripts/test.sh, which installs Debian's prometheus package")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", pgtest.FreePort(t))
	logFile, err := os.Create(filepath.Join(t.TempDir(), "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus's log:\n%s", b)
		}
	})
	base := "http://" + addr
	waitFor(t, 20*time.Second, "prometheus to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s after %s", what, limit)
		}
	}
}

// sample is one series of an instant query's answer.
type sample struct {
	labels map[string]string
	value  float64
}

// query asks Prometheus' HTTP API for an instant vector.
func query(t *testing.T, base, q string) []sample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v (status %q)", q, err, r.Status)
	}
	out := make([]sample, len(r.Data.Result))
	for i, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out[i] = sample{labels: s.Metric, value: v}
	}
	return out
}

// shipped copies a shipped file into dir with the replacements made
// (each must occur: the test follows the file).
func shipped(t *testing.T, name, dir string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s no longer has %q: update the test", name, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	out := filepath.Join(dir, name)
	writeFile(t, out, s)
	return out
}

// fastScrapes are the replacements that make the shipped files scrape
// every second.
var fastScrapes = []string{"scrape_interval: 15s", "scrape_interval: 1s", "scrape_timeout: 10s", "scrape_timeout: 1s"}

func writeTargets(t *testing.T, dir string, groups string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "targets", "test.yml"), groups)
}

func loginConfig(c *pgtest.Cluster, pwFile string) string {
	return fmt.Sprintf("modules:\n  login:\n    settings: {user: mon, dbname: postgres, sslmode: verify-full, sslrootcert: %q}\n    password_file: %q\n",
		c.CAFile, pwFile)
}

// TestPrometheus runs a real Prometheus on the shipped scrape
// configurations against pgprobe exporters and real clusters.
func TestPrometheus(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{SSL: true, Roles: []pgtest.Role{{Name: "mon", Password: monPassword}},
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256"}})
	cert := pgtest.ParseCert(t, c.ServerCert())
	pwFile := writeTemp(t, monPassword)
	good := fmt.Sprintf("127.0.0.1:%d", c.Port)
	refused := fmt.Sprintf("127.0.0.1:%d", pgtest.FreePort(t))

	t.Run("scrape configuration", func(t *testing.T) {
		t.Parallel()
		x := startExporter(t, loginConfig(c, pwFile), Options{}, nil)
		dir := t.TempDir()
		shipped(t, "rules.yml", dir)
		config := shipped(t, "prometheus.yml", dir, append(fastScrapes, "evaluation_interval: 15s", "evaluation_interval: 1s",
			"127.0.0.1:9432", strings.TrimPrefix(x.URL, "http://"))...)
		writeTargets(t, dir, fmt.Sprintf("- targets: [%q, %q]\n  labels: {expected_role: primary}\n", good, refused))
		prom := startPrometheus(t, config)
		// The exporter's own /metrics is scraped on its own schedule: wait
		// until a scrape of it came after a successful probe.
		waitFor(t, 20*time.Second, "probe_success of both targets", func() bool {
			return len(query(t, prom, `probe_success{job="postgres"}`)) == 2 &&
				len(query(t, prom, `pgprobe_exporter_probes_total{job="pgprobe_exporter", module="login", result="success"} > 0`)) > 0
		})
		for _, tc := range []struct {
			query string
			want  float64
			n     int
		}{
			{`probe_success{instance="` + good + `", expected_role="primary"}`, 1, 1},
			{`probe_success{instance="` + refused + `"}`, 0, 1},
			{`probe_postgres_error_info{instance="` + refused + `", class="connect"}`, 1, 1},
			{`probe_ssl_earliest_cert_expiry{instance="` + good + `"}`, float64(cert.NotAfter.Unix()), 1},
			{`probe_timeout_seconds{instance="` + good + `"}`, 0.5, 1}, // scrape_timeout 1s less the offset
			{`count(probe_postgres_phase_duration_seconds{instance="` + good + `", phase=~"` + strings.Join(Phases, "|") + `"} >= 0)`, float64(len(Phases)), 1},
			{`probe_postgres_phase_duration_seconds{instance="` + good + `", phase="tls"} > 0`, -1, 1},
			{`probe_postgres_in_hot_standby{instance="` + good + `"}`, 0, 1},
			{`pgprobe_exporter_probes_total{job="pgprobe_exporter", module="login", result="success"} > 0`, -1, 1},
			{`up{job="pgprobe_exporter"}`, 1, 1},
		} {
			got := query(t, prom, tc.query)
			if len(got) != tc.n || tc.want >= 0 && got[0].value != tc.want {
				t.Errorf("%s = %v, want %d series of value %v", tc.query, got, tc.n, tc.want)
			}
		}
		if r := query(t, prom, `count(ALERTS) or vector(0)`); len(r) != 1 {
			t.Errorf("the shipped rules did not load: %v", r)
		}
	})

	t.Run("sharding example", func(t *testing.T) {
		t.Parallel()
		testSharding(t, c, pwFile)
	})

	t.Run("promtool test rules", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(promtool(t), "test", "rules", "rules_test.yml")
		cmd.Dir = examples
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool test rules: %v\n%s", err, out)
		}
		for _, f := range []string{"prometheus.yml", "sharding.yml"} {
			cmd := exec.Command(promtool(t), "check", "config", f)
			cmd.Dir = examples
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check config %s: %v\n%s", f, err, out)
			}
		}
	})
}

// hashmod is Prometheus' hashmod relabelling: the last 8 bytes of the MD5
// of the value, big-endian, modulo the modulus.
func hashmod(s string, modulus uint64) uint64 {
	sum := md5.Sum([]byte(s))
	return binary.BigEndian.Uint64(sum[8:]) % modulus
}

// testSharding runs the shipped sharding example: two exporters, eight
// targets, each probed by exactly the exporter hashmod picks.
func testSharding(t *testing.T, c *pgtest.Cluster, pwFile string) {
	var mu sync.Mutex
	seen := map[string]map[int]bool{} // target → exporters that probed it
	record := func(n int) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/probe" {
					target := r.URL.Query().Get(paramTarget)
					mu.Lock()
					if seen[target] == nil {
						seen[target] = map[int]bool{}
					}
					seen[target][n] = true
					mu.Unlock()
				}
				h.ServeHTTP(w, r)
			})
		}
	}
	a := startExporter(t, loginConfig(c, pwFile), Options{}, record(0))
	b := startExporter(t, loginConfig(c, pwFile), Options{}, record(1))
	dir := t.TempDir()
	config := shipped(t, "sharding.yml", dir, append(fastScrapes,
		"127.0.0.1:9432", strings.TrimPrefix(a.URL, "http://"), "127.0.0.1:9433", strings.TrimPrefix(b.URL, "http://"))...)
	var targets []string
	for i := range 8 {
		targets = append(targets, fmt.Sprintf("postgresql://127.0.0.1:%d/postgres?application_name=shard%d", c.Port, i))
	}
	quoted, _ := json.Marshal(targets)
	writeTargets(t, dir, fmt.Sprintf("- targets: %s\n", quoted))
	prom := startPrometheus(t, config)
	waitFor(t, 20*time.Second, "every target to be scraped twice", func() bool {
		r := query(t, prom, `count_over_time(probe_success{job="postgres"}[1m]) >= 2`)
		return len(r) == len(targets)
	})
	if r := query(t, prom, `probe_success{job="postgres"} == 1`); len(r) != len(targets) {
		t.Errorf("probe_success == 1 for %d targets, want %d: %v", len(r), len(targets), r)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, target := range targets {
		want := int(hashmod(target, 2))
		if len(seen[target]) != 1 || !seen[target][want] {
			t.Errorf("%s was probed by exporters %v, want only exporter %d (hashmod)", target, seen[target], want)
		}
	}
}
