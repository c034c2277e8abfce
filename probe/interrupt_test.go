//go:build unix

package probe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/statelog"
)

var (
	sigint  = &Interrupt{Signal: "SIGINT", ExitCode: statelog.ExitInterrupted}
	sigterm = &Interrupt{Signal: "SIGTERM", ExitCode: statelog.ExitTerminated}
)

// upFlights counts the client's flights in the proxy's first connection.
func upFlights(p *pgtest.Proxy) int {
	flows := p.Flights()
	if len(flows) == 0 {
		return 0
	}
	n := 0
	for _, f := range flows[0] {
		if f.Up {
			n++
		}
	}
	return n
}

// sinkFunc is a statelog.Sink from a function.
type sinkFunc func(e statelog.Event)

func (f sinkFunc) Event(_ *statelog.Log, _ *statelog.Attempt, e statelog.Event) { f(e) }

// TestInterruptStalledServer interrupts probes that a real PostgreSQL
// server, silenced by a proxy at a chosen point, leaves waiting: each ends
// at once with class interrupted, closes its socket without Terminate (the
// startup phase allows none, and libpq sends none; e2e_interrupt_test.go
// reads the bytes on the wire), and keeps what it recorded until then.
func TestInterruptStalledServer(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{SSL: true, HBA: []string{"host all all 127.0.0.1/32 trust"}})
	for _, tc := range []struct {
		name     string
		sslmode  string
		holdDown int // bytes of the server's answers that reach the client
		up       int // the client's flights when it waits: then interrupt
		sig      *Interrupt
		state    string // where it waited
		waiting  string // the event that records the interrupt
	}{
		{"SSLRequest unanswered", "require", 0, 1, sigint, "CONNECTION_SSL_STARTUP", statelog.StepSSLResponse},
		{"TLS handshake unanswered", "require", 1, 2, sigint, "CONNECTION_SSL_STARTUP", statelog.StepTLSHandshake},
		{"startup message unanswered", "disable", 0, 1, sigterm, "CONNECTION_AWAITING_RESPONSE", statelog.StepAuthRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pgtest.NewProxy(t, net.JoinHostPort(c.Host, itoa(c.Port)), pgtest.ProxyOptions{HoldUp: pgtest.NoHold, HoldDown: tc.holdDown})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			target := "host=127.0.0.1 user=postgres dbname=postgres sslmode=" + tc.sslmode + " port=" + itoa(p.Port)
			done := make(chan *statelog.Log)
			// A minute: the probe ends in time only if the interrupt ends it.
			go func() {
				done <- Run(ctx, Config{Settings: settings(t, target), Target: target, Timeout: time.Minute, HomeDir: t.TempDir(),
					Getenv: func(string) (string, bool) { return "", false }})
			}()
			for upFlights(p) < tc.up {
				time.Sleep(time.Millisecond)
			}
			cancel(tc.sig)
			l := <-done
			if l.Error == nil || l.Error.Class != statelog.ClassInterrupted || l.ExitCode != tc.sig.ExitCode || l.OK {
				t.Fatalf("verdict %+v, exit %d; want class interrupted, exit %d", l.Error, l.ExitCode, tc.sig.ExitCode)
			}
			if !strings.HasPrefix(l.Error.Message, "interrupted by "+tc.sig.Signal) || l.Error.Advice != "" {
				t.Errorf("message %q, advice %q", l.Error.Message, l.Error.Advice)
			}
			a := l.LastAttempt()
			last := a.Events[len(a.Events)-1]
			if last.Step != statelog.StepClose || last.State != tc.state || !strings.Contains(last.Detail, "without Terminate") {
				t.Errorf("last event %s %s %q; want the socket closed without Terminate in %s", last.State, last.Step, last.Detail, tc.state)
			}
			// Whether it was waiting already or about to, the step that
			// waits records the interrupt.
			if w := a.Events[len(a.Events)-2]; w.Error != l.Error || w.Step != tc.waiting || !strings.HasSuffix(w.Detail, "(interrupted)") {
				t.Errorf("event before close: %s %q %+v; want %s with the interrupt", w.Step, w.Detail, w.Error, tc.waiting)
			}
		})
	}
}

// TestInterruptEstablished interrupts a probe whose connection is
// established: PQfinish sends Terminate then, so does the probe, and the
// verdict it reached stands.
func TestInterruptEstablished(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{HBA: []string{"host all all 127.0.0.1/32 trust"}})
	p := pgtest.NewProxy(t, net.JoinHostPort(c.Host, itoa(c.Port)), pgtest.ProxyOptions{HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	target := "host=127.0.0.1 user=postgres dbname=postgres sslmode=disable port=" + itoa(p.Port)
	sink := sinkFunc(func(e statelog.Event) {
		if e.Step == statelog.StepCheckTarget {
			cancel(sigint)
		}
	})
	l := Run(ctx, Config{Settings: settings(t, target), Target: target, Sink: sink, HomeDir: t.TempDir(),
		Getenv: func(string) (string, bool) { return "", false }})
	if !l.OK {
		t.Fatalf("verdict %+v; the connection was established before the interrupt", l.Error)
	}
	a := l.LastAttempt()
	if last := a.Events[len(a.Events)-1]; last.Step != statelog.StepClose || last.Detail != "Terminate sent, connection closed" {
		t.Errorf("last event %s %q; want Terminate sent", last.Step, last.Detail)
	}
	// The proxy reads what the client sent on its own time: wait for the
	// Terminate (5 bytes).
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		flows := p.Flights()
		f := flows[0][len(flows[0])-1]
		if f.Up && f.Bytes == 5 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("last flight: up %v, %d bytes; want the client's Terminate (5 bytes)", f.Up, f.Bytes)
		}
	}
}

// TestInterruptBeforeProbe: a context already cancelled (a fleet's
// targets not started when the user interrupted) gives a record with no
// attempt; a cancellation without an Interrupt cause is SIGINT's code.
func TestInterruptBeforeProbe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause error
		msg   string
		code  int
	}{
		{"SIGTERM", sigterm, "interrupted by SIGTERM before this target was probed", statelog.ExitTerminated},
		{"no cause", nil, "interrupted before this target was probed", statelog.ExitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(tc.cause)
			target := "host=127.0.0.1 port=1 user=u"
			l := Run(ctx, Config{Settings: settings(t, target), Target: target, HomeDir: t.TempDir()})
			if l.Error == nil || l.Error.Class != statelog.ClassInterrupted || l.Error.Message != tc.msg || l.ExitCode != tc.code || len(l.Attempts) != 0 {
				t.Errorf("verdict %+v, exit %d, %d attempts; want %q, exit %d, none", l.Error, l.ExitCode, len(l.Attempts), tc.msg, tc.code)
			}
		})
	}
}
