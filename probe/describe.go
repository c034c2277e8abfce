package probe

import (
	"crypto/x509"
	"time"

	"github.com/pgprobe/pgprobe/statelog"
)

// DescribeChain records a certificate chain as a probe records the
// server's (subject, SANs, key type and size, days left at now, …), for
// callers that made the handshake themselves (pgprobe scan).
func DescribeChain(chain []*x509.Certificate, now time.Time) []statelog.Cert {
	return describeChain(chain, now)
}
