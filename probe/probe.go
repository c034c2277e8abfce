package probe

import (
	"context"
	"net"
	"time"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// Request is one target as the command line describes it.
type Request struct {
	Input   conninfo.Input
	Ping    bool
	Timeout time.Duration
	Sink    statelog.Sink
	// Password, when set, is a password the user typed at a prompt.
	Password string
	Dial     func(ctx context.Context, network, address string) (net.Conn, error)
	Resolver *net.Resolver
	Checks   Checks
	// Display names the target in the record when Input.Target is empty
	// (a target given by -h/-p/-U/-d); it must hold no password.
	Display string
	// Seed seeds load_balance_hosts=random's shuffles (0: a random seed).
	Seed uint64
	// OnPeerChain gets each server certificate chain received (DER, leaf
	// first), also when verification failed (--save-chain); may be nil.
	OnPeerChain func(chain [][]byte)
}

// PromptOrigin is the origin of a password typed at a prompt.
const PromptOrigin = "password prompt"

// Probe resolves the settings and walks the state machine once. Invalid
// settings give a record with an error of class "usage" and no attempt.
func Probe(ctx context.Context, req Request) *statelog.Log {
	target := conninfo.Redact(req.Input.Target)
	if target == "" {
		target = req.Display
	}
	if req.Password != "" {
		if req.Input.Flags == nil {
			req.Input.Flags = map[string]string{}
		}
		req.Input.Flags["password"] = req.Password
		if req.Input.FlagOrigin == nil {
			req.Input.FlagOrigin = map[string]string{}
		}
		req.Input.FlagOrigin["password"] = PromptOrigin
	}
	s, err := conninfo.Resolve(req.Input)
	if err != nil {
		return UsageLog(target, err.Error(), req.Ping, req.Sink)
	}
	if !req.Ping {
		// libpq checks ports and host addresses only when it reaches each
		// host; pgprobe says up front that the settings cannot work (exit 3,
		// no attempt). A ping keeps libpq's order, as pg_isready reports it.
		if msg := checkHosts(s); msg != "" {
			return UsageLog(target, msg, false, req.Sink)
		}
	}
	if req.Ping && s.Get("connect_timeout") == "" {
		// pg_isready passes connect_timeout=3 unless told otherwise.
		s.Set("connect_timeout", conninfo.Value{Value: "3", Source: conninfo.SourceDefault, Origin: "pg_isready's default"})
	}
	m := New(ctx, Config{Settings: s, Target: target, Ping: req.Ping, Timeout: req.Timeout,
		HomeDir: req.Input.HomeDir, Getenv: req.Input.Getenv, Sink: req.Sink, Dial: req.Dial, Resolver: req.Resolver, Seed: req.Seed,
		OnPeerChain: req.OnPeerChain})
	m.Log().Warnings = s.Warnings()
	for m.Step() {
	}
	if w := s.Warnings(); len(w) > 0 {
		m.Log().Warnings = w // Hosts() reads .pgpass lazily: take what it found too
	}
	req.Checks.apply(m.Log())
	return m.Log()
}

// UsageLog is the record of a probe that could not start.
func UsageLog(target, msg string, ping bool, sink statelog.Sink) *statelog.Log {
	l := statelog.New(target, sink)
	l.Finish(&statelog.Error{Class: statelog.ClassUsage, Message: msg})
	if ping {
		l.Ping = "no attempt"
	}
	return l
}

// checkHosts validates every host slot's port and hostaddr.
func checkHosts(s *conninfo.Settings) string {
	hosts, err := s.Hosts()
	if err != nil {
		return err.Error()
	}
	for _, h := range hosts {
		if _, err := conninfo.ParsePort(h.Port); err != nil {
			return err.Error()
		}
		if h.HostAddr != "" {
			if _, perr := parseNumericHost(h.HostAddr); perr != "" {
				return "could not parse network address \"" + h.HostAddr + "\": " + perr
			}
		}
	}
	return ""
}
