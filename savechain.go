package main

// --save-chain FILE, as openssl s_client -showcerts: the certificates the
// server sent, in PEM, also when they did not verify (that is when one
// wants to look at them).

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"
)

func saveChainFlag() cli.Flag {
	return &cli.StringFlag{Name: "save-chain", TakesFile: true,
		Usage: "write the certificate chain the server sent to `FILE` (PEM, leaf first), also when it failed verification; one target only"}
}

// chainSaver keeps the chain of the last TLS handshake that received one:
// after several hosts, retries (--wait) or runs (-n), the last server's.
type chainSaver struct {
	path  string
	mu    sync.Mutex
	chain [][]byte
}

// newChainSaver checks --save-chain before anything is probed; nil when the
// flag is not given.
func newChainSaver(c *cli.Context, targets int) (*chainSaver, error) {
	path := c.String("save-chain")
	if !c.IsSet("save-chain") {
		return nil, nil
	}
	if path == "" {
		return nil, usageErr("--save-chain needs a file name")
	}
	if targets > 1 {
		return nil, usageErr("--save-chain writes one server's chain: give one target (probe the others separately)")
	}
	if c.Bool("ping") {
		return nil, usageErr("--ping stops before TLS: use --save-chain without --ping")
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, usageErr("invalid --save-chain %q: directory %q does not exist", path, dir)
	}
	return &chainSaver{path: path}, nil
}

// hook is the probe's OnPeerChain; nil for no saver.
func (s *chainSaver) hook() func([][]byte) {
	if s == nil {
		return nil
	}
	return func(chain [][]byte) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.chain = chain
	}
}

// save writes the file; a note on stderr when no server sent a certificate
// or the file cannot be written (the probe's exit code stands).
func (s *chainSaver) save(stderr io.Writer) {
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
