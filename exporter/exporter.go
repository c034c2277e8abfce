// Package exporter is pgprobe as a Prometheus exporter, with
// blackbox_exporter's conventions: GET /probe?target=…&module=… probes one
// target through package run and answers its record as metrics (one
// registry per probe); /metrics has the exporter's own; /-/reload and
// SIGHUP reread the configuration. It keeps no state per target: memory
// follows the probes in flight, bounded by MaxConcurrent.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgprobe/pgprobe/run"
)

// Defaults of the command's flags.
const (
	// DefaultMaxConcurrent bounds the probes in flight. Probes wait on the
	// network, not the CPU, and a silent target holds its slot until the
	// scrape's deadline, so the bound is the fleet's (run's): enough for
	// thousands of targets at a 15 s interval even when some are silent,
	// and small enough that the worst case (every slot in a TLS handshake)
	// stays within tens of MiB.
	DefaultMaxConcurrent = run.DefaultConcurrency
	DefaultTimeoutOffset = 500 * time.Millisecond
	// DefaultScrapeTimeout is the deadline without Prometheus' header
	// (blackbox_exporter's).
	DefaultScrapeTimeout = 120 * time.Second
	DefaultListenAddress = ":9432"
)

// Options configure an Exporter.
type Options struct {
	// ConfigFile is the YAML configuration; "" means DefaultConfig.
	ConfigFile    string
	MaxConcurrent int
	TimeoutOffset time.Duration
	Logger        *slog.Logger
	// Version is reported by pgprobe_exporter_build_info.
	Version string
}

// Exporter serves /probe, /metrics, /-/healthy and /-/reload.
type Exporter struct {
	opts   Options
	config atomic.Pointer[Config]
	slots  chan struct{}
	log    *slog.Logger

	reloadMu sync.Mutex
	registry *prometheus.Registry
	m        selfMetrics
}

// New loads the configuration and makes an Exporter; a bad configuration
// is an error naming the file and the line.
func New(o Options) (*Exporter, error) {
	if o.MaxConcurrent < 1 {
		return nil, fmt.Errorf("invalid --max-concurrent-probes %d: give 1 or more", o.MaxConcurrent)
	}
	if o.TimeoutOffset < 0 {
		return nil, fmt.Errorf("invalid --timeout-offset %s: give 0 or more", o.TimeoutOffset)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := DefaultConfig()
	if o.ConfigFile != "" {
		var err error
		if c, err = LoadConfig(o.ConfigFile); err != nil {
			return nil, err
		}
	}
	e := &Exporter{opts: o, slots: make(chan struct{}, o.MaxConcurrent), log: o.Logger, registry: prometheus.NewRegistry()}
	e.config.Store(c)
	e.m = newSelfMetrics(e)
	e.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), e.m)
	e.m.reloadOK.Set(1)
	e.m.reloadTime.SetToCurrentTime()
	return e, nil
}

// Config is the configuration in force.
func (e *Exporter) Config() *Config { return e.config.Load() }

// Reload rereads the configuration file; on error the old one stays in
// force, and /metrics says the last reload failed.
func (e *Exporter) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.opts.ConfigFile == "" {
		return nil
	}
	c, err := LoadConfig(e.opts.ConfigFile)
	if err != nil {
		e.m.reloadOK.Set(0)
		e.log.Error("the configuration was not reloaded; the previous one stays in force", "err", err)
		return err
	}
	e.config.Store(c)
	e.m.reloadOK.Set(1)
	e.m.reloadTime.SetToCurrentTime()
	e.log.Info("the configuration was reloaded", "file", e.opts.ConfigFile, "modules", len(c.Modules))
	return nil
}

// Handler serves the exporter's endpoints.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", e.serveProbe)
	mux.Handle("/metrics", promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelError)}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set(headerAllow, http.MethodPost)
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := e.Reload(); err != nil {
			http.Error(w, "the configuration was not reloaded, the previous one stays in force: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "the configuration was reloaded")
	})
	mux.HandleFunc("/{$}", e.serveIndex)
	return mux
}

func (e *Exporter) serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(headerContentType, "text/html; charset=utf-8")
	fmt.Fprint(w, `<html><head><title>pgprobe exporter</title></head><body>
<h1>pgprobe exporter</h1>
<p><a href="/probe?target=localhost:5432&amp;debug=true">Probe localhost:5432 with the default module (debug)</a></p>
<p><a href="/metrics">Metrics</a></p>
</body></html>
`)
}

// Serve runs the exporter's HTTP server on srv until ctx ends, and rereads
// the configuration on each value from reload (SIGHUP). serve is the call
// that serves (exporter-toolkit's web.Serve, with TLS and basic auth).
func (e *Exporter) Serve(ctx context.Context, srv *http.Server, reload <-chan struct{}, serve func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-reload:
			_ = e.Reload() // logged; the old configuration stays
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return nil
		}
	}
}
