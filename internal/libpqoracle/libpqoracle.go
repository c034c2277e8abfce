//go:build linux

// Package libpqoracle calls libpq itself from tests, as the oracle for what
// libpq 17 or 18 does with a connection string: the libpq.so.5.17 and
// libpq.so.5.18 of the npm packages scripts/test.sh unpacks (they hold no
// psql), and the machine's libpq.so.5 (Debian's 15) for version 15.
//
// Those packages ship no headers, so a small C program (csrc/oracle.c) is
// built with gcc at the first call, loads the library with dlopen and prints
// what PQconnectdb (or PQping) gave as JSON. It is built once per source
// and effective user into the temporary directory and reused by later test
// processes. Like pgtest, it is test-only: nothing in the binary imports it.
package libpqoracle

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
)

//go:embed csrc/oracle.c
var source []byte

// Result is what libpq reported for one PQconnectdb.
type Result struct {
	// LibVersion is PQlibVersion(): 180004 for 18.4.
	LibVersion int    `json:"lib_version"`
	OK         bool   `json:"ok"`
	Status     string `json:"status"` // CONNECTION_OK or CONNECTION_BAD
	// Error is PQerrorMessage verbatim: "" on success, else the whole
	// message with its "connection to server at …" prefix and final newline.
	Error string `json:"error"`
	// ProtocolVersion is PQprotocolVersion (3; 0 when not connected) and
	// FullProtocolVersion PQfullProtocolVersion (30000 for 3.0, 30002 for
	// 3.2; 0 when not connected or before libpq 18).
	ProtocolVersion     int    `json:"protocol_version"`
	FullProtocolVersion int    `json:"full_protocol_version"`
	UsedPassword        bool   `json:"used_password"` // PQconnectionUsedPassword
	SSLInUse            bool   `json:"ssl_in_use"`
	SSLProtocol         string `json:"ssl_protocol"` // PQsslAttribute "protocol": "TLSv1.3"
	SSLCipher           string `json:"ssl_cipher"`
	SSLALPN             string `json:"ssl_alpn"`       // "postgresql" (libpq 17+) or ""
	ServerVersion       string `json:"server_version"` // ParameterStatus server_version
}

// Message returns the last line of Error, without libpq's
// `connection to server at "HOST", port PORT failed: ` prefix and the final
// newline: the part a pgprobe error message can be compared with. libpq
// puts a server's FATAL on the line after that prefix when it ran over
// several attempts; Message takes the text after the last "failed: ".
func (r Result) Message() string {
	msg := strings.TrimRight(r.Error, "\n")
	if i := strings.LastIndex(msg, "failed: "); i >= 0 {
		msg = msg[i+len("failed: "):]
	}
	return msg
}

// Ping results (PGPing).
const (
	PingOK         = 0 // PQPING_OK: the server accepts connections
	PingReject     = 1 // PQPING_REJECT: it answered, and refuses connections (starting, shutting down)
	PingNoResponse = 2 // PQPING_NO_RESPONSE: no answer
	PingNoAttempt  = 3 // PQPING_NO_ATTEMPT: not tried (a bad connection string)
)

type output struct {
	Result
	Ping *int `json:"ping"`
}

// Connect runs PQconnectdb(conninfo) with libpq of the given major version
// (15, 17 or 18) in pgtest.PsqlEnv(t, env...) (an empty HOME, no PG*
// variable but those in env) and returns what libpq reported. A library
// that is not installed, or is of another version, fails the test.
func Connect(t testing.TB, version int, conninfo string, env ...string) Result {
	t.Helper()
	return call(t, version, "connect", conninfo, env).Result
}

// Ping runs PQping(conninfo), as pg_isready does, and returns its PGPing.
func Ping(t testing.TB, version int, conninfo string, env ...string) int {
	t.Helper()
	out := call(t, version, "ping", conninfo, env)
	if out.Ping == nil {
		t.Fatalf("libpqoracle: no ping result")
	}
	return *out.Ping
}

// Library returns the libpq of the given major version: the package's
// libpq.so.5.NN for 17 and 18, "libpq.so.5" (the machine's, found by the
// dynamic linker) for the default version.
func Library(t testing.TB, version int) string {
	t.Helper()
	if lib := pgtest.LibdirFor(t, version); lib != "" {
		return filepath.Join(lib, "libpq.so.5")
	}
	return "libpq.so.5"
}

func call(t testing.TB, version int, mode, conninfo string, env []string) output {
	t.Helper()
	helper := build(t)
	lib := Library(t, version)
	ctx, cancel := context.WithTimeout(context.Background(), pgtest.ClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper, lib, mode)
	cmd.Env = pgtest.PsqlEnv(t, env...)
	cmd.Stdin = strings.NewReader(conninfo)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("libpqoracle: %s %s with %s: %v\n%s", mode, conninfo, lib, err, stderr.String())
	}
	var out output
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("libpqoracle: output %q: %v", stdout.String(), err)
	}
	if got := out.LibVersion / 10000; got != version {
		t.Fatalf("libpqoracle: %s is libpq %d (PQlibVersion %d), want %d; %s",
			lib, got, out.LibVersion, version, "run scripts/test.sh")
	}
	return out
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// build compiles csrc/oracle.c once per process, into a file named after
// the source's hash that later processes reuse.
func build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildPath, buildErr = compile() })
	if buildErr != nil {
		t.Fatalf("libpqoracle: building the libpq helper: %v (gcc is needed: run scripts/test.sh)", buildErr)
	}
	return buildPath
}

func compile() (string, error) {
	h := sha256.New()
	h.Write(source)
	fmt.Fprintf(h, "\x00%d", os.Geteuid())
	path := filepath.Join(os.TempDir(), "pgprobe-libpq-oracle-"+hex.EncodeToString(h.Sum(nil)[:8]))
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o100 != 0 {
		return path, nil
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(os.TempDir(), "pgprobe-libpq-oracle-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "oracle.c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "oracle")
	if out, err := exec.Command(gcc, "-O1", "-Wall", "-o", bin, src, "-ldl").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	// A rename is atomic: a parallel test process sees no half-written file.
	return path, os.Rename(bin, path)
}
