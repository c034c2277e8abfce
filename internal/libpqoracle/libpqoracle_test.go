//go:build linux

package libpqoracle_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/libpqoracle"
	"github.com/pgprobe/pgprobe/internal/pgtest"
)

// TestOracle connects to a PostgreSQL 18 server with the libpq of every
// version the tests have, and checks that what they report is libpq's.
func TestOracle(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{
		Version: 18,
		SSL:     true,
		Roles:   []pgtest.Role{{Name: "scramuser", Password: "scram-pw"}},
		HBA:     []string{"host all scramuser 127.0.0.1/32 scram-sha-256"},
	})
	good := c.ConnString("dbname=postgres", "user=scramuser", "password=scram-pw", "sslmode=require")
	for _, v := range append([]int{pgtest.DefaultVersion}, pgtest.CachedVersions...) {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			t.Parallel()
			r := libpqoracle.Connect(t, v, good)
			if !r.OK || r.Status != "CONNECTION_OK" || r.Error != "" || r.LibVersion/10000 != v {
				t.Fatalf("libpq %d: %+v", v, r)
			}
			alpn := ""
			if v >= 17 {
				alpn = "postgresql"
			}
			if !r.SSLInUse || r.SSLProtocol != "TLSv1.3" || r.SSLALPN != alpn || !r.UsedPassword ||
				r.ProtocolVersion != 3 || !strings.HasPrefix(r.ServerVersion, "18.") {
				t.Errorf("libpq %d: %+v", v, r)
			}
			if p := libpqoracle.Ping(t, v, good); p != libpqoracle.PingOK {
				t.Errorf("libpq %d: PQping = %d, want PQPING_OK", v, p)
			}
			r = libpqoracle.Connect(t, v, c.ConnString("dbname=postgres", "user=scramuser", "password=wrong"))
			want := `FATAL:  password authentication failed for user "scramuser"`
			if r.OK || r.Message() != want || !strings.HasPrefix(r.Error, fmt.Sprintf(`connection to server at "127.0.0.1", port %d failed: `, c.Port)) {
				t.Errorf("libpq %d, wrong password: Message() %q, want %q; Error %q", v, r.Message(), want, r.Error)
			}
		})
	}
	t.Run("protocol 3.2", func(t *testing.T) {
		t.Parallel()
		if r := libpqoracle.Connect(t, 18, good+" max_protocol_version=3.2"); !r.OK || r.FullProtocolVersion != 30002 {
			t.Errorf("libpq 18, max_protocol_version=3.2: %+v", r)
		}
		if r := libpqoracle.Connect(t, 18, good); !r.OK || r.FullProtocolVersion != 30000 {
			t.Errorf("libpq 18, default: %+v", r)
		}
	})
	t.Run("no attempt", func(t *testing.T) {
		t.Parallel()
		if p := libpqoracle.Ping(t, 18, "sslmode=bogus"); p != libpqoracle.PingNoAttempt {
			t.Errorf("PQping of a bad connection string = %d, want PQPING_NO_ATTEMPT", p)
		}
	})
}
