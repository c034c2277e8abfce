//go:build unix

package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

func TestSettingsExplanations(t *testing.T) {
	conn := "host=127.0.0.1,localhost port=5433,5434 sslmode=prefer target_session_attrs=read-write load_balance_hosts=random"
	r := pgprobe(t, nil, "settings", "-o", "json", conn)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	list, _ := get(r.doc, "explanations").([]any)
	var all []string
	for _, x := range list {
		all = append(all, x.(string))
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		"host 127.0.0.1 is a numeric address",
		"sslmode=prefer: TLS first",
		"target_session_attrs=read-write: hosts that are read-only",
		"load_balance_hosts=random: hosts are tried in random order",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("json explanations lack %q:\n%s", want, text)
		}
	}
	if get(r.doc, "settings.sslmode.value") != "prefer" {
		t.Errorf("settings changed: %v", get(r.doc, "settings.sslmode"))
	}
	tbl := pgprobe(t, nil, "settings", conn)
	if tbl.code != 0 || !strings.Contains(tbl.stdout, "KEYWORD") || !strings.Contains(tbl.stdout, "What libpq will do:\n  - ") ||
		!strings.Contains(tbl.stdout, "sslmode=prefer: TLS first") {
		t.Fatalf("exit %d\n%s", tbl.code, tbl.stdout)
	}
	// Invalid settings: exit 3, no explanations.
	bad := pgprobe(t, nil, "settings", "-o", "json", "sslmode=bogus")
	if bad.code != 3 || get(bad.doc, "explanations") != nil {
		t.Fatalf("exit %d\n%s", bad.code, bad.stdout)
	}
}

func TestSeedFlag(t *testing.T) {
	p1, p2, p3 := pgtest.FreePort(t), pgtest.FreePort(t), pgtest.FreePort(t)
	conn := "host=127.0.0.1,127.0.0.1,127.0.0.1 sslmode=disable load_balance_hosts=random port=" +
		itoa(p1) + "," + itoa(p2) + "," + itoa(p3)
	order := func(seed string) string {
		r := pgprobe(t, nil, "-o", "json", "--seed", seed, conn)
		if r.code != 2 {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
		var ports []string
		atts, _ := get(r.doc, "attempts").([]any)
		for _, a := range atts {
			ports = append(ports, itoa(int(get(a, "port").(float64))))
		}
		if reason, _ := get(atts[0], "reason").(string); !strings.Contains(reason, "load_balance_hosts=random (seed "+seed+")") {
			t.Fatalf("reason %q", reason)
		}
		return strings.Join(ports, ",")
	}
	a := order("42")
	if b := order("42"); a != b {
		t.Fatalf("--seed 42 gave %s then %s", a, b)
	}
	seen := map[string]bool{}
	for s := 1; s <= 100 && len(seen) < 6; s++ {
		seen[order(itoa(s))] = true
	}
	if len(seen) != 6 {
		t.Fatalf("orders: %v", seen)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
