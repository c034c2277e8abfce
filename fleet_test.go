//go:build unix

package main

import (
	"strings"
	"testing"
)

// A targets file's problems are usage errors (exit 3), and the arguments'
// targets come first.
func TestTargetsFile(t *testing.T) {
	r := pgprobe(t, map[string]string{"STDIN": "sslmode=bogus\n"}, "-o", "json", "--targets-file", "-", "host=127.0.0.1 port=1")
	mustCode(t, r, 3)
	mustEqual(t, r, "results.0.target", "host=127.0.0.1 port=1")
	mustEqual(t, r, "results.1.target", "sslmode=bogus")
	if r := pgprobe(t, nil, "--targets-file", "/nonexistent/targets"); r.code != 3 || !strings.Contains(r.stderr, "targets-file") {
		t.Errorf("missing file: exit %d, %q", r.code, r.stderr)
	}
}
