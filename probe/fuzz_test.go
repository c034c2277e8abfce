//go:build unix

package probe

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// FuzzBackendMessages feeds arbitrary bytes to the probe as everything a
// server says after the client's first packet. The machine must end, with a
// classified error or a success, well within its deadline and without
// panicking. The first byte chooses the sslmode (so the bytes answer either
// SSLRequest or the StartupMessage); the rest is the server's stream.
func FuzzBackendMessages(f *testing.F) {
	seeds := [][]byte{
		{0},
		[]byte("\x00R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I"),
		[]byte("\x00R\x00\x00\x00\x08\x00\x00\x00\x00S\x00\x00\x00\x18server_version\x0017\x00K\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x02Z\x00\x00\x00\x05I"),
		[]byte("\x00R\x00\x00\x00\x17\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"),
		[]byte("\x00R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"),
		[]byte("\x00R\x00\x00\x00\x08\x00\x00\x00\x03"),
		[]byte("\x00E\x00\x00\x00\x1cSFATAL\x00C28P01\x00Mno\x00\x00"),
		[]byte("\x00E\x7f\xff\xff\xffFATAL: too many connections\x00"),
		[]byte("\x00v\x00\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00"),
		[]byte("\x00R\x7f\xff\xff\xff"),
		[]byte("\x00R\x00\x00\x00\x03"),
		[]byte("\x00SSH-2.0-OpenSSH_9.2\r\n"),
		[]byte("\x01N"),
		[]byte("\x01S\x16\x03\x03\x00\x02\x02\x28"),
		[]byte("\x01EFATAL:  please visit http://evil.example/\x00"),
		[]byte("\x01HTTP/1.1 400 Bad Request\r\n\r\n"),
		[]byte("\x01NR\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05T"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		sslmode := "disable"
		if data[0]&1 == 1 {
			sslmode = "prefer"
		}
		stream := data[1:]
		var wg sync.WaitGroup
		var peers []net.Conn
		var mu sync.Mutex
		dial := func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			mu.Lock()
			peers = append(peers, server)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(io.Discard, server) }()
			go func() {
				defer wg.Done()
				server.Write(stream)
				server.Close()
			}()
			return client, nil
		}
		target := "host=127.0.0.1 port=5432 user=u password=p connect_timeout=2 sslmode=" + sslmode
		start := time.Now()
		l := Run(context.Background(), Config{Settings: settings(t, target), Target: target, Timeout: 2 * time.Second,
			HomeDir: t.TempDir(), Getenv: noEnv, Dial: dial})
		mu.Lock()
		for _, p := range peers {
			p.Close()
		}
		mu.Unlock()
		wg.Wait()
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("took %s with a 2s deadline", d)
		}
		if !l.OK && (l.Error == nil || l.Error.Class == "" || l.Error.Class == statelog.ClassUsage) {
			t.Fatalf("unclassified failure %+v", l.Error)
		}
	})
}

// FuzzVerifyPeerName checks libpq's name rules on arbitrary names: no
// panic, an exact (case-insensitive) name always matches, an empty host
// never does, and a wildcard stands for exactly one non-empty left-most
// label.
func FuzzVerifyPeerName(f *testing.F) {
	f.Add("db.example.com", []byte{127, 0, 0, 1}, "db.example.com", "db.example.com", []byte(nil))
	f.Add("*.example.com", []byte(nil), "", "a.example.com", []byte(nil))
	f.Add("*.example.com", []byte(nil), "", "a.b.example.com", []byte(nil))
	f.Add("*.example.com", []byte(nil), "", ".example.com", []byte(nil))
	f.Add("", []byte{127, 0, 0, 1}, "", "127.0.0.1", []byte(nil))
	f.Add("", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "", "::1", []byte(nil))
	f.Add("", []byte{1, 2, 3}, "", "1.2.3", []byte(nil))
	f.Add("", []byte(nil), "localhost", "LOCALHOST", []byte(nil))
	f.Add("", []byte(nil), "evil\x00.example.com", "evil", []byte(nil))
	f.Add("a\x00b", []byte(nil), "", "a", []byte(nil))
	f.Add("", []byte(nil), "0x7f.1", "127.0.0.1", []byte(nil))
	f.Add("", []byte(nil), "", "", []byte("\x30\x03\x82\x01a"))
	f.Add("", []byte(nil), "", "x", []byte("\x30\x80\x82\x01"))
	f.Fuzz(func(t *testing.T, dns string, ip []byte, cn, host string, rawSAN []byte) {
		cert := &x509.Certificate{}
		if cn != "" {
			cert.Subject.Names = []pkix.AttributeTypeAndValue{{Type: oidCommonName, Value: cn}}
		}
		var entries []asn1.RawValue
		if dns != "" {
			entries = append(entries, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(dns)})
		}
		if ip != nil {
			entries = append(entries, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip})
		}
		switch {
		case len(rawSAN) > 0:
			cert.Extensions = []pkix.Extension{{Id: oidSubjectAltName, Value: rawSAN}}
		case len(entries) > 0:
			v, err := asn1.Marshal(entries)
			if err != nil {
				return
			}
			cert.Extensions = []pkix.Extension{{Id: oidSubjectAltName, Value: v}}
		}
		err := VerifyPeerName(cert, host)
		if host == "" && err == nil {
			t.Fatalf("an empty host matched")
		}
		if len(rawSAN) == 0 && dns != "" && host != "" && !strings.Contains(dns, "\x00") && strings.EqualFold(dns, host) && err != nil {
			t.Fatalf("dNSName %q does not match host %q: %v", dns, host, err)
		}
		if wildcardMatch(dns, host) {
			// libpq's rule 3 (wildcard_certificate_match): no dot left of
			// where the pattern's "*" stands in the host. The character the
			// "*" stands on may itself be a dot ("*.0" matches "..0" in libpq
			// too), so only the characters before it are checked.
			suffix := dns[1:]
			prefix := host[:len(host)-len(suffix)]
			if !strings.EqualFold(host[len(prefix):], suffix) || prefix == "" || strings.Contains(prefix[:len(prefix)-1], ".") {
				t.Fatalf("wildcard %q matched %q beyond one left-most label", dns, host)
			}
		}
	})
}
