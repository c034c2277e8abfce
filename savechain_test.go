//go:build unix

package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/pgtest"
	"github.com/pgprobe/pgprobe/statelog"
)

// TestSaveChain: --save-chain writes the certificates PostgreSQL sent, as
// openssl s_client -showcerts shows them, also when verify-full rejects
// them; psql agrees on each verdict.
func TestSaveChain(t *testing.T) {
	c := sslServer(t)
	wrongCA := filepath.Join(t.TempDir(), "wrong-ca.crt")
	if err := os.WriteFile(wrongCA, pgtest.NewCA(t, "not the server's CA").CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("host=localhost hostaddr=127.0.0.1 port=%d user=trustuser dbname=postgres", c.Port)
	serverCert, err := os.ReadFile(c.ServerCertFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		settings string
		code     int
	}{
		{"verify-full with the wrong CA", "sslmode=verify-full sslrootcert=" + wrongCA, statelog.ExitNoAnswer},
		{"verify-full with the right CA", "sslmode=verify-full sslrootcert=" + c.CAFile, statelog.ExitOK},
		{"require", "sslmode=require", statelog.ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := base + " " + tc.settings
			file := filepath.Join(t.TempDir(), "chain.pem")
			r := pgprobe(t, nil, "--save-chain", file, target)
			mustCode(t, r, tc.code)
			if _, code := pgtest.RunPsql(t, target, ""); (code == 0) != (tc.code == 0) {
				t.Fatalf("psql exit %d, pgprobe exit %d", code, r.code)
			}
			chain := readChain(t, file)
			if len(chain) == 0 || !bytes.Equal(chain[0].Raw, pemDER(t, serverCert)) {
				t.Fatalf("%s does not start with the server's ssl_cert_file", file)
			}
			sameChain(t, chain, opensslChain(t, c.Port))
		})
	}

	t.Run("an intermediate is saved after the leaf, as sent", func(t *testing.T) {
		inter := c.CA.NewIntermediate(t, "pgprobe test intermediate")
		leaf, key := inter.Issue(t, pgtest.CertOptions{CN: "localhost", DNSNames: []string{"localhost"}})
		c.SetServerCert(t, append(leaf, inter.CertPEM...), key)
		file := filepath.Join(t.TempDir(), "chain.pem")
		r := pgprobe(t, nil, "--save-chain", file, base+" sslmode=verify-full sslrootcert="+wrongCA)
		mustCode(t, r, statelog.ExitNoAnswer)
		chain := readChain(t, file)
		if len(chain) < 2 || !bytes.Equal(chain[0].Raw, pemDER(t, leaf)) || !bytes.Equal(chain[1].Raw, inter.Cert.Raw) {
			t.Fatalf("%s holds %d certificates, want the leaf then the intermediate", file, len(chain))
		}
		sameChain(t, chain, opensslChain(t, c.Port))
	})

	t.Run("no TLS, no file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "chain.pem")
		r := pgprobe(t, nil, "--save-chain", file, base+" sslmode=disable")
		mustCode(t, r, statelog.ExitOK)
		if _, err := os.Stat(file); err == nil {
			t.Errorf("%s was written though no server sent a certificate", file)
		}
		if !strings.Contains(r.stderr, "no server sent a certificate") {
			t.Errorf("stderr does not say why the file is missing: %q", r.stderr)
		}
	})
}

func TestSaveChainUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"two targets", []string{"--save-chain", dir + "/c.pem", "host=a", "host=b"}, "give one target"},
		{"with --ping", []string{"--save-chain", dir + "/c.pem", "--ping", "host=a"}, "without --ping"},
		{"no such directory", []string{"--save-chain", dir + "/nope/c.pem", "host=a"}, "does not exist"},
		{"empty name", []string{"--save-chain=", "host=a"}, "needs a file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pgprobe(t, nil, tc.args...)
			mustCode(t, r, statelog.ExitNoAttempt)
			if !strings.Contains(r.stderr, "--save-chain") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q, want --save-chain and %q", r.stderr, tc.want)
			}
		})
	}
}

// opensslChain is what openssl s_client -showcerts shows PostgreSQL sending.
func opensslChain(t *testing.T, port int) []*x509.Certificate {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is missing: run scripts/test.sh, which installs it")
	}
	cmd := exec.Command("openssl", "s_client", "-starttls", "postgres", "-showcerts", "-connect", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	return parseChain(t, "openssl s_client's output", out)
}

func sameChain(t *testing.T, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("--save-chain wrote %d certificates, openssl s_client -showcerts shows %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Errorf("certificate %d: --save-chain wrote %q, openssl shows %q", i, got[i].Subject, want[i].Subject)
		}
	}
}

// readChain parses every certificate of a PEM file.
func readChain(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("--save-chain did not write the file: %v", err)
	}
	return parseChain(t, file, data)
}

func parseChain(t *testing.T, what string, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("%s: a %q block", what, b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, cert)
	}
	return out
}

func pemDER(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}
