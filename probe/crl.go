package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// Certificate revocation, as libpq asks OpenSSL for it: when a root store
// was loaded from a file, the CRLs of sslcrl (a file) and sslcrldir (a
// directory), or else ~/.postgresql/root.crl, are loaded; if any loads,
// every certificate of the chain below the root must be covered by a valid
// CRL from its issuer (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL).
// A missing or unreadable CRL is silently ignored, as in libpq.
// crypto/x509 does not check revocation, so it is done here.

func (m *Machine) loadCRLs() []*x509.RevocationList {
	s := m.settings
	file, dir := s.Get("sslcrl"), s.Get("sslcrldir")
	if file == "" && dir == "" && m.cfg.HomeDir != "" {
		file = filepath.Join(m.cfg.HomeDir, conninfo.UserTLSDir, "root.crl")
	}
	var out []*x509.RevocationList
	if file != "" {
		if data, err := os.ReadFile(file); err == nil {
			out = append(out, parseCRLs(data)...)
		}
	}
	if dir != "" {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Type().IsRegular() {
				if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					out = append(out, parseCRLs(data)...)
				}
			}
		}
	}
	return out
}

func parseCRLs(data []byte) []*x509.RevocationList {
	var out []*x509.RevocationList
	for _, der := range pemBlocks(data, "X509 CRL") {
		if crl, err := x509.ParseRevocationList(der); err == nil {
			out = append(out, crl)
		}
	}
	if len(out) == 0 {
		if crl, err := x509.ParseRevocationList(data); err == nil {
			out = append(out, crl)
		}
	}
	return out
}

// checkRevocation applies the CRLs to a verified chain (leaf first, root
// last), with OpenSSL's verify error strings.
func checkRevocation(chain []*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		var found *x509.RevocationList
		for _, crl := range crls {
			if crl.CheckSignatureFrom(issuer) == nil {
				found = crl
				break
			}
		}
		if found == nil {
			return fmt.Errorf("unable to get certificate CRL (no CRL from %s)", issuer.Subject)
		}
		if !found.NextUpdate.IsZero() && now.After(found.NextUpdate) {
			return fmt.Errorf("CRL has expired (the CRL of %s was valid until %s)", issuer.Subject, found.NextUpdate.UTC().Format(time.RFC3339))
		}
		if now.Before(found.ThisUpdate) {
			return errors.New("CRL is not yet valid")
		}
		for _, r := range found.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return fmt.Errorf("certificate revoked (%s, serial %s, revoked %s)", cert.Subject, cert.SerialNumber, r.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
