package exporter

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// A probe reads no environment variable and no home directory of the
// exporter: what it sends comes from the module and the target only, so
// that PGPASSWORD or a ~/.pgpass of the exporter's user is never sent to a
// target nobody gave it for.
var noEnv = func(string) (string, bool) { return "", false }

// noHome is the home directory probes see (Debian's for users without one).
const noHome = "/nonexistent"

// targetOnly are keywords a target may not set: they name files on the
// exporter's machine or carry secrets, which only the configuration may
// give (an HTTP client must not make the exporter read /etc/… or send a
// key it holds to a server of the client's choosing).
var targetOnly = map[string]bool{
	"passfile": true, "service": true, "servicefile": true,
	"sslcert": true, "sslkey": true, "sslrootcert": true, "sslcrl": true, "sslcrldir": true,
	"sslkeylogfile": true, "requirepeer": true,
}

// requestError is a request the exporter refuses: HTTP 400 or 403.
type requestError struct {
	status int
	msg    string
	reason string // the refusals counter's label
}

func (e *requestError) Error() string { return e.msg }

func badRequest(reason, format string, a ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, a...)}
}

// request turns a target into what run.One takes: the module's settings,
// overridden by the target's, and the module's password, read now so that
// a rotated secret is used without a reload. Only the password's own
// failure (an unreadable file) comes back as the second error: it is the
// probe's failure, not the request's.
func (c *Config) request(m *Module, target string) (probe.Request, *requestError, error) {
	if target == "" {
		return probe.Request{}, badRequest("bad_target", "the target parameter is missing: /probe?target=host:port&module=NAME"), nil
	}
	if conninfo.Redact(target) != target {
		// The target is never echoed: it holds a secret.
		return probe.Request{}, badRequest("password_in_target", "the target holds a password or another secret: give it in the module (password_file or password_env), never in the URL"), nil
	}
	in := conninfo.Input{Flags: map[string]string{}, FlagOrigin: map[string]string{}, Getenv: noEnv, HomeDir: noHome}
	for k, v := range m.Settings {
		in.Flags[k], in.FlagOrigin[k] = v, "module "+m.Name
	}
	display := target
	if conninfo.IsConnString(target) {
		keys, err := conninfo.TargetKeywords(target)
		if err != nil {
			return probe.Request{}, badRequest("bad_target", "invalid target: %s", err), nil
		}
		for _, k := range keys {
			if kw, _ := conninfo.LookupKeyword(k); targetOnly[k] || kw.Secret {
				return probe.Request{}, badRequest("bad_target", "a target may not set %s: set it in the module's settings", k), nil
			}
		}
		in.Target = target
	} else {
		host, port, err := splitHostPort(target)
		if err != nil {
			return probe.Request{}, badRequest("bad_target", "invalid target %q: %s", target, err), nil
		}
		in.Flags["host"], in.FlagOrigin["host"] = host, "target"
		if port != "" {
			in.Flags["port"], in.FlagOrigin["port"] = port, "target"
		}
	}
	s, err := conninfo.Resolve(in)
	if err != nil {
		return probe.Request{}, badRequest("bad_target", "invalid target: %s", err), nil
	}
	if slot, ok := c.allowed(s); !ok {
		return probe.Request{}, &requestError{status: http.StatusForbidden, reason: "forbidden_target",
			msg: fmt.Sprintf("the target's host %q is not in allowed_targets", slot)}, nil
	}
	if !m.Ping {
		pw, err := m.password()
		if err != nil {
			return probe.Request{Input: in, Display: display}, nil, err
		}
		if pw != "" {
			in.Flags["password"], in.FlagOrigin["password"] = pw, "module "+m.Name+" "+m.passwordOrigin()
		}
	}
	return probe.Request{Input: in, Ping: m.Ping, Checks: m.Checks, Display: display}, nil, nil
}

// splitHostPort reads host, host:port and [v6addr]:port; a bare IPv6
// address is a host.
func splitHostPort(t string) (host, port string, err error) {
	switch {
	case strings.HasPrefix(t, "["):
		if host, port, err = net.SplitHostPort(t); err != nil {
			if strings.HasSuffix(t, "]") {
				return strings.Trim(t, "[]"), "", nil
			}
			return "", "", fmt.Errorf("write an IPv6 address and port as [addr]:port")
		}
	case strings.Count(t, ":") == 1:
		host, port, _ = strings.Cut(t, ":")
	default:
		host = t
	}
	if host == "" {
		return "", "", fmt.Errorf("the host is empty")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("the port must be a number from 1 to 65535")
		}
	}
	return host, port, nil
}

// allowed checks each host slot against allowed_targets: the address a
// slot connects to (hostaddr when given, else host; the default socket
// directory when neither is). It returns the first slot refused.
func (c *Config) allowed(s *conninfo.Settings) (string, bool) {
	if c.Allowed == nil {
		return "", true
	}
	hosts := strings.Split(s.Get("host"), ",")
	addrs := strings.Split(s.Get("hostaddr"), ",")
	n := max(len(hosts), len(addrs))
	for i := range n {
		slot := ""
		if i < len(addrs) {
			slot = strings.TrimSpace(addrs[i])
		}
		if slot == "" && i < len(hosts) {
			slot = strings.TrimSpace(hosts[i])
		}
		if slot == "" {
			slot = conninfo.DefaultSocketDir()
		}
		ok := false
		for _, r := range c.Allowed {
			ok = ok || r.allows(slot)
		}
		if !ok {
			return slot, false
		}
	}
	return "", true
}

// password reads the module's password now: the first line of
// password_file, or password_env's value. Errors never hold the password.
func (m *Module) password() (string, error) {
	switch {
	case m.PasswordFile != "":
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("module %q: could not read password_file: %v", m.Name, err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(pw, "\r"), nil
	case m.PasswordEnv != "":
		pw, ok := os.LookupEnv(m.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("module %q: password_env %s is not set in the exporter's environment", m.Name, m.PasswordEnv)
		}
		return pw, nil
	}
	return "", nil
}

func (m *Module) passwordOrigin() string {
	if m.PasswordFile != "" {
		return "password_file"
	}
	return "password_env"
}
