package probe

import (
	"math/rand/v2"
)

// loadBalance is load_balance_hosts=random: libpq shuffles the host list
// once when it reads the options and each host's addresses after resolving
// them, both with an inside-out Fisher–Yates over its PRNG. pgprobe's PRNG
// is seeded from Config.Seed so that a run can be repeated.
type loadBalance struct {
	seed uint64
	rng  *rand.Rand
}

func newLoadBalance(seed uint64) *loadBalance {
	if seed == 0 {
		seed = rand.Uint64() | 1 // never 0, so that the record's seed replays the run
	}
	return &loadBalance{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// shuffle is libpq's loop: for i in 1..n-1, j = random in [0, i], swap.
func (lb *loadBalance) shuffle(n int, swap func(i, j int)) {
	for i := 1; i < n; i++ {
		j := lb.rng.IntN(i + 1)
		swap(i, j)
	}
}

// initLoadBalance shuffles the host list once, as pqConnectOptions2 does.
func (m *Machine) initLoadBalance() {
	if m.settings.Get("load_balance_hosts") != "random" {
		return
	}
	m.loadBalance = newLoadBalance(m.cfg.Seed)
	m.loadBalance.shuffle(len(m.hosts), func(i, j int) { m.hosts[i], m.hosts[j] = m.hosts[j], m.hosts[i] })
}

// shuffleAddrs shuffles one host's resolved addresses in place and reports
// whether it did.
func (m *Machine) shuffleAddrs(ips []string) bool {
	if m.loadBalance == nil || len(ips) < 2 {
		return false
	}
	m.loadBalance.shuffle(len(ips), func(i, j int) { ips[i], ips[j] = ips[j], ips[i] })
	return true
}

// Seed is the seed load_balance_hosts=random used (0 when it did not apply).
func (m *Machine) Seed() uint64 {
	if m.loadBalance == nil {
		return 0
	}
	return m.loadBalance.seed
}
