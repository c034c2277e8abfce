//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// sslRequest is the 8 bytes libpq sends first with sslmode=prefer.
var sslRequest = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)

// stalledServer accepts connections and never answers, keeping what each
// client sent until it hangs up.
type stalledServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  []*bytes.Buffer
	done sync.WaitGroup
}

func newStalledServer(t *testing.T) *stalledServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stalledServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := &bytes.Buffer{}
			s.mu.Lock()
			s.got = append(s.got, b)
			s.mu.Unlock()
			s.done.Add(1)
			go func() {
				defer s.done.Done()
				defer c.Close()
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					s.mu.Lock()
					b.Write(buf[:n])
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *stalledServer) port() string { return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) }

// waiting reports whether n clients sent their SSLRequest: each now waits
// for the answer.
func (s *stalledServer) waiting(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := 0
	for _, b := range s.got {
		if b.Len() >= len(sslRequest) {
			k++
		}
	}
	return k >= n
}

// received is what each client sent, once every client hung up.
func (s *stalledServer) received() []string {
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, b := range s.got {
		out[i] = b.String()
	}
	return out
}

// hangUpOnce accepts one connection, closes it and stops listening: the
// first try finds a server that hangs up, every later one a refused port.
func hangUpOnce(t *testing.T) (port string, tried <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err == nil {
			c.Close()
			close(ch)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), ch
}

// until polls cond until it holds; the test fails if it never does.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// interrupted is how a signalled pgprobe ended.
type interrupted struct {
	stdout, stderr string
	code           int
	took           time.Duration // from the signal to the exit
}

// signalWhen starts pgprobe with args, sends sig once ready says the
// probes wait, and waits for it to exit.
func signalWhen(t *testing.T, sig syscall.Signal, ready func() bool, args ...string) interrupted {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	// No connect_timeout: only -t's default (30 s) would end a stalled
	// probe, long after the bound checked below.
	cmd.Env = pgtest.PsqlEnv(t, "PGCONNECT_TIMEOUT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
	}()
	until(t, "pgprobe to reach the stalled step", ready)
	return signalAndWait(t, cmd, sig, exited, &stdout, &stderr)
}

func signalAndWait(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, exited chan struct{}, stdout, stderr *bytes.Buffer) interrupted {
	t.Helper()
	began := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	r := interrupted{took: time.Since(began), stdout: stdout.String(), stderr: stderr.String()}
	close(exited)
	r.code = cmd.ProcessState.ExitCode()
	if err != nil && r.code < 0 {
		t.Fatalf("pgprobe died of the signal instead of exiting: %v\n%s%s", err, r.stdout, r.stderr)
	}
	// The point is "at once, not after the 30 s timeout": a bound no slow
	// machine reaches.
	if r.took > 5*time.Second {
		t.Errorf("pgprobe exited %v after the signal", r.took)
	}
	return r
}

func TestInterruptStalledProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		code    int
		targets int      // stalled targets
		args    []string // before the targets
		want    []string // in stdout
		wantNot []string
	}{
		{"timeline, SIGINT", syscall.SIGINT, 130, 1, nil,
			[]string{"✗ interrupted  ", "✗ interrupted by SIGINT: no answer to SSLRequest after", "socket closed without Terminate", "exit 130: interrupted (SIGINT)"},
			[]string{"timeout", "advice", "-t"}},
		{"timeline, SIGTERM", syscall.SIGTERM, 143, 1, nil,
			[]string{"✗ interrupted by SIGTERM: no answer to SSLRequest after", "exit 143: interrupted (SIGTERM)"}, []string{"advice"}},
		{"quiet", syscall.SIGINT, 130, 1, []string{"-q"}, nil, []string{"interrupted"}},
		{"table", syscall.SIGINT, 130, 3, []string{"-o", "table", "--concurrency", "2"}, []string{" interrupted "}, []string{"advice"}},
		{"count", syscall.SIGINT, 130, 1, []string{"-n", "5"}, []string{"✗ interrupted by SIGINT: no answer to SSLRequest after"}, []string{"runs completed"}},
		{"fleet", syscall.SIGINT, 130, 3, []string{"--concurrency", "2"}, []string{"✗ interrupted by SIGINT: no answer to SSLRequest after", "✗ interrupted by SIGINT before this target was probed"}, []string{"advice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStalledServer(t)
			args := tc.args
			for i := range tc.targets {
				args = append(args, "host=127.0.0.1 user=x port="+s.port()+" dbname=d"+strconv.Itoa(i))
			}
			inFlight := min(tc.targets, 2)
			r := signalWhen(t, tc.sig, func() bool { return s.waiting(inFlight) }, args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output has %q:\n%s%s", w, r.stdout, r.stderr)
				}
			}
			got := s.received()
			if len(got) != inFlight {
				t.Errorf("%d connections, want %d: a target not started was probed", len(got), inFlight)
			}
			for i, b := range got {
				if b != string(sslRequest) {
					t.Errorf("connection %d: the client sent %q, want only the SSLRequest (no Terminate during startup)", i, b)
				}
			}
		})
	}
}

// verdictOf is what the tests read of a JSON document or verdict line.
type verdictOf struct {
	Type     string `json:"type"`
	Target   string `json:"target"`
	ExitCode int    `json:"exit_code"`
	Tries    int    `json:"tries"`
	Error    *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
		Advice  string `json:"advice"`
	} `json:"error"`
	Results []verdictOf `json:"results"`
}

func TestInterruptJSON(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		code    int
		format  string
		targets int
		// Messages of the verdicts, in the order of the targets.
		want []string
	}{
		{"json", syscall.SIGTERM, 143, "json", 1, []string{"interrupted by SIGTERM: no answer to SSLRequest after"}},
		{"json fleet", syscall.SIGINT, 130, "json", 3, []string{"interrupted by SIGINT: no answer", "interrupted by SIGINT: no answer", "interrupted by SIGINT before this target was probed"}},
		{"ndjson fleet", syscall.SIGINT, 130, "ndjson", 3, []string{"interrupted by SIGINT: no answer", "interrupted by SIGINT: no answer", "interrupted by SIGINT before this target was probed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStalledServer(t)
			args := []string{"-o", tc.format, "--concurrency", "2"}
			for i := range tc.targets {
				args = append(args, "host=127.0.0.1 user=x port="+s.port()+" dbname=d"+strconv.Itoa(i))
			}
			r := signalWhen(t, tc.sig, func() bool { return s.waiting(min(tc.targets, 2)) }, args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			var verdicts []verdictOf
			top := verdictOf{ExitCode: -1}
			switch tc.format {
			case "json":
				if err := json.Unmarshal([]byte(r.stdout), &top); err != nil {
					t.Fatalf("%v:\n%s", err, r.stdout)
				}
				verdicts = top.Results
				if tc.targets == 1 {
					verdicts = []verdictOf{top}
				}
			case "ndjson":
				sc := bufio.NewScanner(strings.NewReader(r.stdout))
				for sc.Scan() {
					var v verdictOf
					if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
						t.Fatalf("%v: %s", err, sc.Text())
					}
					switch v.Type {
					case "verdict":
						verdicts = append(verdicts, v)
					case "fleet_verdict":
						top = v
					}
				}
			}
			if top.ExitCode != tc.code {
				t.Errorf("the document's exit_code is %d, want %d", top.ExitCode, tc.code)
			}
			if len(verdicts) != len(tc.want) {
				t.Fatalf("%d verdicts, want %d:\n%s", len(verdicts), len(tc.want), r.stdout)
			}
			for i, v := range verdicts {
				if v.ExitCode != tc.code || v.Error == nil || v.Error.Class != "interrupted" || !strings.HasPrefix(v.Error.Message, tc.want[i]) || v.Error.Advice != "" {
					t.Errorf("target %d: exit %d, error %+v; want exit %d, class interrupted, %q..., no advice", i, v.ExitCode, v.Error, tc.code, tc.want[i])
				}
			}
		})
	}
}

func TestInterruptWait(t *testing.T) {
	port, tried := hangUpOnce(t)
	r := signalWhen(t, syscall.SIGINT, func() bool {
		select {
		case <-tried:
			return true
		default:
			return false
		}
	}, "--wait", "30s", "-o", "json", "host=127.0.0.1 user=x port="+port)
	if r.code != 130 {
		t.Errorf("exit %d, want 130\n%s%s", r.code, r.stdout, r.stderr)
	}
	var v verdictOf
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if v.ExitCode != 130 || v.Tries < 1 || v.Error == nil || v.Error.Class != "interrupted" || !strings.HasPrefix(v.Error.Message, "interrupted by SIGINT") {
		t.Errorf("exit_code %d, tries %d, error %+v; want 130 and class interrupted", v.ExitCode, v.Tries, v.Error)
	}
}

// TestInterruptListen: listen stops on SIGINT and SIGTERM and exits as a
// shell reports a process the signal ended.
func TestInterruptListen(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			cmd := exec.Command(buildBinary(t), "listen", "--addr", "127.0.0.1:0", "--ssl", "off")
			cmd.Env = pgtest.PsqlEnv(t)
			var stdout, stderr bytes.Buffer
			cmd.Stdout = &stdout
			pr, pw := io.Pipe()
			cmd.Stderr = pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() {
				select {
				case <-exited:
				case <-time.After(time.Minute):
					_ = cmd.Process.Kill()
				}
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil || !strings.Contains(line, "listening on") {
				t.Fatalf("listen said %q (%v)", line, err)
			}
			stderr.WriteString(line)
			go func() { _, _ = io.Copy(&stderr, pr) }()
			r := signalAndWait(t, cmd, tc.sig, exited, &stdout, &bytes.Buffer{})
			pw.Close()
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tc.code, r.stdout)
			}
		})
	}
}
