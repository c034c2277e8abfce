//go:build unix

package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

func TestParseConfigErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"yaml syntax", "modules:\n  a:\n    ping: true\n    timeout: 1s\n     b: 1\n", "5: invalid YAML: mapping values are not allowed"},
		{"unknown top key", "modules: {}\nallowed: [x]\n", `2: unknown key "allowed"`},
		{"unknown module key", "modules:\n  m:\n    pong: true\n", `3: module "m": unknown key "pong"`},
		{"password setting", "modules:\n  m:\n    settings:\n      user: a\n      password: hunter2\n", "5: module \"m\": a password is not a setting"},
		{"unknown keyword", "modules:\n  m:\n    settings:\n      sslmod: require\n", `4: module "m": invalid connection option "sslmod"`},
		{"bad keyword value", "modules:\n  m:\n    settings:\n      sslmode: sometimes\n", `4: module "m": settings: invalid sslmode value: "sometimes"`},
		{"bad timeout", "modules:\n  m:\n    timeout: soon\n", `3: invalid timeout "soon"`},
		{"bad ping", "modules:\n  m:\n    ping: maybe\n", `3: module "m": ping:`},
		{"bad tls version", "modules:\n  m:\n    min_tls_version: \"1.1\"\n", `3: invalid TLS version "1.1"`},
		{"negative days", "modules:\n  m:\n    min_cert_days: -1\n", "3: min_cert_days must be 0 or more"},
		{"ping with checks", "modules:\n  m:\n    ping: true\n    min_cert_days: 14\n", `3: module "m": ping stops before TLS details matter`},
		{"both passwords", "modules:\n  m:\n    password_file: /a\n    password_env: B\n", `3: module "m": give password_file or password_env, not both`},
		{"duplicate module", "modules:\n  m: {}\n  m: {}\n", `3: "m" is given twice`},
		{"bad cidr", "allowed_targets:\n  - 10.0.0.0/33\n", `2: allowed_targets: invalid CIDR "10.0.0.0/33"`},
		{"bad pattern", "allowed_targets:\n  - \"db[\"\n", `2: allowed_targets: invalid host pattern "db["`},
		{"not a list", "allowed_targets: db\n", "1: allowed_targets must be a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseConfig: %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pgprobe.yml")
	pgtest.WriteFile(t, filepath.Dir(f), "pgprobe.yml", []byte("modules:\n  m:\n    settings: [a]\n"), 0o644)
	_, err := LoadConfig(f)
	if err == nil || !strings.HasPrefix(err.Error(), f+":3: ") {
		t.Fatalf("LoadConfig: %v, want %s:3: …", err, f)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
modules:
  full:
    settings: {user: mon, sslmode: verify-full, sslpassword: keypass}
    password_env: MON_PASSWORD
    timeout: 5s
    min_cert_days: 14
    min_tls_version: "1.3"
  bare:
allowed_targets: ["*.db.example.com", 10.0.0.0/8, "::1", /var/run/postgresql]
`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules["full"]
	if m.Settings["user"] != "mon" || m.PasswordEnv != "MON_PASSWORD" || m.Timeout != 5*time.Second || m.Ping ||
		m.Checks.MinCertDays != 14 || m.Checks.MinTLSVersion != "1.3" {
		t.Errorf("module full = %+v", m)
	}
	if d := c.Modules[DefaultModule]; d == nil || !d.Ping {
		t.Errorf("the built-in default module is missing or does not ping: %+v", d)
	}
	if b := c.Modules["bare"]; b == nil || b.Ping {
		t.Errorf("module bare = %+v, want a full connection with libpq's defaults", b)
	}
	if y := m.masked(); y.Settings["sslpassword"] != "****" {
		t.Errorf("masked settings = %v, want sslpassword hidden", y.Settings)
	}
	for host, want := range map[string]bool{
		"pg1.db.example.com": true, "PG1.DB.EXAMPLE.COM": true, "db.example.com": false, "10.1.2.3": true,
		"11.0.0.1": false, "::1": true, "/var/run/postgresql": true, "/tmp": false,
	} {
		got := false
		for _, r := range c.Allowed {
			got = got || r.allows(host)
		}
		if got != want {
			t.Errorf("allowed(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("../examples/prometheus/pgprobe.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Modules["login"] == nil || c.Modules["ping"] == nil {
		t.Fatalf("modules %v, want login and ping (prometheus.yml uses login)", c.moduleNames())
	}
}

// TestReadmeConfig parses the configuration the README shows.
func TestReadmeConfig(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Prometheus")
	_, block, ok2 := strings.Cut(rest, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no yaml block in its Prometheus section")
	}
	c, err := ParseConfig([]byte(block))
	if err != nil {
		t.Fatalf("the README's configuration: %v", err)
	}
	if m := c.Modules["login"]; m == nil || m.PasswordFile == "" || m.Checks.MinCertDays != 14 {
		t.Errorf("the README's login module = %+v", m)
	}
}
