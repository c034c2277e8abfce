//go:build unix

package main

// Timing accuracy: a real PostgreSQL 15 behind pgtest's delay proxy, probed
// with a known latency per direction. Each step's recorded duration must
// grow by exactly the round trips it waits on, and a silenced direction must
// time out in the step that was waiting.

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// The injected latency: asymmetric, so that a proxy applying one direction's
// delay to both would be caught. A round trip is 100 ms; 5 % of it is 5 ms.
const (
	timingUp   = 40 * time.Millisecond
	timingDown = 60 * time.Millisecond
	timingRTT  = timingUp + timingDown
	// timingRounds baseline and delayed probes are interleaved, so that a
	// burst of load on the machine hits both alike.
	timingRounds = 15
)

// roundTripsWaited says, for each step of one attempt, how many network
// round trips it waits on, following the machine's own rule (awaitReply):
// the first read after a write waits one round trip; a TLS 1.3 handshake
// is one. connect is 0 here: a proxy in user space cannot delay the TCP
// handshake, which the kernel completes on accept (the attempt's
// round_trips still counts it).
func roundTripsWaited(steps []string) []int {
	out := make([]int, len(steps))
	wrote := false
	for i, s := range steps {
		switch s {
		case "ssl_request", "startup", "auth_response":
			wrote = true
		case "tls_handshake":
			out[i], wrote = 1, false
		case "ssl_response", "auth_request", "auth_ok", "parameter_status", "backend_key_data", "ready_for_query":
			if wrote {
				out[i], wrote = 1, false
			}
		}
	}
	return out
}

type stepTimes struct {
	steps []string
	ms    []float64
	began []time.Time
	rts   int // the attempt's round_trips
	// exchanges are the conversation's round trips as the proxy saw them;
	// down the sizes of the server's flights.
	exchanges []exchange
	down      []int
}

// exchange is one round trip: what the proxy injected into it (the
// request's last chunk's delay plus the answer's first chunk's) and how
// long the server took between receiving the request and answering.
type exchange struct {
	injected, server float64
	request          time.Time // when the proxy read the request
}

func probeTimes(t *testing.T, p *pgtest.Proxy, target string) stepTimes {
	t.Helper()
	// Start every probe on a quiet server: the previous connection's
	// backend exits after the probe, and would slow the next fork.
	time.Sleep(150 * time.Millisecond)
	r := pgprobe(t, nil, "-o", "json", "-t", "10", target)
	mustCode(t, r, 0)
	if n := len(attempts(r)); n != 1 {
		t.Fatalf("%d attempts, want 1\n%s", n, r.stdout)
	}
	var st stepTimes
	evs, _ := get(r.doc, "attempts.0.events").([]any)
	for _, e := range evs {
		st.steps = append(st.steps, fmt.Sprint(get(e, "step")))
		d, _ := get(e, "duration_ms").(float64)
		st.ms = append(st.ms, d)
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(get(e, "at")))
		if err != nil {
			t.Fatal(err)
		}
		st.began = append(st.began, at.Add(-time.Duration(d*float64(time.Millisecond))))
	}
	rt, _ := get(r.doc, "attempts.0.round_trips").(float64)
	st.rts = int(rt)
	fl := p.Flights()
	st.exchanges = exchanges(t, fl[len(fl)-1])
	_, down := splitFlights(fl[len(fl)-1])
	for _, f := range down {
		st.down = append(st.down, f.Bytes)
	}
	return st
}

// splitFlights separates a transcript into its two directions.
func splitFlights(fl []pgtest.Flight) (up, down []pgtest.Flight) {
	for _, f := range fl {
		if f.Up {
			up = append(up, f)
		} else {
			down = append(down, f)
		}
	}
	return up, down
}

// exchanges reads the round trips of a conversation from the proxy's
// transcript: every answer (down flight) follows a request (up flight).
// The flights after the probe's last read may still be on their way when
// it exits (the client's Terminate and close_notify, the server's
// close_notify): the transcript is cut at the first flight the proxy read
// but had not delivered yet, which is no part of the probe's time. Every
// flight the probe waited for was delivered before it went on.
func exchanges(t *testing.T, fl []pgtest.Flight) []exchange {
	t.Helper()
	if i := slices.IndexFunc(fl, func(f pgtest.Flight) bool { return len(f.Chunks) == 0 }); i >= 0 {
		fl = fl[:i]
	}
	up, down := splitFlights(fl)
	out := make([]exchange, len(down))
	for k := range down {
		if len(up[k].Chunks) == 0 || len(down[k].Chunks) == 0 {
			t.Fatalf("round trip %d was not delivered: %+v", k, fl)
		}
		req, ans := up[k].Chunks[len(up[k].Chunks)-1], down[k].Chunks[0]
		out[k] = exchange{injected: ms(req.Delay + ans.Delay), server: max(0, ms(ans.Read.Sub(req.Sent))), request: req.Read}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func TestTimingInjectedLatency(t *testing.T) {
	c := sslServer(t)
	pg := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	// The baseline goes through a proxy too, with no delay, so that the
	// proxy's own forwarding cost is part of the baseline and not of the
	// injected latency.
	base := pgtest.NewProxy(t, pg, pgtest.ProxyOptions{HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})
	slow := pgtest.NewProxy(t, pg, pgtest.ProxyOptions{Up: timingUp, Down: timingDown, HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})

	for _, sc := range []struct {
		name, sslmode string
		must          []string // steps the scenario must contain, in order
	}{
		{"TLS 1.3 + SCRAM", "require", []string{"connect", "ssl_request", "ssl_response", "tls_handshake", "startup", "auth_request", "auth_response", "auth_request", "auth_response", "auth_request", "auth_ok", "ready_for_query", "close"}},
		{"sslmode=disable + SCRAM", "disable", []string{"connect", "startup", "auth_request", "auth_response", "auth_request", "auth_response", "auth_request", "auth_ok", "ready_for_query", "close"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			target := func(p *pgtest.Proxy) string {
				return fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser dbname=postgres sslmode=%s password=%s", p.Port, sc.sslmode, scramPW)
			}
			var baseline, delayed []stepTimes
			probeTimes(t, base, target(base)) // warm-up: first connections are slower on both sides
			for range timingRounds {
				baseline = append(baseline, probeTimes(t, base, target(base)))
				delayed = append(delayed, probeTimes(t, slow, target(slow)))
			}
			steps := baseline[0].steps
			if !inOrder(steps, sc.must) {
				t.Fatalf("steps %v do not contain %v in order", steps, sc.must)
			}
			// Which round trips each step waits on. A TLS 1.3 handshake is
			// one, or two when the server asks for another key share
			// (HelloRetryRequest): after 'S', the server's flight with its
			// certificate (the first of more than 500 bytes) ends it.
			waits := roundTripsWaited(steps)
			for i, s := range steps {
				if s == "tls_handshake" {
					waits[i] = slices.IndexFunc(baseline[0].down[1:], func(b int) bool { return b > 500 }) + 1
					if waits[i] < 1 {
						t.Fatalf("no server certificate in the flights %v", baseline[0].down)
					}
				}
			}
			exchanges := 0
			for _, w := range waits {
				exchanges += w
			}
			// The proxy may see one more exchange after the probe: the
			// server's TLS close_notify answering Terminate.
			validate := func(runs []stepTimes) {
				for _, st := range runs {
					if strings.Join(st.steps, " ") != strings.Join(steps, " ") {
						t.Fatalf("steps differ between runs:\n%v\n%v", steps, st.steps)
					}
					if n := len(st.exchanges); n != exchanges && n != exchanges+1 {
						t.Fatalf("the steps %v wait on %v round trips, but the proxy saw %d (flights down %v)", steps, waits, n, st.down)
					}
					// The record counts the TCP handshake too.
					if st.rts != exchanges+1 {
						t.Errorf("round_trips = %d, the proxy saw %d plus TCP", st.rts, exchanges)
					}
				}
			}
			validate(append(baseline, delayed...))

			// A step's duration is pgprobe's own time, plus the server's
			// (the proxy sees when each request reached the server and when
			// the answer left it), plus what the proxy injected, less the
			// part of its first round trip that went by before the step
			// began (the request was sent by the step before; the proxy
			// runs in this process, so its clock is the record's). Each
			// run's own time cannot be negative: a step that did not wait
			// for its round trips would make it so. The record's accuracy
			// is judged on the fastest run of each side, where the
			// machine's noise (scheduling, a loaded CPU, the race detector)
			// is least.
			own := func(st stepTimes, i, k, n int) float64 {
				d := st.ms[i]
				for _, x := range st.exchanges[k : k+n] {
					d -= x.injected + x.server
				}
				if n > 0 {
					d += max(0, ms(st.began[i].Sub(st.exchanges[k].request)))
				}
				return d
			}
			// evaluate judges the runs so far; it returns the accuracy
			// failures, which more runs may cure (the fastest run of each
			// side gets closer to the machine's floor), and reports the
			// causality failures, which they may not.
			evaluate := func(final bool) []string {
				var failures []string
				worstCausal, worstLow, worstHigh, worstNaive := math.Inf(1), math.Inf(1), math.Inf(1), 0.0
				k := 0
				for i, step := range steps {
					baseMin, baseOwnMin, ownMin := math.Inf(1), math.Inf(1), math.Inf(1)
					for _, b := range baseline {
						baseMin = min(baseMin, b.ms[i])
						baseOwnMin = min(baseOwnMin, own(b, i, k, waits[i]))
					}
					nominal := float64(waits[i]) * ms(timingRTT)
					for r, d := range delayed {
						o := own(d, i, k, waits[i])
						ownMin = min(ownMin, o)
						worstNaive = max(worstNaive, math.Abs(d.ms[i]-baseMin-nominal))
						if waits[i] > 0 {
							worstCausal = min(worstCausal, o+1)
							if o < -1 {
								t.Errorf("step %d (%s), run %d: %.3f ms, but the proxy and the server alone took %.3f ms of its %d round trip(s)",
									i, step, r, d.ms[i], d.ms[i]-o, waits[i])
							}
						}
					}
					// Within 1 ms + 5 % of the latency injected, either way:
					// a step that did not wait for its round trips is caught
					// above, run by run; here the noise of pgprobe's own CPU
					// work (SCRAM's PBKDF2 is milliseconds under -race) can
					// make the delayed side's fastest run the faster one.
					got := ownMin - baseOwnMin
					lo, hi := -(1 + 0.05*nominal), 1+0.05*nominal
					worstLow, worstHigh = min(worstLow, got-lo), min(worstHigh, hi-got)
					if got < lo || got > hi {
						failures = append(failures, fmt.Sprintf("step %d (%s): pgprobe's own time %.3f ms with %.0f ms injected (%d round trips), %.3f ms without: off by %.3f ms, want %.3f…%.3f ms",
							i, step, ownMin, nominal, waits[i], baseOwnMin, got, lo, hi))
					}
					k += waits[i]
				}
				if final || len(failures) == 0 {
					t.Logf("%d rounds; worst margins (ms): causality %.3f, lower bound %.3f, upper bound %.3f; worst single run minus fastest baseline vs nominal injection %.3f",
						len(delayed), worstCausal, worstLow, worstHigh, worstNaive)
				}
				return failures
			}
			// A burst of load can keep every run of one side off the
			// floor: up to two more batches of rounds are taken before the
			// accuracy is judged to fail.
			for batch := 1; ; batch++ {
				failures := evaluate(batch == 3)
				if len(failures) == 0 {
					break
				}
				if batch == 3 {
					for _, f := range failures {
						t.Error(f)
					}
					break
				}
				t.Logf("batch %d: %d step(s) off; taking %d more rounds", batch, len(failures), timingRounds)
				n := len(baseline)
				for range timingRounds {
					baseline = append(baseline, probeTimes(t, base, target(base)))
					delayed = append(delayed, probeTimes(t, slow, target(slow)))
				}
				validate(append(baseline[n:], delayed[n:]...))
			}
		})
	}
}

// TestTimingHoldEachStep silences one direction at each point of the
// conversation and checks that the 1 s deadline names the step that was
// waiting, in the record and in the advice.
func TestTimingHoldEachStep(t *testing.T) {
	c := sslServer(t)
	pg := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	target := func(p *pgtest.Proxy, sslmode string) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=scramuser dbname=postgres sslmode=%s password=%s", p.Port, sslmode, scramPW)
	}
	// A reference conversation of each kind gives the flights' sizes; the
	// holds below cut it at flight boundaries. Up flight k is answered by
	// down flight k. From the first flight after the handshake on, the
	// client sends the startup message, SASLInitialResponse, SASLResponse;
	// the server AuthenticationSASL, SASLContinue, SASLFinal (with
	// AuthenticationOk, ParameterStatus … ReadyForQuery).
	type conversation struct {
		up, down []int
		auth     int // index of the flights of the startup message and AuthenticationSASL
	}
	convs := map[string]conversation{}
	for _, mode := range []string{"require", "disable"} {
		ref := pgtest.NewProxy(t, pg, pgtest.ProxyOptions{HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold})
		mustCode(t, pgprobe(t, nil, "-o", "json", target(ref, mode)), 0)
		ref.Close()
		var cv conversation
		up, down := splitFlights(ref.Flights()[0])
		for _, f := range up {
			cv.up = append(cv.up, f.Bytes)
		}
		for _, f := range down {
			cv.down = append(cv.down, f.Bytes)
		}
		if mode == "require" {
			// After 'S' (and a HelloRetryRequest, when the server wants
			// another key share) the server's flight with its certificate
			// ends the handshake: the first one of more than 500 bytes.
			cv.auth = -1
			for i, b := range cv.down {
				if i > 0 && b > 500 {
					cv.auth = i + 1
					break
				}
			}
		}
		if cv.auth < 0 || len(cv.down) < cv.auth+3 || len(cv.up) < cv.auth+3 {
			t.Fatalf("sslmode=%s: unexpected conversation: up %v, down %v", mode, cv.up, cv.down)
		}
		convs[mode] = cv
		t.Logf("sslmode=%s: flights up %v, down %v", mode, cv.up, cv.down)
	}
	// after returns the bytes of the first n flights of one direction,
	// counted from the startup message's (n < 0: from the start). Under
	// TLS it cuts halfway into the next flight after the handshake: a
	// record is only decrypted whole, so this is silence too, and it
	// leaves room for the handshake's size to vary (an ECDSA signature's
	// length does).
	after := func(mode string, up bool, n int) int {
		cv := convs[mode]
		fl := cv.down
		if up {
			fl = cv.up
		}
		half := 0
		if n >= 0 {
			n += cv.auth
			if mode == "require" {
				half = fl[n] / 2
			}
		} else {
			n = -n - 1
		}
		sum := 0
		for _, b := range fl[:n] {
			sum += b
		}
		return sum + half
	}
	const handshakeFlight = -2 // the first flight: SSLRequest or 'S'
	// A SASLFinal carries a 44-character signature: 'R', length, code 12 and
	// "v=" make it 55 bytes; AuthenticationOk is 9.
	const saslFinalAndOK = 55 + 9

	const (
		sslAnswer = "no answer to SSLRequest"
		handshake = "TLS handshake did not complete"
		startup   = "no answer to the startup message"
		authResp  = "no answer to the authentication response"
		rfq       = "no ReadyForQuery after AuthenticationOk"
	)
	type hold struct {
		name, sslmode string
		up            bool
		bytes         int
		step, waiting string // the step that times out and the record's words for it
		advice        string
	}
	holds := []hold{
		{"SSLRequest never arrives", "require", true, 0, "ssl_response", sslAnswer, "no answer to SSLRequest"},
		{"the S answer never arrives", "require", false, 0, "ssl_response", sslAnswer, "no answer to SSLRequest"},
		{"ClientHello never arrives", "require", true, after("require", true, handshakeFlight), "tls_handshake", handshake, "the TLS handshake did not complete"},
		{"no ServerHello", "require", false, after("require", false, handshakeFlight), "tls_handshake", handshake, "the TLS handshake did not complete"},
	}
	for _, mode := range []string{"require", "disable"} {
		p := "TLS: "
		if mode == "disable" {
			p = "plaintext: "
		}
		holds = append(holds,
			hold{p + "startup message never arrives", mode, true, after(mode, true, 0), "auth_request", startup, "no answer to the startup message"},
			hold{p + "no AuthenticationSASL", mode, false, after(mode, false, 0), "auth_request", startup, "no answer to the startup message"},
			hold{p + "SASLInitialResponse never arrives", mode, true, after(mode, true, 1), "auth_request", authResp, "The deadline passed while waiting (no answer to the authentication response)"},
			hold{p + "no AuthenticationSASLContinue", mode, false, after(mode, false, 1), "auth_request", authResp, "The deadline passed while waiting (no answer to the authentication response)"},
			hold{p + "SASLResponse never arrives", mode, true, after(mode, true, 2), "auth_request", authResp, "The deadline passed while waiting (no answer to the authentication response)"},
			hold{p + "no AuthenticationSASLFinal", mode, false, after(mode, false, 2), "auth_request", authResp, "The deadline passed while waiting (no answer to the authentication response)"},
		)
	}
	// Plaintext only: the bytes of a message inside a flight are known.
	holds = append(holds, hold{"plaintext: no ReadyForQuery", "disable", false, after("disable", false, 2) + saslFinalAndOK, "ready_for_query", rfq, "no ReadyForQuery after authentication"})
	for _, h := range holds {
		// Not parallel: the in-process command is not safe for concurrent use.
		t.Run(h.name, func(t *testing.T) {
			opts := pgtest.ProxyOptions{HoldUp: pgtest.NoHold, HoldDown: pgtest.NoHold}
			if h.up {
				opts.HoldUp = h.bytes
			} else {
				opts.HoldDown = h.bytes
			}
			p := pgtest.NewProxy(t, pg, opts)
			r := pgprobe(t, nil, "-o", "json", "-t", "1", target(p, h.sslmode))
			mustCode(t, r, 2)
			mustEqual(t, r, "error.class", "timeout")
			mustEqual(t, r, "error.step", h.step)
			evs, _ := get(r.doc, "attempts.0.events").([]any)
			if len(evs) == 0 {
				t.Fatalf("no events\n%s", r.stdout)
			}
			last := evs[len(evs)-1]
			detail := fmt.Sprint(get(last, "detail"))
			if s := fmt.Sprint(get(last, "step")); s != h.step || !strings.HasPrefix(detail, h.waiting) || !strings.Contains(detail, " after ") {
				t.Errorf("last event: step %s, %q; want step %s, %q after …", s, detail, h.step, h.waiting)
			}
			if advice := fmt.Sprint(get(r.doc, "error.advice")); !strings.Contains(advice, h.advice) {
				t.Errorf("advice %q does not say %q", advice, h.advice)
			}
		})
	}
}
