package run

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/server"
	"github.com/pgprobe/pgprobe/statelog"
)

// Demo starts pgprobe's own server on a free loopback port (SSL on, a
// certificate made at start, SCRAM-SHA-256 with a generated password) and
// probes it as libpq would with sslmode=require. It reads no PG* variable
// and nothing in the user's home directory, so it behaves the same
// everywhere. It returns the probe's record and what the server saw (nil
// when the server's record did not come within 5 s); events, when not nil,
// receives the probe's events as they happen. An error means the demo
// could not start.
func Demo(ctx context.Context, events statelog.Sink) (*statelog.Log, *statelog.Session, error) {
	var pwb [18]byte
	if _, err := rand.Read(pwb[:]); err != nil {
		return nil, nil, fmt.Errorf("making a password: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(pwb[:])
	sessions := make(chan *statelog.Session, 4)
	srv, err := server.New(server.Config{SSL: true, CertificateHosts: []string{"localhost", "127.0.0.1", "::1"},
		Auth: server.AuthSCRAMSHA256, Password: password, Then: server.ThenOK, Timeout: 30 * time.Second,
		OnSession: func(s *statelog.Session) {
			select {
			case sessions <- s:
			default:
			}
		}})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listening on loopback: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	home, err := os.MkdirTemp("", "pgprobe-demo-")
	if err != nil {
		return nil, nil, fmt.Errorf("making a scratch home directory: %w", err)
	}
	defer os.RemoveAll(home)

	req := demoRequest(ln.Addr().(*net.TCPAddr).Port, password, home)
	req.Sink = events
	l := One(ctx, req, Options{})
	var seen *statelog.Session
	select {
	case seen = <-sessions:
	case <-time.After(5 * time.Second):
	}
	return l, seen, nil
}

// demoRequest is libpq's sslmode=require to the demo server with its
// password, in a scratch home directory.
func demoRequest(port int, password, home string) probe.Request {
	target := fmt.Sprintf("host=localhost hostaddr=127.0.0.1 port=%d user=demo dbname=demo sslmode=require", port)
	return probe.Request{
		Input: conninfo.Input{Target: target, HomeDir: home, OSUser: "demo",
			Flags: map[string]string{"password": password}, FlagOrigin: map[string]string{"password": "pgprobe demo"},
			Getenv: func(string) (string, bool) { return "", false }},
		Timeout: 30 * time.Second,
	}
}
