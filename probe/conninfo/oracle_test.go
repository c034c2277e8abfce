package conninfo

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePorts returns n loopback TCP ports that nothing listens on, so that
// connecting to them is refused at once.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	var ls []net.Listener
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

var psqlTarget = regexp.MustCompile(`connection to server at "([^"]*)"(?: \([^)]*\))?, port (\d+) failed`)

// runPsql runs the installed psql with exactly the given environment (plus
// PATH and the C locale) and returns its stderr.
func runPsql(t *testing.T, psql string, env map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, append([]string{"-X", "-w", "-c", ""}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C", "PGCONNECT_TIMEOUT=5"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("psql %q connected; the oracle needs refused ports", args)
	}
	return string(out)
}

// TestPsqlOracle compares Resolve with what the installed psql (libpq 15)
// does for the same target, flags and environment: the host and port it
// tries, in order, or the error it reports.
func TestPsqlOracle(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is not installed: run scripts/test.sh, which installs PostgreSQL 15's client")
	}
	p := freePorts(t, 3)
	home := t.TempDir()
	sys := filepath.Join(home, "sys")
	if err := os.Mkdir(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	svcfile := filepath.Join(home, "services.conf")
	if err := os.WriteFile(svcfile, []byte("[svc]\nhost=127.0.0.2\nport="+p[0]+"\n[bad]\nhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		target string   // "" = none
		flags  []string // psql flags, in pairs
		env    []string
		want   []string // "host:port" tried, in order
		err    string   // or libpq's message
	}{
		{name: "target beats -h", target: "host=127.0.0.1 port=" + p[0], flags: []string{"-h", "nosuch.invalid", "-p", p[1]}, want: []string{"127.0.0.1:" + p[0]}},
		{name: "env only", env: []string{"PGHOST", "127.0.0.2", "PGPORT", p[1]}, want: []string{"127.0.0.2:" + p[1]}},
		{name: "flags beat env", flags: []string{"-h", "127.0.0.1", "-p", p[2]}, env: []string{"PGHOST", "127.0.0.2", "PGPORT", p[1]}, want: []string{"127.0.0.1:" + p[2]}},
		{name: "URI beats env", target: "postgresql://127.0.0.1:" + p[0] + "/db", env: []string{"PGPORT", p[1]}, want: []string{"127.0.0.1:" + p[0]}},
		{name: "URI query beats authority", target: "postgresql://127.0.0.1:" + p[0] + "/db?port=" + p[1], want: []string{"127.0.0.1:" + p[1]}},
		{name: "URI host list", target: "postgresql://127.0.0.1:" + p[0] + ",127.0.0.2:" + p[1] + "/db", want: []string{"127.0.0.1:" + p[0], "127.0.0.2:" + p[1]}},
		{name: "service beats env", target: "service=svc", env: []string{"PGSERVICEFILE", svcfile, "PGPORT", p[1], "PGHOST", "127.0.0.1"}, want: []string{"127.0.0.2:" + p[0]}},
		{name: "target beats service", target: "service=svc port=" + p[2], env: []string{"PGSERVICEFILE", svcfile}, want: []string{"127.0.0.2:" + p[2]}},
		{name: "flags beat service", flags: []string{"-p", p[2]}, env: []string{"PGSERVICE", "svc", "PGSERVICEFILE", svcfile}, want: []string{"127.0.0.2:" + p[2]}},
		{name: "multi-host", target: "host=127.0.0.1,127.0.0.2 port=" + p[0] + "," + p[1], want: []string{"127.0.0.1:" + p[0], "127.0.0.2:" + p[1]}},
		{name: "one port for all hosts", target: "host=127.0.0.1,127.0.0.2 port=" + p[2], want: []string{"127.0.0.1:" + p[2], "127.0.0.2:" + p[2]}},
		{name: "hostaddr", target: "host=db.invalid hostaddr=127.0.0.1 port=" + p[0], want: []string{"127.0.0.1:" + p[0]}},
		{name: "plain dbname with flags", target: "mydb", flags: []string{"-h", "127.0.0.1", "-p", p[1]}, want: []string{"127.0.0.1:" + p[1]}},
		{name: "-d connection string beats -p", flags: []string{"-d", "host=127.0.0.1 port=" + p[0], "-p", p[1]}, want: []string{"127.0.0.1:" + p[0]}},
		{name: "empty value in target hides env", target: "host=127.0.0.1 port=" + p[0] + " application_name=''", env: []string{"PGAPPNAME", "x"}, want: []string{"127.0.0.1:" + p[0]}},

		{name: "empty PGSSLMODE", flags: []string{"-h", "127.0.0.1"}, env: []string{"PGSSLMODE", ""}, err: `invalid sslmode value: ""`},
		{name: "unknown keyword", target: "host=h bogus=1", err: `invalid connection option "bogus"`},
		{name: "missing =", target: "host=h port", err: `missing "=" after "port" in connection info string`},
		{name: "unterminated", target: "host='h", err: `unterminated quoted string in connection info string`},
		{name: "postgre:// is a plain dbname", target: "postgre://", flags: []string{"-h", "127.0.0.1", "-p", p[0]}, want: []string{"127.0.0.1:" + p[0]}},
		{name: "IPv6 bracket", target: "postgres://[::1", err: `end of string reached when looking for matching "]" in IPv6 host address in URI: "postgres://[::1"`},
		{name: "URI position", target: "postgres://[::1]z", err: `unexpected character "z" at position 17 in URI (expected ":" or "/"): "postgres://[::1]z"`},
		{name: "URI query separator", target: "postgresql://host?zzz", err: `missing key/value separator "=" in URI query parameter: "zzz"`},
		{name: "URI %00", target: "postgresql://a%00b", err: `forbidden value %00 in percent-encoded value: "a%00b"`},
		{name: "URI unknown param", target: "postgresql://h?uzer=x", err: `invalid URI query parameter: "uzer"`},
		{name: "service not found", target: "service=nosuch", env: []string{"PGSERVICEFILE", svcfile}, err: `definition of service "nosuch" not found`},
		{name: "service file not found", env: []string{"PGSERVICE", "svc", "PGSERVICEFILE", filepath.Join(home, "none.conf")}, err: `service file "` + filepath.Join(home, "none.conf") + `" not found`},
		{name: "service syntax", target: "service=bad", env: []string{"PGSERVICEFILE", svcfile}, err: `syntax error in service file "` + svcfile + `", line 5`},
		{name: "ports vs hosts", target: "host=a,b port=1,2,3", err: `could not match 3 port numbers to 2 hosts`},
		{name: "hosts vs hostaddrs", target: "host=a hostaddr=127.0.0.1,127.0.0.2", err: `could not match 1 host names to 2 hostaddr values`},
		{name: "channel_binding", target: "channel_binding=x", err: `invalid channel_binding value: "x"`},
		{name: "sslmode", target: "sslmode=x", err: `invalid sslmode value: "x"`},
		{name: "gssencmode", target: "gssencmode=x", err: `invalid gssencmode value: "x"`},
		{name: "target_session_attrs", target: "target_session_attrs=x", err: `invalid target_session_attrs value: "x"`},
		{name: "non-integer port", target: "host=127.0.0.1 port=x", err: `invalid integer value "x" for connection option "port"`},
		{name: "out-of-range port", target: "host=127.0.0.1 port=99999", err: `invalid port number: "99999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": home, "PGSYSCONFDIR": sys}
			for i := 0; i+1 < len(tt.env); i += 2 {
				env[tt.env[i]] = tt.env[i+1]
			}
			var args []string
			args = append(args, tt.flags...)
			if tt.target != "" {
				args = append(args, tt.target)
			}
			stderr := runPsql(t, psql, env, args...)

			in := Input{Target: tt.target, Flags: map[string]string{}, HomeDir: home, OSUser: "root",
				Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			for i := 0; i+1 < len(tt.flags); i += 2 {
				kw := map[string]string{"-h": "host", "-p": "port", "-U": "user", "-d": "dbname"}[tt.flags[i]]
				in.Flags[kw] = tt.flags[i+1]
			}
			s, rerr := Resolve(in)
			var tried []string
			if rerr == nil {
				hosts, herr := s.Hosts()
				rerr = herr
				for _, h := range hosts {
					if _, perr := ParsePort(h.Port); perr != nil {
						rerr = perr
						break
					}
					name := h.Host
					if h.Type == HostAddress {
						name = h.HostAddr
					}
					port := h.Port
					if port == "" {
						port = "5432"
					}
					tried = append(tried, name+":"+port)
				}
			}

			if tt.err != "" {
				if !strings.HasPrefix(stderr, "psql: error: "+tt.err+"\n") {
					t.Fatalf("the oracle changed: psql says %q, test expects %q", stderr, tt.err)
				}
				if rerr == nil || rerr.Error() != tt.err {
					t.Fatalf("Resolve: %v; psql: %q", rerr, tt.err)
				}
				return
			}
			var psqlTried []string
			for _, m := range psqlTarget.FindAllStringSubmatch(stderr, -1) {
				psqlTried = append(psqlTried, m[1]+":"+m[2])
			}
			if strings.Join(psqlTried, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("the oracle changed: psql tried %q (stderr %q), test expects %q", psqlTried, stderr, tt.want)
			}
			if rerr != nil {
				t.Fatalf("Resolve: %v; psql tried %q", rerr, psqlTried)
			}
			if strings.Join(tried, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("Resolve gives %q, psql tried %q", tried, psqlTried)
			}
		})
	}
}
