package exporter

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// testExporter is an exporter serving on a loopback port.
type testExporter struct {
	*Exporter
	URL string
	Log *pgtest.SyncBuffer
}

// startExporter writes config (when not empty) to a file and serves an
// exporter on it; wrap, when set, wraps its handler.
func startExporter(t *testing.T, config string, o Options, wrap func(http.Handler) http.Handler) *testExporter {
	t.Helper()
	if config != "" {
		o.ConfigFile = filepath.Join(t.TempDir(), "pgprobe.yml")
		writeFile(t, o.ConfigFile, config)
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.TimeoutOffset == 0 {
		o.TimeoutOffset = DefaultTimeoutOffset
	}
	logs := &pgtest.SyncBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := x.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testExporter{Exporter: x, URL: srv.URL, Log: logs}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// get fetches url with an optional scrape timeout header ("" for none).
func get(t *testing.T, url, scrapeTimeout string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 60 * time.Second}
	if scrapeTimeout != "" {
		req.Header.Set(ScrapeTimeoutHeader, scrapeTimeout)
		d, _ := time.ParseDuration(scrapeTimeout + "s")
		c.Timeout = d // the answer must come within the scrape's timeout
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// parseMetrics parses an exposition.
func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, body)
	}
	return mfs
}

// metric finds the value of name with every label of want; ok is false
// when there is none.
func metric(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// promtool is Debian's promtool; its absence fails the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run scripts/test.sh, which installs Debian's prometheus package")
	}
	return p
}

// checkMetrics runs promtool check metrics on an exposition.
func checkMetrics(t *testing.T, what, body string) {
	t.Helper()
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on %s: %v\n%s", what, err, out)
	}
}
