package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

func mustNew(t *testing.T, format string, w io.Writer, o report.Options) report.Writer {
	t.Helper()
	out, err := report.New(format, w, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stampWriter records when the first byte reaches it.
type stampWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first time.Time
	fail  error
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	if w.first.IsZero() {
		w.first = time.Now()
	}
	return w.buf.Write(p)
}

// TestFleetStream: Targets writes a fleet's JSON as the targets
// finish, in the targets' order, and the document is still one
// {schema, ok, exit_code, results} that encoding/json (and jq) reads.
func TestFleetStream(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) (string, bool) {
		if k == "HOME" {
			return home, true
		}
		return "", false
	}
	req := func(target string, timeout time.Duration) probe.Request {
		in := conninfo.Input{Target: target, Flags: map[string]string{}, FlagOrigin: map[string]string{}, Getenv: getenv, HomeDir: home}
		return probe.Request{Input: in, Timeout: timeout, Display: target}
	}
	// The silent peer first: FreePort's port is free again at once, and
	// must not become the silent peer's.
	silent := fmt.Sprintf("host=127.0.0.1 port=%d user=x", pgtest.SilentPeer(t))
	refused := fmt.Sprintf("host=127.0.0.1 port=%d user=x", pgtest.FreePort(t))
	// Fast targets first, then one that times out after 600ms, then more
	// fast ones (which must wait for it: the order is the targets').
	var reqs []probe.Request
	var want []string
	for i := range 12 {
		tg, d := refused+fmt.Sprintf(" application_name=a%d", i), 5*time.Second
		if i == 5 {
			tg, d = silent, 600*time.Millisecond
		}
		reqs = append(reqs, req(tg, d))
		want = append(want, tg)
	}
	w := &stampWriter{}
	began := time.Now()
	code, err := Targets(context.Background(), reqs, Options{Concurrency: 4}, mustNew(t, "json", w, report.Options{Fleet: true}))
	took := time.Since(began)
	if err != nil || code != statelog.ExitNoAnswer {
		t.Fatalf("exit %d, err %v", code, err)
	}
	if took < 550*time.Millisecond || w.first.Sub(began) > took/2 {
		t.Errorf("first bytes after %v of %v: not streamed", w.first.Sub(began), took)
	}
	var doc struct {
		Schema   string `json:"schema"`
		OK       *bool  `json:"ok"`
		ExitCode *int   `json:"exit_code"`
		Results  []struct {
			Target string `json:"target"`
			Error  struct {
				Class string `json:"class"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(w.buf.Bytes(), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, w.buf.String())
	}
	if doc.Schema != statelog.Schema || doc.OK == nil || *doc.OK || doc.ExitCode == nil || *doc.ExitCode != 2 || len(doc.Results) != len(want) {
		t.Fatalf("document: schema %q ok %v exit_code %v, %d results", doc.Schema, doc.OK, doc.ExitCode, len(doc.Results))
	}
	for i, r := range doc.Results {
		class := "connect"
		if i == 5 {
			class = "timeout"
		}
		if r.Target != want[i] || r.Error.Class != class {
			t.Errorf("results[%d] = %s (%s), want %s (%s)", i, r.Target, r.Error.Class, want[i], class)
		}
	}
	// Indented as one target's document, one level deeper.
	if !strings.HasPrefix(w.buf.String(), "{\n  \"schema\": \"pgprobe/v1\",\n  \"results\": [\n    {\n      \"schema\": \"pgprobe/v1\",\n") ||
		!strings.HasSuffix(w.buf.String(), "\n    }\n  ],\n  \"ok\": false,\n  \"exit_code\": 2\n}\n") {
		t.Errorf("layout:\n%s", w.buf.String())
	}

	// The other outputs keep the targets' order (the table: failures first,
	// then that order), and a failing writer is an error, not a hang.
	for _, output := range []string{"table", "ndjson", "timeline", ""} {
		w := &stampWriter{}
		rw := report.NewQuiet(io.Discard, report.Options{Fleet: true})
		if output != "" {
			rw = mustNew(t, output, w, report.Options{Fleet: true})
		}
		code, err := Targets(context.Background(), reqs[:4], Options{Concurrency: 3}, rw)
		if err != nil || code != statelog.ExitNoAnswer {
			t.Fatalf("%s: exit %d, err %v", output, code, err)
		}
		out := w.buf.String()
		last := -1
		for _, tg := range want[:4] {
			i := strings.LastIndex(out, tg)
			if output != "" && i < last {
				t.Errorf("%s: %s out of order:\n%s", output, tg, out)
			}
			last = i
		}
		if output == "" && out != "" {
			t.Errorf("quiet wrote %q", out)
		}
	}
	w = &stampWriter{fail: errors.New("broken pipe")}
	if code, err := Targets(context.Background(), reqs[:3], Options{Concurrency: 2}, mustNew(t, "json", w, report.Options{Fleet: true})); err == nil || code != statelog.ExitNoAnswer {
		t.Errorf("failing writer: exit %d, err %v", code, err)
	}
}

type countingSink struct {
	mu    sync.Mutex
	n     int
	inner statelog.Sink
}

func (s *countingSink) Event(l *statelog.Log, a *statelog.Attempt, e statelog.Event) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	s.inner.Event(l, a, e)
}

// With NDJSON and --count, only the last run's events are written, after
// it; EventSink sees every run's.
func TestTargetsStreamsLastRun(t *testing.T) {
	home := t.TempDir()
	target := fmt.Sprintf("host=127.0.0.1 port=%d user=x", pgtest.FreePort(t))
	req := probe.Request{Input: conninfo.Input{Target: target, Flags: map[string]string{}, FlagOrigin: map[string]string{}, HomeDir: home,
		Getenv: func(string) (string, bool) { return "", false }}, Timeout: 5 * time.Second}
	var b bytes.Buffer
	hook := &countingSink{}
	o := Options{Count: 3, EventSink: func(s statelog.Sink) statelog.Sink { hook.inner = s; return hook }}
	code, err := Targets(context.Background(), []probe.Request{req}, o, mustNew(t, "ndjson", &b, report.Options{}))
	if err != nil || code != statelog.ExitNoAnswer {
		t.Fatalf("exit %d, err %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	events := len(lines) - 1
	if events < 1 || hook.n != 3*events || !strings.Contains(lines[len(lines)-1], `"type":"verdict"`) || !strings.Contains(lines[len(lines)-1], `"runs":3`) {
		t.Errorf("%d events written, %d seen by the hook:\n%s", events, hook.n, b.String())
	}
}
