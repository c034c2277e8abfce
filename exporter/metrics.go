package exporter

import (
	"hash/fnv"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgprobe/pgprobe/statelog"
)

// The metrics of one probe. Names are blackbox_exporter's where it has
// one (so that existing alerts and dashboards work), probe_postgres_*
// otherwise. Labels carry only bounded values: never a message, a target
// or a secret (messages go to debug=true).
var (
	descSuccess    = newDesc("probe_success", "Whether the probe succeeded (pgprobe's exit code 0).")
	descDuration   = newDesc("probe_duration_seconds", "How long the probe took to complete in seconds.")
	descTimeout    = newDesc("probe_timeout_seconds", "The probe's deadline in seconds (the scrape's timeout less --timeout-offset, or the module's timeout when smaller).")
	descDNS        = newDesc("probe_dns_lookup_time_seconds", "Time spent resolving host names, in seconds, summed over the attempts.")
	descIPProtocol = newDesc("probe_ip_protocol", "The IP protocol of the address of the deciding attempt (4 or 6).")
	descIPHash     = newDesc("probe_ip_addr_hash", "A hash of the address of the deciding attempt, to notice when it changes.")
	descPhase      = newDesc("probe_postgres_phase_duration_seconds", "Time spent in each phase of the connection, in seconds, summed over the attempts.", "phase")
	descExitCode   = newDesc("probe_postgres_exit_code", "pgprobe's exit code: 0 connected, 1 refused, 2 no usable answer, 3 no attempt, 4 a check failed.")
	descErrorInfo  = newDesc("probe_postgres_error_info", "The class and SQLSTATE of the failure (1 when the probe failed).", "class", "sqlstate")
	descAttempts   = newDesc("probe_postgres_attempts", "Attempts made: one per host, address and SSL try, as libpq makes them.")
	descRoundTrips = newDesc("probe_postgres_round_trips", "Round trips to the server, summed over the attempts.")
	descSSLResp    = newDesc("probe_postgres_ssl_response_info", "The server's answer to SSLRequest in the deciding attempt (S, N, E), or direct for TLS without SSLRequest.", "response")
	descTLS        = newDesc("probe_postgres_tls", "Whether the deciding attempt's connection was encrypted with TLS (0: plaintext).")
	descAuthMethod = newDesc("probe_postgres_auth_method_info", "The authentication method the server asked for.", "method")
	descChanBind   = newDesc("probe_postgres_channel_binding", "Whether SCRAM channel binding was used.")
	descProtocol   = newDesc("probe_postgres_protocol_version_info", "The protocol version the connection uses.", "version")
	descServer     = newDesc("probe_postgres_server_info", "The server's version, as ParameterStatus reports it.", "server_version")
	descStandby    = newDesc("probe_postgres_in_hot_standby", "Whether the server is a hot standby (in_hot_standby, PostgreSQL 14 and later, or pg_is_in_recovery()).")
	descCertExpiry = newDesc("probe_ssl_earliest_cert_expiry", "Returns earliest SSL cert expiry in unixtime (of the certificates the server showed).")
	descChainExp   = newDesc("probe_ssl_last_chain_expiry_timestamp_seconds", "Returns last SSL chain expiry in timestamp (the earliest expiry of the verified chain the server showed).")
	descChainInfo  = newDesc("probe_ssl_last_chain_info", "Contains SSL leaf certificate information.", "fingerprint_sha256", "subject", "issuer", "subjectalternative", "serialnumber")
	descTLSVersion = newDesc("probe_tls_version_info", "Returns the TLS version used or NaN when unknown.", "version")
	descTLSCipher  = newDesc("probe_tls_cipher_info", "Returns the TLS cipher negotiated during handshake.", "cipher")
)

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Phases are probe_postgres_phase_duration_seconds' phase values, in the
// order of a connection.
var Phases = []string{"resolve", "connect", "ssl", "tls", "startup", "auth", "ready"}

// phaseOf maps a step to its phase; steps absent here (an ErrorResponse, a
// timeout) belong to the phase that was waiting, and close to none.
var phaseOf = map[string]string{
	statelog.StepResolve:        "resolve",
	statelog.StepConnect:        "connect",
	statelog.StepSSLRequest:     "ssl",
	statelog.StepSSLResponse:    "ssl",
	statelog.StepGSSRequest:     "ssl",
	statelog.StepGSSResponse:    "ssl",
	statelog.StepTLSHandshake:   "tls",
	statelog.StepStartup:        "startup",
	statelog.StepNegotiate:      "startup",
	statelog.StepAuthRequest:    "auth",
	statelog.StepAuthResponse:   "auth",
	statelog.StepAuthOK:         "auth",
	statelog.StepParameter:      "ready",
	statelog.StepBackendKeyData: "ready",
	statelog.StepReadyForQuery:  "ready",
	statelog.StepCheckTarget:    "check_target",
	statelog.StepQuery:          "check_target",
	statelog.StepQueryResult:    "check_target",
}

// recordCollector exposes one finished record.
type recordCollector struct {
	l       *statelog.Log
	timeout time.Duration
}

func (c recordCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c recordCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	gauge(ch, descSuccess, b2f(l.OK))
	gauge(ch, descDuration, l.DurationMS/1000)
	gauge(ch, descTimeout, c.timeout.Seconds())
	phases := phaseDurations(l)
	gauge(ch, descDNS, phases["resolve"])
	for _, p := range Phases {
		gauge(ch, descPhase, phases[p], p)
	}
	if v, ok := phases["check_target"]; ok {
		gauge(ch, descPhase, v, "check_target")
	}
	gauge(ch, descExitCode, float64(l.ExitCode))
	if l.Error != nil && !l.OK {
		gauge(ch, descErrorInfo, 1, l.Error.Class, l.Error.SQLState)
	}
	gauge(ch, descAttempts, float64(len(l.Attempts)))
	trips := 0
	for _, a := range l.Attempts {
		trips += a.RoundTrips
	}
	gauge(ch, descRoundTrips, float64(trips))
	if a := deciding(l); a != nil {
		collectAttempt(ch, a)
	}
}

// deciding is the attempt whose outcome is the verdict: the one that
// connected, else the last one.
func deciding(l *statelog.Log) *statelog.Attempt {
	for _, a := range l.Attempts {
		if a.OK {
			return a
		}
	}
	if n := len(l.Attempts); n > 0 {
		return l.Attempts[n-1]
	}
	return nil
}

// phaseDurations splits the probe's time between phases: each event gets
// the time since the one before it (so that the phases add up to the
// probe's time, waits included), summed over the attempts.
func phaseDurations(l *statelog.Log) map[string]float64 {
	out := map[string]float64{}
	type ev struct {
		seq     int
		elapsed float64
		phase   string
	}
	var evs []ev
	for _, a := range l.Attempts {
		prev := ""
		for _, e := range a.Events {
			p, ok := phaseOf[e.Step]
			switch {
			case e.Step == statelog.StepClose:
				p = ""
			case !ok:
				p = prev
			}
			prev = p
			evs = append(evs, ev{e.Seq, e.ElapsedMS, p})
		}
	}
	// Attempts follow each other, but order by sequence to be sure.
	slices.SortFunc(evs, func(a, b ev) int { return a.seq - b.seq })
	last := 0.0
	for _, e := range evs {
		if e.phase != "" {
			out[e.phase] += max(e.elapsed-last, 0) / 1000
		}
		last = e.elapsed
	}
	for p, v := range out {
		out[p] = math.Round(v*1e6) / 1e6 // the record's own precision: µs
	}
	return out
}

func collectAttempt(ch chan<- prometheus.Metric, a *statelog.Attempt) {
	if a.Network == "tcp" {
		if ip, err := netip.ParseAddr(a.HostAddr); err == nil {
			ip = ip.Unmap()
			proto := 6.0
			if ip.Is4() {
				proto = 4
			}
			gauge(ch, descIPProtocol, proto)
			h := fnv.New32a()
			h.Write([]byte(ip.String()))
			gauge(ch, descIPHash, float64(h.Sum32()))
		}
	}
	switch {
	case a.Direct:
		gauge(ch, descSSLResp, 1, "direct")
	case a.SSLResponse != nil:
		gauge(ch, descSSLResp, 1, *a.SSLResponse)
	}
	if a.OK || a.Auth != nil || a.Server != nil {
		gauge(ch, descTLS, b2f(a.TLS != nil && a.TLS.Version != ""))
	}
	if a.Auth != nil && a.Auth.Method != "" {
		gauge(ch, descAuthMethod, 1, a.Auth.Method)
		gauge(ch, descChanBind, b2f(a.Auth.ChannelBinding))
	}
	if a.Server != nil {
		if a.Server.ProtocolVersion != "" {
			gauge(ch, descProtocol, 1, a.Server.ProtocolVersion)
		}
		if v := a.Server.Parameters["server_version"]; v != "" {
			gauge(ch, descServer, 1, v)
		}
	}
	switch standby := ""; {
	case a.Server != nil && a.Server.Parameters["in_hot_standby"] != "":
		standby = a.Server.Parameters["in_hot_standby"]
		gauge(ch, descStandby, b2f(standby == "on"))
	case a.Role != "":
		gauge(ch, descStandby, b2f(a.Role == "standby"))
	}
	if a.TLS != nil {
		collectTLS(ch, a.TLS)
	}
}

func collectTLS(ch chan<- prometheus.Metric, t *statelog.TLS) {
	if v, ok := strings.CutPrefix(t.Version, "TLSv"); ok {
		gauge(ch, descTLSVersion, 1, "TLS "+v) // blackbox's spelling
	}
	if t.Cipher != "" {
		gauge(ch, descTLSCipher, 1, t.Cipher)
	}
	if len(t.PeerCertificates) == 0 {
		return
	}
	earliest := t.PeerCertificates[0].NotAfter
	for _, c := range t.PeerCertificates[1:] {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	gauge(ch, descCertExpiry, float64(earliest.Unix()))
	if !t.Verified {
		return // blackbox reports the last chain only when verified
	}
	gauge(ch, descChainExp, float64(earliest.Unix()))
	leaf := t.PeerCertificates[0]
	var dns []string
	for _, s := range leaf.SANs {
		if n, ok := strings.CutPrefix(s, "DNS:"); ok {
			dns = append(dns, n)
		}
	}
	gauge(ch, descChainInfo, 1, leaf.SHA256, leaf.Subject, leaf.Issuer, strings.Join(dns, ","), leaf.Serial)
}
