//go:build linux

package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SandboxOptions describes the world a Sandbox's programs see.
type SandboxOptions struct {
	// Hosts is the /etc/hosts they see, e.g. "::1 localhost\n127.0.0.1 localhost\n".
	Hosts string
	// NoNetwork gives them a network namespace of their own with only the
	// loopback interface up (127.0.0.1 and ::1): every other address, IPv4
	// or IPv6, has no route ("Network is unreachable"), and servers started
	// outside are out of reach but for Unix sockets.
	NoNetwork bool
	// LoopbackAddrs are extra addresses given to lo inside the network
	// namespace (with NoNetwork), e.g. "10.77.0.1/24" or "fd00:77::1/64".
	LoopbackAddrs []string
}

// Sandbox runs programs (psql, pg_isready, a built pgprobe) with their own
// /etc/hosts, in a private mount namespace, and optionally their own
// network namespace: the name-resolution and routing layouts this machine
// doesn't have (localhost on both ::1 and 127.0.0.1, an IPv6-only name on
// an IPv4-only network, no route at all) without touching the machine.
// It needs unshare and mount (util-linux) and, with NoNetwork, ip
// (iproute2), and root or unprivileged user namespaces.
type Sandbox struct {
	script []string // the command line that sets the world up, then runs "$@"
}

// NewSandbox prepares a sandbox and checks that it works here; when it
// can't (no unshare, no privilege), the test fails with what to install.
func NewSandbox(t testing.TB, o SandboxOptions) *Sandbox {
	t.Helper()
	unshare := tool(t, "unshare", "util-linux")
	mount := tool(t, "mount", "util-linux")
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(o.Hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{unshare, "--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	// sh's $0 is the hosts file, "$@" the program and its arguments.
	sh := `set -e; `
	if o.NoNetwork {
		args = append(args, "--net")
		ip := tool(t, "ip", "iproute2")
		sh += ip + ` link set lo up; `
		for _, a := range o.LoopbackAddrs {
			sh += ip + ` addr add ` + a + ` dev lo; `
		}
	}
	sh += mount + ` --bind "$0" /etc/hosts; exec "$@"`
	s := &Sandbox{script: append(args, "--", "/bin/sh", "-c", sh, hosts)}
	if out, err := exec.Command(s.script[0], append(s.script[1:], "/bin/cat", "/etc/hosts")...).CombinedOutput(); err != nil || string(out) != o.Hosts {
		t.Fatalf("pgtest: cannot set up a sandbox with its own /etc/hosts%s (%v): %s\n"+
			"it needs unshare and mount (util-linux), ip (iproute2), and root or user namespaces; scripts/test.sh installs the packages",
			map[bool]string{true: " and network namespace"}[o.NoNetwork], err, out)
	}
	return s
}

// Command returns the command that runs path with args inside the sandbox.
func (s *Sandbox) Command(path string, args ...string) *exec.Cmd {
	argv := append(append(append([]string(nil), s.script...), path), args...)
	return exec.Command(argv[0], argv[1:]...)
}

// Run runs path with args inside the sandbox in PsqlEnv(t, env...) and
// returns its combined output and exit code, as RunClient does.
func (s *Sandbox) Run(t testing.TB, path string, args []string, env ...string) (output string, code int) {
	t.Helper()
	return runClient(t, s.Command(path, args...), env...)
}

// RunClient runs a PostgreSQL client program (see ClientPath) inside the sandbox.
func (s *Sandbox) RunClient(t testing.TB, name string, args []string, env ...string) (output string, code int) {
	t.Helper()
	return s.Run(t, ClientPath(t, name), args, env...)
}

// tool finds a system program, also in the sbin directories a test's PATH
// may lack.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if p := filepath.Join(d, name); isExec(p) {
			return p
		}
	}
	t.Fatalf("pgtest: %s not found; install Debian's %s (scripts/test.sh does)", name, pkg)
	return ""
}
