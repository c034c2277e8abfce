// Package savechain is --save-chain FILE, as openssl s_client -showcerts: the
// certificates the server sent, in PEM, also when they did not verify (that
// is when one wants to look at them).
package savechain

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
)

// Flag is --save-chain.
func Flag() cli.Flag {
	return &cli.StringFlag{Name: "save-chain", TakesFile: true,
		Usage: "write the certificate chain the server sent to `FILE` (PEM, leaf first), also when it failed verification; one target only"}
}

// Saver keeps the chain of the last TLS handshake that received one:
// after several hosts, retries (--wait) or runs (-n), the last server's.
type Saver struct {
	path  string
	mu    sync.Mutex
	chain [][]byte
}

// New checks --save-chain before anything is probed; nil when the
// flag is not given.
func New(c *cli.Context, targets int) (*Saver, error) {
	path := c.String("save-chain")
	if !c.IsSet("save-chain") {
		return nil, nil
	}
	if path == "" {
		return nil, cmdenv.UsageErr("--save-chain needs a file name")
	}
	if targets > 1 {
		return nil, cmdenv.UsageErr("--save-chain writes one server's chain: give one target (probe the others separately)")
	}
	if c.Bool("ping") {
		return nil, cmdenv.UsageErr("--ping stops before TLS: use --save-chain without --ping")
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, cmdenv.UsageErr("invalid --save-chain %q: directory %q does not exist", path, dir)
	}
	return &Saver{path: path}, nil
}

// Hook is the probe's OnPeerChain; nil for no saver.
func (s *Saver) Hook() func([][]byte) {
	if s == nil {
		return nil
	}
	return func(chain [][]byte) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.chain = chain
	}
}

// Save writes the file; a note on stderr when no server sent a certificate
// or the file cannot be written (the probe's exit code stands).
func (s *Saver) Save(stderr io.Writer) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.chain) == 0 {
		fmt.Fprintf(stderr, "pgprobe: --save-chain: no server sent a certificate; %s not written\n", s.path)
		return
	}
	var b bytes.Buffer
	for _, der := range s.chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if err := os.WriteFile(s.path, b.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "pgprobe: --save-chain: could not write %s: %v\n", s.path, err)
	}
}
