//go:build unix

package pgtest

import (
	"strings"
	"testing"
)

// Each state turns connections away with the message PostgreSQL 15 sends
// for it, as psql and pg_isready see them.
func TestRefusalStates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		enter func(t *testing.T, c *Cluster)
		want  []string // in psql's error
	}{
		{"starting up", func(t *testing.T, c *Cluster) { c.RestartRefusing(t, StartingUp) },
			[]string{"the database system is starting up"}},
		{"hot standby off", func(t *testing.T, c *Cluster) { c.RestartRefusing(t, HotStandbyOff) },
			[]string{"the database system is not accepting connections", "Hot standby mode is disabled."}},
		{"smart shutdown", func(t *testing.T, c *Cluster) {
			RunPsqlBackground(t, c.ConnString("user=postgres", "dbname=postgres", "password="+c.SuperPassword), "select pg_sleep(60)")
			c.WaitSessions(t, 1)
			c.BeginSmartShutdown(t)
		}, []string{"the database system is shutting down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Start(t, Options{})
			target := c.ConnString("user=postgres", "dbname=postgres", "password="+c.SuperPassword)
			if _, code := RunPsql(t, target, ""); code != 0 {
				t.Fatalf("psql could not connect before the state was entered")
			}
			tc.enter(t, c)
			out, code := RunPsql(t, target, "")
			if code == 0 {
				t.Fatalf("psql connected: %s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("psql said %q, want %q", out, w)
				}
			}
			if _, code := RunPgIsready(t, []string{"-d", target}); code != 1 {
				t.Errorf("pg_isready exit %d, want 1 (rejecting connections)", code)
			}
			// The state lasts: a second look a moment later sees the same.
			if out2, _ := RunPsql(t, target, ""); out2 != out {
				t.Errorf("the state changed: first %q, then %q", out, out2)
			}
		})
	}
}
