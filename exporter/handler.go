package exporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.yaml.in/yaml/v3"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/run"
	"github.com/pgprobe/pgprobe/statelog"
)

// ScrapeTimeoutHeader is where Prometheus says how long it waits for a
// scrape.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// /probe's query parameters, and the response headers set here.
const (
	paramTarget       = "target"
	paramModule       = "module"
	paramDebug        = "debug"
	headerContentType = "Content-Type"
	headerAllow       = "Allow"
)

// scrapeTimeout is blackbox_exporter's rule: Prometheus' header (120 s
// without it) less the offset; a smaller module timeout wins. When the
// offset eats the whole header, the header itself is the deadline.
func scrapeTimeout(r *http.Request, m *Module, offset time.Duration) (time.Duration, error) {
	t := DefaultScrapeTimeout
	if v := r.Header.Get(ScrapeTimeoutHeader); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 || s > 1e6 {
			return 0, fmt.Errorf("invalid X-Prometheus-Scrape-Timeout-Seconds %q: give a number of seconds above 0", v)
		}
		t = time.Duration(s * float64(time.Second))
	}
	if t > offset {
		t -= offset
	}
	if m.Timeout > 0 && m.Timeout < t {
		t = m.Timeout
	}
	return t, nil
}

func (e *Exporter) refuse(w http.ResponseWriter, err *requestError) {
	e.m.refused.WithLabelValues(err.reason).Inc()
	http.Error(w, err.msg, err.status)
}

func (e *Exporter) serveProbe(w http.ResponseWriter, r *http.Request) {
	c := e.config.Load()
	q := r.URL.Query()
	name := q.Get(paramModule)
	if name == "" {
		name = DefaultModule
	}
	m := c.Modules[name]
	if m == nil {
		e.m.unknownModule.Inc()
		e.refuse(w, badRequest("unknown_module", "unknown module %q: the configuration has %s", name, strings.Join(c.moduleNames(), ", ")))
		return
	}
	timeout, err := scrapeTimeout(r, m, e.opts.TimeoutOffset)
	if err != nil {
		e.refuse(w, badRequest("bad_timeout", "%s", err))
		return
	}
	// The deadline starts now: waiting for a slot spends it too.
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	req, rerr, perr := c.request(m, q.Get(paramTarget))
	if rerr != nil {
		e.refuse(w, rerr)
		return
	}
	var l *statelog.Log
	switch {
	case perr != nil:
		l = probe.UsageLog(displayTarget(req), perr.Error(), m.Ping, nil)
	default:
		l = e.probe(ctx, req)
	}
	result := "failure"
	if l.OK {
		result = "success"
	}
	e.m.probes.WithLabelValues(name, result).Inc()

	reg := prometheus.NewRegistry()
	reg.MustRegister(recordCollector{l: l, timeout: timeout})
	if debug, _ := strconv.ParseBool(q.Get(paramDebug)); debug {
		w.Header().Set(headerContentType, "text/plain; charset=utf-8")
		_, _ = w.Write(debugOutput(l, reg, m))
		return
	}
	writeMetrics(w, r, reg)
}

// writeMetrics answers the registry in the format the scraper asked for,
// uncompressed: a probe's few kilobytes are not worth a gzip writer per
// request (promhttp's pool lives in its handler, which would be one per
// probe here).
func writeMetrics(w http.ResponseWriter, r *http.Request, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		http.Error(w, "could not gather the probe's metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	format := expfmt.Negotiate(r.Header)
	w.Header().Set(headerContentType, string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
}

// probe runs one probe in a free slot, or, when none frees before the
// deadline, gives a record saying so.
func (e *Exporter) probe(ctx context.Context, req probe.Request) *statelog.Log {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		e.m.queueTimeouts.Inc()
		l := statelog.New(displayTarget(req), nil)
		l.Finish(&statelog.Error{Class: statelog.ClassTimeout, Step: "queue", Message: fmt.Sprintf(
			"no probe slot was free before the deadline: %d probes were already running (--max-concurrent-probes)", cap(e.slots))})
		return l
	}
	e.m.inFlight.Inc()
	defer func() {
		e.m.inFlight.Dec()
		<-e.slots
	}()
	if d, ok := ctx.Deadline(); ok {
		req.Timeout = time.Until(d)
	}
	return run.One(ctx, req, run.Options{})
}

func displayTarget(req probe.Request) string {
	if req.Input.Target != "" {
		return conninfo.Redact(req.Input.Target)
	}
	return req.Display
}

// debugOutput is blackbox_exporter's debug page: the probe's log (here the
// timeline, as pgprobe --color never prints it), the metrics, and the
// module's configuration with its secrets masked.
func debugOutput(l *statelog.Log, reg *prometheus.Registry, m *Module) []byte {
	var b bytes.Buffer
	b.WriteString("Logs for the probe:\n")
	if tw, err := report.New("timeline", &b, report.Options{}); err == nil {
		_ = report.Write(tw, l)
		_ = tw.Close()
	}
	b.WriteString("\n\nMetrics that would have been returned:\n")
	if mfs, err := reg.Gather(); err == nil {
		enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			_ = enc.Encode(mf)
		}
	}
	b.WriteString("\n\nModule configuration:\n")
	y, _ := yaml.Marshal(m.masked())
	b.Write(y)
	return b.Bytes()
}

// moduleYAML is a module as the debug page shows it.
type moduleYAML struct {
	Name          string            `yaml:"name"`
	Settings      map[string]string `yaml:"settings,omitempty"`
	PasswordFile  string            `yaml:"password_file,omitempty"`
	PasswordEnv   string            `yaml:"password_env,omitempty"`
	Ping          bool              `yaml:"ping"`
	Timeout       string            `yaml:"timeout,omitempty"`
	MinCertDays   int               `yaml:"min_cert_days,omitempty"`
	MinTLSVersion string            `yaml:"min_tls_version,omitempty"`
}

// masked is the module with every secret setting (sslpassword, keys)
// replaced by ****. The password itself is never in a module: only where
// to read it.
func (m *Module) masked() moduleYAML {
	y := moduleYAML{Name: m.Name, PasswordFile: m.PasswordFile, PasswordEnv: m.PasswordEnv, Ping: m.Ping,
		MinCertDays: m.Checks.MinCertDays, MinTLSVersion: m.Checks.MinTLSVersion, Settings: map[string]string{}}
	if m.Timeout > 0 {
		y.Timeout = m.Timeout.String()
	}
	keys := make([]string, 0, len(m.Settings))
	for k := range m.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m.Settings[k]
		if kw, _ := conninfo.LookupKeyword(k); kw.Secret {
			v = "****"
		}
		y.Settings[k] = v
	}
	return y
}
