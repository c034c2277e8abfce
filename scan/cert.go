package scan

import (
	"context"
	"crypto/tls"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// certificate judges the chain the newest TLS version showed: described
// as a probe describes it, verified as libpq's verify-ca does, the name
// checked as verify-full does.
func (s *scanner) certificate(ctx context.Context, doc *statelog.Scan, cs *tls.ConnectionState) {
	if len(cs.PeerCertificates) == 0 {
		return
	}
	leaf := cs.PeerCertificates[0]
	chain := probe.DescribeChain(cs.PeerCertificates, s.now())
	c := &statelog.ScanCertificate{Chain: chain, KeyType: chain[0].KeyType, KeyBits: chain[0].KeyBits,
		SignatureAlgorithm: chain[0].SignatureAlgorithm, DaysLeft: chain[0].DaysLeft, Host: s.t.host}
	c.Verified, c.VerifiedWith, c.VerifyError = s.verifyChain(ctx, cs.PeerCertificates)
	if err := probe.VerifyPeerName(leaf, s.t.host); err != nil {
		c.NameError = err.Error()
	} else {
		c.HostnameMatch = true
	}
	doc.TLS.Certificate = c
}
