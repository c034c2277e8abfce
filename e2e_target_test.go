//go:build unix

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestTargetSessionAttrsPrimaryStandby runs every target_session_attrs
// value against a real primary and its streaming standby, in both host
// orders, and checks that pgprobe picks the server psql picks, or fails
// where psql fails.
func TestTargetSessionAttrsPrimaryStandby(t *testing.T) {
	primary := plainServer(t)
	standby := pgtest.StartStandby(t, primary)
	roleOf := map[int]string{primary.Port: "primary", standby.Port: "standby"}
	// Both orders, and lists where only one kind is present, so that some
	// combinations fit no host.
	orders := [][2]int{{primary.Port, standby.Port}, {standby.Port, primary.Port}, {primary.Port, primary.Port}, {standby.Port, standby.Port}}
	failed := 0
	for _, attrs := range []string{"any", "read-write", "read-only", "primary", "standby", "prefer-standby"} {
		for _, order := range orders {
			name := fmt.Sprintf("%s/%s,%s", attrs, roleOf[order[0]], roleOf[order[1]])
			t.Run(name, func(t *testing.T) {
				conn := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=trustuser dbname=postgres sslmode=disable target_session_attrs=%s",
					order[0], order[1], attrs)
				out, psqlCode := pgtest.RunPsql(t, conn, "select inet_server_port()")
				r := pgprobe(t, nil, "-o", "json", conn)
				if psqlCode != 0 {
					if psqlCode != 2 {
						t.Fatalf("psql exit %d: %s", psqlCode, out)
					}
					if r.code != 1 || get(r.doc, "error.class") != "target" {
						t.Fatalf("psql failed (%s) but pgprobe exit %d, error %v", strings.TrimSpace(out), r.code, get(r.doc, "error"))
					}
					if d, _ := get(r.doc, "error.detail").(string); !strings.Contains(d, "target_session_attrs="+attrs) {
						t.Fatalf("final error does not say what was wanted: %v", get(r.doc, "error"))
					}
					failed++
					return
				}
				want, err := strconv.Atoi(strings.TrimSpace(out))
				if err != nil {
					t.Fatalf("psql: %q", out)
				}
				if r.code != 0 {
					t.Fatalf("psql connected to %s (port %d), pgprobe exit %d: %v", roleOf[want], want, r.code, get(r.doc, "error"))
				}
				atts, _ := get(r.doc, "attempts").([]any)
				last := atts[len(atts)-1]
				if got := int(get(last, "port").(float64)); got != want {
					t.Fatalf("psql picked port %d (%s), pgprobe port %d", want, roleOf[want], got)
				}
				for _, a := range atts {
					port := int(get(a, "port").(float64))
					if role, _ := get(a, "role").(string); role != roleOf[port] {
						t.Fatalf("attempt on port %d: role %q, want %q", port, role, roleOf[port])
					}
				}
			})
		}
	}
	if failed != 4 {
		t.Errorf("%d combinations failed, want 4 (read-write, primary on two standbys; read-only, standby on two primaries)", failed)
	}
	// The timeline names each attempt's role.
	r := pgprobe(t, nil, fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=trustuser dbname=postgres sslmode=disable target_session_attrs=standby", primary.Port, standby.Port))
	if r.code != 0 || !strings.Contains(r.stdout, "primary") || !strings.Contains(r.stdout, "server is not in hot standby mode") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
