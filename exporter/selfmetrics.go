package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// selfMetrics are the exporter's own metrics, on /metrics. Every label
// value comes from a fixed set or from the configuration's module names:
// nothing a request chooses grows a series.
type selfMetrics struct {
	probes        *prometheus.CounterVec
	refused       *prometheus.CounterVec
	unknownModule prometheus.Counter
	queueTimeouts prometheus.Counter
	inFlight      prometheus.Gauge
	maxInFlight   prometheus.Gauge
	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
	buildInfo     *prometheus.GaugeVec
}

func newSelfMetrics(e *Exporter) selfMetrics {
	m := selfMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgprobe_exporter_probes_total",
			Help: "Probes answered, by module and result (success or failure).",
		}, []string{"module", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgprobe_exporter_requests_refused_total",
			Help: "Probe requests refused with HTTP 400 or 403, by reason.",
		}, []string{"reason"}),
		unknownModule: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgprobe_exporter_module_unknown_total",
			Help: "Probe requests naming a module the configuration does not have (as blackbox_module_unknown_total).",
		}),
		queueTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgprobe_exporter_probe_queue_timeouts_total",
			Help: "Probes that found no free slot (--max-concurrent-probes) before their deadline and answered probe_success 0.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgprobe_exporter_probes_in_flight",
			Help: "Probes running now.",
		}),
		maxInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgprobe_exporter_max_concurrent_probes",
			Help: "The bound on probes running at once (--max-concurrent-probes).",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgprobe_exporter_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (0: the previous configuration stays in force).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgprobe_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration load.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgprobe_exporter_build_info",
			Help: "pgprobe's version (always 1).",
		}, []string{"version"}),
	}
	m.maxInFlight.Set(float64(e.opts.MaxConcurrent))
	v := e.opts.Version
	if v == "" {
		v = "(devel)"
	}
	m.buildInfo.WithLabelValues(v).Set(1)
	for _, r := range []string{"bad_target", "password_in_target", "forbidden_target", "unknown_module", "bad_timeout"} {
		m.refused.WithLabelValues(r) // present at 0, so that rate() sees the first one
	}
	return m
}

func (m selfMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

func (m selfMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m selfMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.probes, m.refused, m.unknownModule, m.queueTimeouts, m.inFlight, m.maxInFlight, m.reloadOK, m.reloadTime, m.buildInfo}
}
