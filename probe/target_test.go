//go:build unix

package probe

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// oldServer is a scripted PostgreSQL 13 (or a pooler): it reports neither
// in_hot_standby nor default_transaction_read_only, so the probe must ask.
// answer maps a query to its one-column value; "" answers with an error.
func oldServer(t *testing.T, answer map[string]string, queries chan<- string) int {
	return peer(t, func(c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "13.4"})
		be.Send(&pgproto3.BackendKeyData{ProcessID: 42, SecretKey: []byte{1, 2, 3, 4}})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		if be.Flush() != nil {
			return
		}
		for {
			msg, err := be.Receive()
			if err != nil {
				return
			}
			q, ok := msg.(*pgproto3.Query)
			if !ok {
				return // Terminate
			}
			queries <- q.String
			if v := answer[q.String]; v != "" {
				be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x"), DataTypeOID: 25, Format: 0}}})
				be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(v)}})
				be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SHOW")})
			} else {
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "42883", Message: "function does not exist"})
			}
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		}
	})
}

func resolveFor(t *testing.T, conn string) *conninfo.Settings {
	t.Helper()
	s, err := conninfo.Resolve(conninfo.Input{Target: conn, Getenv: func(string) (string, bool) { return "", false }, HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runTarget(t *testing.T, conn string) *statelog.Log {
	t.Helper()
	s := resolveFor(t, conn)
	return Run(context.Background(), Config{Settings: s, Target: conn, HomeDir: t.TempDir(), Getenv: func(string) (string, bool) { return "", false }})
}

func TestTargetSessionAttrsQueries(t *testing.T) {
	for _, tc := range []struct {
		attrs, readOnly, recovery string
		wantQuery                 string
		wantErr                   string
		wantRole                  string
	}{
		{attrs: "read-write", readOnly: "off", wantQuery: queryWritable},
		{attrs: "read-write", readOnly: "on", wantQuery: queryWritable, wantErr: "session is read-only"},
		{attrs: "read-only", readOnly: "on", wantQuery: queryWritable},
		{attrs: "read-only", readOnly: "off", wantQuery: queryWritable, wantErr: "session is not read-only"},
		{attrs: "read-write", readOnly: "", wantQuery: queryWritable, wantErr: `"SHOW transaction_read_only" failed`},
		{attrs: "primary", recovery: "f", wantQuery: queryStandby, wantRole: "primary"},
		{attrs: "primary", recovery: "t", wantQuery: queryStandby, wantErr: "server is in hot standby mode", wantRole: "standby"},
		{attrs: "standby", recovery: "t", wantQuery: queryStandby, wantRole: "standby"},
		{attrs: "standby", recovery: "f", wantQuery: queryStandby, wantErr: "server is not in hot standby mode", wantRole: "primary"},
		{attrs: "standby", recovery: "", wantQuery: queryStandby, wantErr: `"SELECT pg_is_in_recovery()" failed`},
		{attrs: "any"},
	} {
		t.Run(fmt.Sprintf("%s/%s%s", tc.attrs, tc.readOnly, tc.recovery), func(t *testing.T) {
			queries := make(chan string, 10)
			port := oldServer(t, map[string]string{queryWritable: tc.readOnly, queryStandby: tc.recovery}, queries)
			l := runTarget(t, fmt.Sprintf("host=127.0.0.1 port=%d sslmode=disable user=u target_session_attrs=%s", port, tc.attrs))
			close(queries)
			var got []string
			for q := range queries {
				got = append(got, q)
			}
			if tc.wantQuery == "" && len(got) != 0 || tc.wantQuery != "" && (len(got) != 1 || got[0] != tc.wantQuery) {
				t.Fatalf("queries %q, want %q", got, tc.wantQuery)
			}
			if tc.wantErr == "" {
				if !l.OK {
					t.Fatalf("failed: %+v", l.Error)
				}
			} else {
				if l.OK || l.Error == nil || !strings.HasSuffix(l.Error.Message, tc.wantErr) || l.ExitCode != 1 {
					t.Fatalf("error %+v exit %d, want %q", l.Error, l.ExitCode, tc.wantErr)
				}
				if strings.Contains(tc.wantErr, "mode") || strings.Contains(tc.wantErr, "read-only") {
					if l.Error.Class != statelog.ClassTarget {
						t.Fatalf("class %q", l.Error.Class)
					}
				}
			}
			a := l.Attempts[len(l.Attempts)-1]
			if a.Role != tc.wantRole {
				t.Fatalf("role %q, want %q", a.Role, tc.wantRole)
			}
			var states []string
			for _, ev := range a.Events {
				states = append(states, ev.State+"/"+ev.Step)
			}
			trail := strings.Join(states, " ")
			if tc.wantQuery != "" {
				st := "CONNECTION_CHECK_WRITABLE"
				if tc.wantQuery == queryStandby {
					st = "CONNECTION_CHECK_STANDBY"
				}
				for _, want := range []string{"CONNECTION_CHECK_TARGET/query", st + "/query_result"} {
					if !strings.Contains(trail, want) {
						t.Fatalf("no %s in %s", want, trail)
					}
				}
				if tc.wantErr == "" || strings.Contains(tc.wantErr, "mode") || strings.Contains(tc.wantErr, "read-only") {
					if !strings.Contains(trail, "CONNECTION_CONSUME/ready_for_query CONNECTION_CHECK_TARGET/check_target") {
						t.Fatalf("no CONSUME then CHECK_TARGET in %s", trail)
					}
				}
			}
		})
	}
}

// A mismatch moves to the next host, not to the host's next address.
func TestTargetMismatchSkipsAddresses(t *testing.T) {
	queries := make(chan string, 10)
	port := oldServer(t, map[string]string{queryWritable: "on"}, queries)
	// localhost may resolve to ::1 and 127.0.0.1; hostaddr keeps it to one
	// address, so list the same host twice with two names instead.
	l := runTarget(t, fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d sslmode=disable user=u target_session_attrs=read-write", port, port))
	if l.OK || len(l.Attempts) != 2 || l.Error.Class != statelog.ClassTarget {
		t.Fatalf("ok=%v attempts=%d error=%+v", l.OK, len(l.Attempts), l.Error)
	}
	if !strings.Contains(l.Error.Detail, "target_session_attrs=read-write") {
		t.Fatalf("final error does not name the wanted attrs: %+v", l.Error)
	}
}

func TestServerVersionNum(t *testing.T) {
	for in, want := range map[string]int{"15.4": 150004, "9.6.24": 90624, "13beta1": 130000, "8.4.1": 80401, "": 0, "16": 160000, "10.1 (Debian)": 100001} {
		if got := serverVersionNum(in); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}
