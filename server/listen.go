package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Listen listens on the TCP address addr and, when dir is not empty, on
// the Unix socket dir/.s.PGSQL.PORT (PORT: the TCP listener's), as the
// postmaster does.
func Listen(addr, dir string) ([]net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return []net.Listener{ln}, nil
	}
	uln, err := listenUnix(filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		ln.Close()
		return nil, err
	}
	return []net.Listener{ln, uln}, nil
}

// listenUnix listens on a socket path, replacing a stale socket file (one
// nobody accepts on) as the postmaster does with its lock file.
func listenUnix(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err == nil {
		return ln, nil
	}
	if _, statErr := os.Stat(path); statErr != nil {
		return nil, err
	}
	if c, dialErr := net.DialTimeout("unix", path, time.Second); dialErr == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another server is listening there", path)
	}
	if rmErr := os.Remove(path); rmErr != nil {
		return nil, err
	}
	return net.Listen("unix", path)
}

// Describe says in one line where s listens (lns) and what it answers:
// SSL and its certificate, direct TLS, the authentication it asks for and
// what follows it.
func (s *Server) Describe(lns []net.Listener) string {
	var where []string
	for _, l := range lns {
		where = append(where, l.Addr().String())
	}
	ssl := "SSL off"
	if s.cfg.SSL {
		ssl = "SSL on"
		if cert := s.leaf; cert != nil {
			sum := sha256.Sum256(cert.Raw)
			names := append([]string{}, cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				names = append(names, ip.String())
			}
			kind := "certificate " + cert.Subject.CommonName
			if s.cfg.CertificateHosts != nil {
				kind = "self-signed certificate"
			}
			ssl += fmt.Sprintf(" (%s for %s, sha256 %s)", kind, strings.Join(names, ", "), hex.EncodeToString(sum[:8]))
		}
		if s.cfg.DirectSSL {
			ssl += ", direct TLS accepted"
		}
	}
	return fmt.Sprintf("listening on %s; %s; auth %s; then %s", strings.Join(where, " and "), ssl, s.cfg.Auth, s.cfg.Then)
}
