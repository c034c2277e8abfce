//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/statelog"
)

// TestStreamedAdviceMatchesDocument: every event's error carries the same
// advice whether it is streamed (-o ndjson) or written in the final
// document (-o json), and the verdict line's error the document's.
func TestStreamedAdviceMatchesDocument(t *testing.T) {
	c := sslServer(t)
	refused := fmt.Sprintf("host=127.0.0.1 port=%d", pgtest.FreePort(t))
	for _, tc := range []struct {
		name, target string
		extra        []string
		// final, when set, is in the final error's advice and in no
		// event's: the advice for the probe as a whole.
		final string
	}{
		{name: "refused", target: refused},
		{name: "refused, sslmode=disable, --count 2", target: refused + " sslmode=disable", extra: []string{"--count", "2"}},
		{name: "wrong password", target: conn(c, "user=scramuser", "dbname=postgres", "sslmode=require", "password=wrong")},
		{name: "unknown database", target: conn(c, "user=scramuser", "dbname=nosuchdb", "sslmode=disable", "password="+scramPW)},
		{name: "no pg_hba.conf line", target: conn(c, "user=nohba", "dbname=postgres", "sslmode=require")},
		// The SSL attempt fails on the password, the retry without SSL on
		// the hostssl-only line: the final advice points back at the first.
		{name: "prefer's retry", target: conn(c, "user=sslonly", "dbname=postgres", "sslmode=prefer", "password=wrong"), final: "retry without SSL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-o", "json"}, tc.extra...)
			doc := pgprobe(t, nil, append(args, tc.target)...)
			if doc.doc == nil {
				t.Fatalf("-o json: exit %d, no document:\n%s%s", doc.code, doc.stdout, doc.stderr)
			}
			args = append([]string{"-o", "ndjson"}, tc.extra...)
			stream := pgprobe(t, nil, append(args, tc.target)...)
			if doc.code == 0 || stream.code != doc.code {
				t.Fatalf("exit codes: json %d, ndjson %d; want the same failure", doc.code, stream.code)
			}
			want := documentAdvice(t, doc.doc)
			got, verdict := streamedAdvice(t, stream.stdout)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("events' advice differs:\n-o json:\n%s\n-o ndjson:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
			if len(want) == 0 {
				t.Errorf("no event has an error")
			}
			final, _ := get(doc.doc, "error.advice").(string)
			if final == "" || verdict != final {
				t.Errorf("final advice: json %q, ndjson verdict %q", final, verdict)
			}
			if tc.final != "" {
				if !strings.Contains(final, tc.final) {
					t.Errorf("final advice lacks %q: %s", tc.final, final)
				}
				for _, a := range want {
					if strings.Contains(a, tc.final) {
						t.Errorf("an event's advice has the final advice's %q: %s", tc.final, a)
					}
				}
			}
		})
	}
}

// documentAdvice lists "attempt/seq step: advice" for every event error of
// an -o json document.
func documentAdvice(t *testing.T, doc map[string]any) []string {
	t.Helper()
	var out []string
	as, _ := get(doc, "attempts").([]any)
	for i := range as {
		evs, _ := get(doc, fmt.Sprintf("attempts.%d.events", i)).([]any)
		for j := range evs {
			p := fmt.Sprintf("attempts.%d.events.%d.", i, j)
			if get(doc, p+"error") == nil {
				continue
			}
			advice, _ := get(doc, p+"error.advice").(string)
			if advice == "" {
				t.Errorf("-o json: %serror has no advice", p)
			}
			out = append(out, fmt.Sprintf("%d/%v %v: %s", i, get(doc, p+"seq"), get(doc, p+"step"), advice))
		}
	}
	return out
}

// streamedAdvice lists the same for -o ndjson's event lines, and returns
// the verdict line's advice.
func streamedAdvice(t *testing.T, stdout string) (out []string, verdict string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v struct {
			Type    string          `json:"type"`
			Attempt int             `json:"attempt"`
			Seq     int             `json:"seq"`
			Step    string          `json:"step"`
			Error   *statelog.Error `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("-o ndjson: %v: %s", err, line)
		}
		switch {
		case v.Type == "verdict" && v.Error != nil:
			verdict = v.Error.Advice
		case v.Type == "event" && v.Error != nil:
			if v.Error.Advice == "" {
				t.Errorf("-o ndjson: event %d (%s) has an error without advice", v.Seq, v.Step)
			}
			out = append(out, fmt.Sprintf("%d/%d %s: %s", v.Attempt, v.Seq, v.Step, v.Error.Advice))
		}
	}
	return out, verdict
}
