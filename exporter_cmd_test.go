//go:build unix

package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestExporterUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("modules:\n  login:\n    settings:\n      password: hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"bad config names the line", []string{"exporter", "--config", bad, "--config.check"}, 3, "", bad + ":4: module \"login\": a password is not a setting"},
		{"bad config at start", []string{"exporter", "--config", bad}, 3, "", bad + ":4: "},
		{"missing config", []string{"exporter", "--config", filepath.Join(dir, "absent.yml")}, 3, "", "could not read the configuration"},
		{"shipped config is valid", []string{"exporter", "--config", "examples/prometheus/pgprobe.yml", "--config.check"}, 0, "the configuration is valid: 3 modules", ""},
		{"no config: the default module", []string{"exporter", "--config.check"}, 0, "the configuration is valid: 1 modules", ""},
		{"no slots", []string{"exporter", "--max-concurrent-probes", "0", "--config.check"}, 3, "", "invalid --max-concurrent-probes 0"},
		{"bad offset", []string{"exporter", "--timeout-offset", "soon"}, 3, "", `invalid --timeout-offset "soon"`},
		{"an argument", []string{"exporter", "localhost"}, 3, "", "exporter takes no arguments"},
		{"bad web config", []string{"exporter", "--web.config.file", filepath.Join(dir, "absent.yml"), "--web.listen-address", "127.0.0.1:0"}, 3, "", "invalid --web.config.file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"pgprobe"}, tc.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), "hunter2") {
				t.Errorf("the output shows the password")
			}
		})
	}
}

// TestExporterBinary runs the built binary as a service is run: basic
// authentication from --web.config.file (exporter-toolkit), SIGHUP with a
// broken file keeping the old configuration, SIGTERM ending it with exit 0.
func TestExporterBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "pgprobe.yml")
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("pgprobe.yml", "modules:\n  quick:\n    ping: true\n")
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := write("web.yml", "basic_auth_users:\n  prometheus: "+string(hash)+"\n")
	x := startExporterBinary(t, bin, "--config", config, "--web.config.file", web)
	base := x.base
	fetch := func(path string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth {
			req.SetBasicAuth("prometheus", "scrape-secret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := fetch("/metrics", false); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	if code, body := fetch("/metrics", true); code != 200 || !strings.Contains(body, "pgprobe_exporter_config_last_reload_successful 1") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}

	write("pgprobe.yml", "modules:\n  quick:\n    ping: maybe\n")
	if err := x.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := fetch("/metrics", true)
		if strings.Contains(body, "pgprobe_exporter_config_last_reload_successful 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP with a broken file: the last reload is not reported as failed\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := fetch("/probe?module=quick&target=127.0.0.1:1", true); code != 200 || !strings.Contains(body, "probe_success 0") {
		t.Errorf("module quick after a failed reload: %d\n%s", code, body)
	}
	if err := x.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-x.done
	if err := x.cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0\n%s", err, x.log())
	}
	if !strings.Contains(x.log(), "pgprobe.yml:3: ") {
		t.Errorf("the log does not name the broken line:\n%s", x.log())
	}
}

// exporterProcess is pgprobe exporter running as a subprocess.
type exporterProcess struct {
	cmd  *exec.Cmd
	base string        // http://ADDRESS
	done chan struct{} // closed when its stderr ends (it exited)
	mu   sync.Mutex
	logs bytes.Buffer
}

func (x *exporterProcess) log() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.logs.String()
}

// startExporterBinary starts bin exporter with args on a free loopback
// port, reads the address from its log, and kills it when the test ends.
func startExporterBinary(t testing.TB, bin string, args ...string) *exporterProcess {
	t.Helper()
	x := &exporterProcess{done: make(chan struct{})}
	x.cmd = exec.Command(bin, append([]string{"exporter", "--web.listen-address", "127.0.0.1:0"}, args...)...)
	x.cmd.Env = []string{"HOME=/nonexistent", "PATH=" + os.Getenv("PATH")}
	stderr, err := x.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = x.cmd.Process.Kill()
		<-x.done
	})
	addr := make(chan string, 1)
	go func() {
		defer close(x.done)
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`msg="Listening on" address=(\S+)`)
		for sc.Scan() {
			x.mu.Lock()
			x.logs.WriteString(sc.Text() + "\n")
			x.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		x.base = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("the exporter did not say where it listens:\n%s", x.log())
	}
	return x
}
