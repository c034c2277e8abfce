//go:build unix

package probe

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// busyServer answers every StartupMessage with FATAL 57P03, so libpq (and
// pgprobe) move on to the next host: one run shows the whole host order.
func busyServer(t *testing.T) int {
	return peer(t, func(c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P03", Message: "the database system is starting up"})
		_ = be.Flush()
	})
}

func hostOrder(t *testing.T, conn string, seed uint64) (string, string) {
	t.Helper()
	s := resolveFor(t, conn)
	m := New(t.Context(), Config{Settings: s, Target: conn, HomeDir: t.TempDir(), Getenv: func(string) (string, bool) { return "", false }, Seed: seed})
	for m.Step() {
	}
	var ports []string
	reason := ""
	for i, a := range m.Log().Attempts {
		ports = append(ports, strconv.Itoa(a.Port))
		if i == 0 {
			reason = a.Reason
		}
	}
	return strings.Join(ports, ","), reason
}

func TestLoadBalanceHosts(t *testing.T) {
	var ports []string
	for i := 0; i < 3; i++ {
		ports = append(ports, strconv.Itoa(busyServer(t)))
	}
	list := strings.Join(ports, ",")
	base := fmt.Sprintf("host=127.0.0.1,127.0.0.1,127.0.0.1 port=%s sslmode=disable user=u", list)

	if got, reason := hostOrder(t, base+" load_balance_hosts=disable", 0); got != list || reason != "" {
		t.Fatalf("disable: order %s (reason %q), want %s", got, reason, list)
	}
	// A fixed seed repeats the order, and says so.
	first, reason := hostOrder(t, base+" load_balance_hosts=random", 7)
	if !strings.Contains(reason, "load_balance_hosts=random (seed 7)") {
		t.Fatalf("reason %q", reason)
	}
	for i := 0; i < 3; i++ {
		if again, _ := hostOrder(t, base+" load_balance_hosts=random", 7); again != first {
			t.Fatalf("seed 7 gave %s then %s", first, again)
		}
	}
	// Every permutation appears across seeds (libpq's 003_load_balance_host_list.pl).
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200 && len(seen) < 6; seed++ {
		got, _ := hostOrder(t, base+" load_balance_hosts=random", seed)
		seen[got] = true
	}
	if len(seen) != 6 {
		t.Fatalf("only %d of 6 orders in 200 seeds: %v", len(seen), seen)
	}
	// Seed 0 picks one and records it.
	if _, reason := hostOrder(t, base+" load_balance_hosts=random", 0); !strings.Contains(reason, "(seed ") || strings.Contains(reason, "(seed 0)") {
		t.Fatalf("reason %q", reason)
	}
}

func TestShuffleAddrs(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 100; seed++ {
		m := &Machine{loadBalance: newLoadBalance(seed)}
		ips := []string{"a", "b", "c"}
		if !m.shuffleAddrs(ips) {
			t.Fatal("not shuffled")
		}
		seen[strings.Join(ips, "")] = true
	}
	if len(seen) != 6 {
		t.Fatalf("orders: %v", seen)
	}
	if (&Machine{}).shuffleAddrs([]string{"a", "b"}) {
		t.Fatal("shuffled without load_balance_hosts=random")
	}
}
