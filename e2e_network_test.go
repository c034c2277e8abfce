//go:build linux

package main

// Name-resolution and routing layouts this machine doesn't have, built in
// a sandbox (internal/pgtest.Sandbox: a private /etc/hosts, and a network
// namespace of its own where routes must be missing): localhost on both
// ::1 and 127.0.0.1 with different answers, an IPv6-only name on an
// IPv4-only network, no route at all. psql and pg_isready run in the same
// sandbox as the built pgprobe, as the oracle.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// runSandboxed runs the built pgprobe inside sb with args; with -o json its
// stdout is parsed into doc.
func runSandboxed(t *testing.T, sb *pgtest.Sandbox, bin string, args ...string) result {
	t.Helper()
	cmd := sb.Command(bin, args...)
	cmd.Env = pgtest.PsqlEnv(t)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s in the sandbox: %v", bin, err)
	}
	if slices.Contains(args, "json") {
		if err := json.Unmarshal([]byte(r.stdout), &r.doc); err != nil {
			t.Fatalf("pgprobe %q: stdout is not JSON (%v):\n%s\nstderr:\n%s", args, err, r.stdout, r.stderr)
		}
	}
	return r
}

// hostaddrs lists the address of every attempt, in order.
func hostaddrs(r result) []string {
	var out []string
	for i := range attempts(r) {
		out = append(out, fmt.Sprint(get(r.doc, fmt.Sprintf("attempts.%d.hostaddr", i))))
	}
	return out
}

// pingParity runs pg_isready and pgprobe --ping on target inside sb and
// checks both exit with want.
func pingParity(t *testing.T, sb *pgtest.Sandbox, bin, target string, want int) {
	t.Helper()
	out, code := sb.RunClient(t, "pg_isready", []string{"-d", target})
	if code != want {
		t.Errorf("pg_isready exit %d, want %d: %s", code, want, out)
	}
	if r := runSandboxed(t, sb, bin, "--ping", "-o", "json", target); r.code != code {
		t.Errorf("pgprobe --ping exit %d, pg_isready %d\n%s", r.code, code, r.stdout)
	}
}

var reLibpqAddr = regexp.MustCompile(`connection to server at "([^"]*)"(?: \(([^)]*)\))?, port \d+ failed`)

// libpqAddresses lists the addresses libpq's error message says it failed
// on, in order: the IP in parentheses after a name, else the host shown.
func libpqAddresses(msg string) []string {
	var out []string
	for _, m := range reLibpqAddr.FindAllStringSubmatch(msg, -1) {
		if m[2] != "" {
			out = append(out, m[2])
		} else {
			out = append(out, m[1])
		}
	}
	return out
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s should contain %q:\n%s", what, sub, s)
		}
	}
}

func TestLocalhostOnBothFamilies(t *testing.T) {
	bin := buildBinary(t)
	sb := pgtest.NewSandbox(t, pgtest.SandboxOptions{Hosts: "127.0.0.1 localhost\n::1 localhost\n"})

	t.Run("::1 refused, 127.0.0.1 accepts", func(t *testing.T) {
		c := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles}) // listens on 127.0.0.1 only
		target := fmt.Sprintf("host=localhost port=%d user=trustuser dbname=postgres sslmode=disable", c.Port)
		out, code := sb.RunClient(t, "psql", []string{"-X", "-w", "-A", "-t", "-d", target, "-c", "select inet_server_addr()"})
		if code != 0 || strings.TrimSpace(out) != "127.0.0.1" {
			t.Fatalf("psql: exit %d, want 0 and 127.0.0.1: %s", code, out)
		}
		r := runSandboxed(t, sb, bin, "-o", "json", target)
		mustCode(t, r, 0)
		// getaddrinfo puts ::1 first, as libpq tries it.
		if got := hostaddrs(r); !slices.Equal(got, []string{"::1", "127.0.0.1"}) {
			t.Errorf("attempts went to %v, want [::1 127.0.0.1]", got)
		}
		mustEqual(t, r, "attempts.0.error.errno", "ECONNREFUSED")
		mustEqual(t, r, "attempts.1.ok", true)
		if got := fmt.Sprint(get(r.doc, "attempts.1.addresses")); got != "[::1 127.0.0.1]" {
			t.Errorf("attempts.1.addresses = %s", got)
		}
		wantContains(t, "warnings", fmt.Sprint(get(r.doc, "warnings")),
			"::1 failed (Connection refused) before 127.0.0.1 answered", "listen_addresses = 'localhost'", "host=127.0.0.1")
		pingParity(t, sb, bin, target, 0)
	})

	t.Run("::1 rejected by pg_hba.conf, 127.0.0.1 accepted", func(t *testing.T) {
		// trustuser has a line for 127.0.0.1/32 only.
		c := pgtest.Start(t, pgtest.Options{HBA: hba, Roles: roles, ListenAddresses: "127.0.0.1,::1"})
		target := fmt.Sprintf("host=localhost port=%d user=trustuser dbname=postgres sslmode=disable", c.Port)
		out, code := sb.RunClient(t, "psql", []string{"-X", "-w", "-d", target, "-c", ""})
		if code != 2 || !strings.Contains(out, `(::1), port`) || !strings.Contains(out, `no pg_hba.conf entry for host "::1"`) {
			t.Fatalf("psql by name: exit %d, want 2 and the pg_hba.conf error for ::1: %s", code, out)
		}
		if out, code := pgtest.RunPsql(t, strings.Replace(target, "host=localhost", "host=127.0.0.1", 1), ""); code != 0 {
			t.Fatalf("psql by 127.0.0.1: exit %d, want 0: %s", code, out)
		}
		r := runSandboxed(t, sb, bin, "-o", "json", target)
		mustCode(t, r, 1)
		mustEqual(t, r, "error.sqlstate", "28000")
		if got := hostaddrs(r); !slices.Equal(got, []string{"::1"}) {
			t.Errorf("attempts went to %v, want [::1] (libpq stops at the first server that answers)", got)
		}
		wantContains(t, "advice", fmt.Sprint(get(r.doc, "error.advice")),
			"::1/128", "also resolves to 127.0.0.1, which libpq did not try", "host=127.0.0.1")
		pingParity(t, sb, bin, target, 0)
	})
}

func TestNoRouteAndIPv6OnlyNames(t *testing.T) {
	bin := buildBinary(t)
	// An IPv4 network (10.77.0.0/24 on lo) and no IPv6 but ::1.
	sb := pgtest.NewSandbox(t, pgtest.SandboxOptions{
		Hosts:         "2001:db8::5 v6.test\n2001:db8::6 v6.test\n",
		NoNetwork:     true,
		LoopbackAddrs: []string{"10.77.0.1/24"},
	})
	cases := []struct {
		name, target string
		addrs        []string // the attempts' addresses, as psql lists them
		advice       []string
		notAdvice    string
	}{
		{"IPv6-only name on an IPv4-only network", "host=v6.test port=5432 user=x dbname=postgres",
			[]string{"2001:db8::5", "2001:db8::6"},
			[]string{"v6.test resolves only to IPv6 addresses (2001:db8::5, 2001:db8::6)", "IPv4-only", "hostaddr=", "getent ahosts v6.test"}, ""},
		{"no route to an IPv4 address", "host=10.200.0.1 port=5432 user=x dbname=postgres",
			[]string{"10.200.0.1"}, []string{"no route to 10.200.0.1", "pg_isready -h 10.200.0.1"}, "resolves only to IPv6"},
		{"no route to an IPv6 hostaddr", "host=db.example hostaddr=2001:db8::9 port=5432 user=x dbname=postgres",
			[]string{"2001:db8::9"}, []string{"no route to db.example (2001:db8::9)"}, "resolves only to IPv6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := sb.RunClient(t, "psql", []string{"-X", "-w", "-d", tc.target, "-c", ""})
			psqlAddrs := libpqAddresses(out)
			if code != 2 || !slices.Equal(psqlAddrs, tc.addrs) || strings.Count(out, "Network is unreachable") != len(tc.addrs) {
				t.Fatalf("psql: exit %d, addresses %v, want 2 and %v unreachable: %s", code, psqlAddrs, tc.addrs, out)
			}
			r := runSandboxed(t, sb, bin, "-o", "json", tc.target)
			mustCode(t, r, 2)
			mustEqual(t, r, "error.class", "connect")
			mustEqual(t, r, "error.errno", "ENETUNREACH")
			if got := hostaddrs(r); !slices.Equal(got, tc.addrs) {
				t.Errorf("attempts went to %v, psql to %v", got, tc.addrs)
			}
			advice := fmt.Sprint(get(r.doc, "error.advice"))
			wantContains(t, "advice", advice, tc.advice...)
			if tc.notAdvice != "" && strings.Contains(advice, tc.notAdvice) {
				t.Errorf("advice should not say %q:\n%s", tc.notAdvice, advice)
			}
			pingParity(t, sb, bin, tc.target, 2)
		})
	}
}

// TestAddressOrderMatchesLibpq: a name with several addresses is tried in
// the order libpq tries it, which is glibc getaddrinfo's (RFC 3484 sorting,
// /etc/gai.conf): psql lists every address it failed on, in order. Go's own
// resolver sorts differently (it never applies the longest-prefix rule to
// IPv4), which is why go.mod sets godebug netdns=cgo.
func TestAddressOrderMatchesLibpq(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "netdns=cgo") {
		t.Errorf("the binary should default to the cgo resolver (go.mod: godebug netdns=cgo): %v\n%s", err, out)
	}
	port := pgtest.FreePort(t)
	layouts := []struct {
		name  string
		opts  pgtest.SandboxOptions
		names []string
	}{
		{"this machine's network", pgtest.SandboxOptions{
			Hosts: "127.0.0.3 multi.test\n::1 multi.test\n127.0.0.2 multi.test\n127.0.0.1 localhost\n::1 localhost\n",
		}, []string{"multi.test", "localhost"}},
		{"IPv4-only network", pgtest.SandboxOptions{
			Hosts: "10.200.0.1 mix.test\n127.0.0.5 mix.test\n10.77.0.9 mix.test\n" +
				"2001:db8::5 dual.test\n127.0.0.2 dual.test\n" +
				"fd00:77::9 six.test\n2001:db8::9 six.test\n",
			NoNetwork: true, LoopbackAddrs: []string{"10.77.0.1/24", "fd00:77::1/64"},
		}, []string{"mix.test", "dual.test", "six.test"}},
	}
	for _, l := range layouts {
		sb := pgtest.NewSandbox(t, l.opts)
		for _, name := range l.names {
			t.Run(l.name+"/"+name, func(t *testing.T) {
				target := fmt.Sprintf("host=%s port=%d user=x dbname=postgres connect_timeout=2", name, port)
				out, code := sb.RunClient(t, "psql", []string{"-X", "-w", "-d", target, "-c", ""})
				want := libpqAddresses(out)
				if code != 2 || len(want) < 2 {
					t.Fatalf("psql should fail on every address of %s: exit %d\n%s", name, code, out)
				}
				r := runSandboxed(t, sb, bin, "-o", "json", target)
				mustCode(t, r, 2)
				if got := slices.Compact(hostaddrs(r)); !slices.Equal(got, want) {
					t.Errorf("pgprobe tried %v, libpq (psql) %v", got, want)
				}
			})
		}
	}
}
