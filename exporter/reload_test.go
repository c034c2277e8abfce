//go:build unix

package exporter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, resp.Status)
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

func TestFailedReloadKeepsTheOldConfig(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	target := fmt.Sprintf("127.0.0.1:%d", c.Port)
	x := startExporter(t, "modules:\n  quick:\n    ping: true\n", Options{}, nil)
	reloadOK := func() float64 {
		_, body := get(t, x.URL+"/metrics", "")
		v, _ := lookup(t, body, "pgprobe_exporter_config_last_reload_successful")
		return v
	}
	probeStatus := func(module string) int {
		status, _ := get(t, probeURL(x.URL, target, module), "")
		return status
	}

	writeFile(t, x.opts.ConfigFile, "modules:\n  quick:\n    ping: true\n  new:\n    settings: {sslmode: bogus}\n")
	status, body := post(t, x.URL+"/-/reload")
	if status != http.StatusInternalServerError || !strings.Contains(body, "pgprobe.yml:5: ") || !strings.Contains(body, "previous one stays") {
		t.Errorf("reload of a bad file: %d %q, want 500 naming the line", status, body)
	}
	if got := reloadOK(); got != 0 {
		t.Errorf("pgprobe_exporter_config_last_reload_successful = %v after a failed reload, want 0", got)
	}
	if s := probeStatus("quick"); s != 200 {
		t.Errorf("module quick after a failed reload: %d, want 200 (the old configuration)", s)
	}
	if !strings.Contains(x.Log.String(), "previous one stays in force") {
		t.Errorf("the log does not say the reload failed:\n%s", x.Log.String())
	}

	writeFile(t, x.opts.ConfigFile, "modules:\n  new:\n    ping: true\n")
	if status, body := post(t, x.URL+"/-/reload"); status != 200 {
		t.Fatalf("reload of a good file: %d %q", status, body)
	}
	if got := reloadOK(); got != 1 {
		t.Errorf("pgprobe_exporter_config_last_reload_successful = %v, want 1", got)
	}
	if s, n := probeStatus("quick"), probeStatus("new"); s != 400 || n != 200 {
		t.Errorf("after the reload: module quick %d (want 400), module new %d (want 200)", s, n)
	}
	if status, _ := get(t, x.URL+"/-/reload", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", status)
	}
	if status, body := get(t, x.URL+"/-/healthy", ""); status != 200 || !strings.Contains(body, "Healthy") {
		t.Errorf("/-/healthy: %d %q", status, body)
	}
}

// TestConcurrentScrapes sends hundreds of scrapes at once, a fifth of
// them to a silent target, through an exporter with few slots: every one
// is answered before its scrape timeout, those that found no slot with
// probe_success 0, and /metrics counts them.
func TestConcurrentScrapes(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	// An offset of 1 s (not 0.5) leaves room for a machine shared with
	// other test processes: the race detector's, the clusters'.
	x := startExporter(t, "", Options{MaxConcurrent: 8, TimeoutOffset: time.Second}, nil)
	good := fmt.Sprintf("127.0.0.1:%d", c.Port)
	silent := "127.0.0.1:" + strconv.Itoa(pgtest.SilentPeer(t))
	const n = 300
	type answer struct {
		status  int
		success float64
		queued  bool
		err     error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			target := good
			if i%5 == 0 {
				target = silent
			}
			req, _ := http.NewRequest(http.MethodGet, probeURL(x.URL, target, "")+"&debug=true", nil)
			req.Header.Set(ScrapeTimeoutHeader, "3")
			resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 32<<10)
			for {
				k, rerr := resp.Body.Read(buf)
				b.Write(buf[:k])
				if rerr != nil {
					break
				}
			}
			body := b.String()
			answers[i] = answer{status: resp.StatusCode, success: successOf(body), queued: strings.Contains(body, "no probe slot was free")}
		})
	}
	wg.Wait()
	queued, ok := 0, 0
	for i, a := range answers {
		if a.err != nil || a.status != 200 {
			t.Fatalf("scrape %d: status %d, %v: want an answer within the scrape timeout", i, a.status, a.err)
		}
		if a.queued {
			queued++
		}
		if a.success == 1 {
			ok++
		}
		if i%5 == 0 && a.success != 0 {
			t.Errorf("scrape %d of the silent target succeeded", i)
		}
	}
	_, body := get(t, x.URL+"/metrics", "")
	if v, _ := lookup(t, body, "pgprobe_exporter_probe_queue_timeouts_total"); int(v) != queued {
		t.Errorf("pgprobe_exporter_probe_queue_timeouts_total = %v, but %d answers said no slot was free", v, queued)
	}
	if v, _ := lookup(t, body, "pgprobe_exporter_probes_in_flight"); v != 0 {
		t.Errorf("pgprobe_exporter_probes_in_flight = %v after every answer, want 0", v)
	}
	t.Logf("%d scrapes: %d succeeded, %d found no free slot before their deadline", n, ok, queued)
}

// successOf reads probe_success from a debug page.
func successOf(body string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "probe_success "); ok {
			if v == "1" {
				return 1
			}
			return 0
		}
	}
	return -1
}

func TestStandbyAnswersInHotStandby(t *testing.T) {
	primary := pgtest.Start(t, pgtest.Options{Roles: []pgtest.Role{{Name: "mon", Password: monPassword}}})
	standby := pgtest.StartStandby(t, primary)
	x := startExporter(t, fmt.Sprintf("modules:\n  login:\n    settings: {user: mon, dbname: postgres}\n    password_file: %q\n",
		writeTemp(t, monPassword)), Options{}, nil)
	for _, tc := range []struct {
		c    *pgtest.Cluster
		want float64
	}{{primary, 0}, {standby, 1}} {
		_, body := get(t, probeURL(x.URL, fmt.Sprintf("127.0.0.1:%d", tc.c.Port), "login"), "")
		if v, ok := lookup(t, body, "probe_postgres_in_hot_standby"); !ok || v != tc.want {
			t.Errorf("port %d: probe_postgres_in_hot_standby = %v (present %v), want %v\n%s", tc.c.Port, v, ok, tc.want, body)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f := t.TempDir() + "/secret"
	writeFile(t, f, content)
	return f
}
