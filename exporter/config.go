package exporter

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// DefaultModule is the module a probe without module= uses: pg_isready's
// question with libpq's defaults, which needs no credentials.
const DefaultModule = "default"

// Config is the exporter's configuration file, parsed and checked.
type Config struct {
	Modules map[string]*Module
	// Allowed is allowed_targets; nil allows every target.
	Allowed []Rule
}

// Module is how to probe: the settings every target of the module shares,
// where its password comes from, and its checks.
type Module struct {
	Name string
	// Settings are libpq keywords and values (never password); a target's
	// own keywords override them.
	Settings     map[string]string
	PasswordFile string
	PasswordEnv  string
	Ping         bool
	Timeout      time.Duration
	Checks       probe.Checks
}

// Rule is one entry of allowed_targets: a CIDR (matches IP addresses) or a
// host pattern (path.Match's glob, case-insensitive: "*.db.example.com").
type Rule struct {
	Prefix  netip.Prefix
	Pattern string
}

func (r Rule) String() string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Prefix.String()
}

// builtinDefault is the default module when the file does not define one.
func builtinDefault() *Module {
	return &Module{Name: DefaultModule, Settings: map[string]string{}, Ping: true}
}

// DefaultConfig is the configuration without a file: the default module,
// every target allowed.
func DefaultConfig() *Config {
	return &Config{Modules: map[string]*Module{DefaultModule: builtinDefault()}}
}

// LoadConfig reads and checks a configuration file. Its errors name the
// file and the line.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("could not read the configuration: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	return c, nil
}

// lineError is an error at a line of the file: "LINE: message".
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func errAt(n *yaml.Node, format string, a ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, a...)}
}

// ParseConfig parses the YAML of a configuration file. An error reads
// "LINE: message".
func ParseConfig(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	c := DefaultConfig()
	if len(doc.Content) == 0 {
		return c, nil // an empty file: the defaults
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "the configuration must be a mapping with modules: and allowed_targets:")
	}
	err := eachKey(root, func(k, v *yaml.Node) error {
		switch k.Value {
		case "modules":
			return c.parseModules(v)
		case "allowed_targets":
			return c.parseAllowed(v)
		}
		return errAt(k, "unknown key %q: use modules or allowed_targets", k.Value)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// yamlError turns yaml's "yaml: line N: msg" into "N: msg".
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, aerr := strconv.Atoi(n); aerr == nil {
				return &lineError{line: line, msg: "invalid YAML: " + after}
			}
		}
	}
	return &lineError{line: 1, msg: "invalid YAML: " + msg}
}

// eachKey calls f for each key and value of a mapping, refusing duplicates.
func eachKey(m *yaml.Node, f func(k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if seen[k.Value] {
			return errAt(k, "%q is given twice", k.Value)
		}
		seen[k.Value] = true
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) parseModules(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return errAt(v, "modules must be a mapping of module names to modules")
	}
	return eachKey(v, func(k, mv *yaml.Node) error {
		if k.Value == "" {
			return errAt(k, "a module needs a name")
		}
		m, err := parseModule(k.Value, mv)
		if err != nil {
			return err
		}
		c.Modules[k.Value] = m
		return nil
	})
}

func parseModule(name string, v *yaml.Node) (*Module, error) {
	m := &Module{Name: name, Settings: map[string]string{}}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return m, nil // "name:" alone: libpq's defaults, a full connection
	}
	if v.Kind != yaml.MappingNode {
		return nil, errAt(v, "module %q must be a mapping (settings, password_file, password_env, ping, timeout, min_cert_days, min_tls_version)", name)
	}
	err := eachKey(v, func(k, f *yaml.Node) error {
		var err error
		switch k.Value {
		case "settings":
			err = m.parseSettings(f)
		case "password_file", "password_env":
			var s string
			if s, err = scalar(f, k.Value); err == nil && s == "" {
				err = errAt(f, "module %q: %s is empty", name, k.Value)
			}
			if k.Value == "password_file" {
				m.PasswordFile = s
			} else {
				m.PasswordEnv = s
			}
		case "ping":
			err = f.Decode(&m.Ping)
		case "timeout":
			m.Timeout, err = parseDuration(f)
		case "min_cert_days":
			if err = f.Decode(&m.Checks.MinCertDays); err == nil && m.Checks.MinCertDays < 0 {
				err = errAt(f, "min_cert_days must be 0 or more")
			}
		case "min_tls_version":
			var s string
			if s, err = scalar(f, k.Value); err == nil {
				if m.Checks.MinTLSVersion, err = probe.ParseTLSVersion(s); err != nil {
					err = errAt(f, "%s", err)
				}
			}
		default:
			err = errAt(k, "module %q: unknown key %q: use settings, password_file, password_env, ping, timeout, min_cert_days or min_tls_version", name, k.Value)
		}
		if err != nil {
			if _, ok := err.(*lineError); !ok {
				err = errAt(f, "module %q: %s: %s", name, k.Value, strings.TrimPrefix(err.Error(), "yaml: "))
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.PasswordFile != "" && m.PasswordEnv != "" {
		return nil, errAt(v, "module %q: give password_file or password_env, not both", name)
	}
	if m.Ping && (m.Checks.MinCertDays > 0 || m.Checks.MinTLSVersion != "") {
		return nil, errAt(v, "module %q: ping stops before TLS details matter to a check: drop min_cert_days and min_tls_version, or ping", name)
	}
	return m, nil
}

func scalar(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a single value", key)
	}
	return n.Value, nil
}

func parseDuration(n *yaml.Node) (time.Duration, error) {
	s, err := scalar(n, "timeout")
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errAt(n, "invalid timeout %q: give a duration such as 5s or 1m30s", s)
	}
	return d, nil
}

func (m *Module) parseSettings(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return errAt(v, "module %q: settings must be a mapping of libpq keywords to values", m.Name)
	}
	err := eachKey(v, func(k, val *yaml.Node) error {
		switch _, known := conninfo.LookupKeyword(k.Value); {
		case k.Value == "password":
			return errAt(k, "module %q: a password is not a setting: use password_file or password_env", m.Name)
		case !known:
			return errAt(k, "module %q: invalid connection option %q (not a libpq keyword)", m.Name, k.Value)
		case val.Kind != yaml.ScalarNode:
			return errAt(val, "module %q: %s must be a single value", m.Name, k.Value)
		}
		// A bad value (sslmode=bogus) is reported when the file is read,
		// at its line, rather than at each probe. Files the settings name
		// are read at probe time.
		if err := checkSettings(map[string]string{k.Value: val.Value}); err != nil {
			return errAt(val, "module %q: settings: %s", m.Name, err)
		}
		m.Settings[k.Value] = val.Value
		return nil
	})
	if err != nil {
		return err
	}
	if err := checkSettings(m.Settings); err != nil {
		return errAt(v, "module %q: settings: %s", m.Name, err)
	}
	return nil
}

// checkSettings resolves settings as a probe would.
func checkSettings(settings map[string]string) error {
	_, err := conninfo.Resolve(conninfo.Input{Flags: settings, Getenv: noEnv, HomeDir: noHome})
	return err
}

func (c *Config) parseAllowed(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return errAt(v, "allowed_targets must be a list of CIDRs or host patterns")
	}
	c.Allowed = []Rule{}
	for _, n := range v.Content {
		s, err := scalar(n, "an allowed_targets entry")
		if err != nil {
			return err
		}
		r, err := parseRule(s)
		if err != nil {
			return errAt(n, "allowed_targets: %s", err)
		}
		c.Allowed = append(c.Allowed, r)
	}
	return nil
}

func parseRule(s string) (Rule, error) {
	if s == "" {
		return Rule{}, fmt.Errorf("an empty entry: give a CIDR (10.0.0.0/8) or a host pattern (*.db.example.com)")
	}
	if strings.Contains(s, "/") && !strings.HasPrefix(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Rule{}, fmt.Errorf("invalid CIDR %q: %v", s, err)
		}
		return Rule{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Rule{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if _, err := path.Match(s, ""); err != nil {
		return Rule{}, fmt.Errorf("invalid host pattern %q: %v", s, err)
	}
	return Rule{Pattern: strings.ToLower(s)}, nil
}

// allows reports whether a host (a name, an IP address or a socket
// directory) matches a rule. Names are not resolved: a CIDR matches
// addresses given as such (host or hostaddr).
func (r Rule) allows(host string) bool {
	if r.Pattern != "" {
		ok, _ := path.Match(r.Pattern, strings.ToLower(host))
		return ok
	}
	a, err := netip.ParseAddr(host)
	return err == nil && r.Prefix.Contains(a.Unmap())
}

// moduleNames lists the modules, sorted, for error messages.
func (c *Config) moduleNames() []string {
	names := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
