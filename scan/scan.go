// Package scan looks at what a PostgreSQL server accepts — encryption,
// TLS versions, cipher suites, key-exchange groups, the certificate,
// direct TLS, GSSAPI encryption, protocol 3.2, and each user's
// authentication method with and without TLS — and grades it as findings.
// It never sends a password and writes nothing to the server: the users'
// authentication is read from the server's first request (probe's ping),
// and every connection ends as libpq ends one it gives up during startup.
package scan

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// DefaultConcurrency is how many connections a scan opens at once unless
// told otherwise: enough for seconds on a LAN, few enough for a server's
// max_connections and its log.
const DefaultConcurrency = 4

// DefaultTimeout bounds each connection of a scan.
const DefaultTimeout = 10 * time.Second

// Options is one scan.
type Options struct {
	Input conninfo.Input
	// Display names the target when Input.Target is empty; no password.
	Display string
	// Users whose authentication to look at; none means the target's user.
	Users []string
	// FailOn is the lowest severity that makes the exit code 4 (default high).
	FailOn string
	// Timeout bounds each connection (0: DefaultTimeout).
	Timeout time.Duration
	// Concurrency is how many connections at once (0: DefaultConcurrency).
	Concurrency int
	// Now is the clock for the certificate's days left (nil: time.Now).
	Now func() time.Time
}

// scanner holds one scan's state.
type scanner struct {
	opts   Options
	t      *target
	d      *dialer
	noRoot string
	conns  atomic.Int64
	sem    chan struct{}
}

func (s *scanner) count() { s.conns.Add(1) }

// Run scans the target. Settings that do not resolve, or that name no
// single TCP server, give a document with a usage error (exit 3); a
// server that cannot be reached, exit 2.
func Run(ctx context.Context, o Options) *statelog.Scan {
	began := time.Now()
	doc := &statelog.Scan{Schema: statelog.ScanSchema, Target: conninfo.Redact(o.Input.Target), Auth: []statelog.ScanAuth{},
		Findings: []statelog.ScanFinding{}, ProtocolVersions: map[string]bool{}, SSLRequestInjection: "unknown"}
	if doc.Target == "" {
		doc.Target = o.Display
	}
	defer func() { doc.DurationMS = float64(time.Since(began).Microseconds()) / 1000 }()
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.FailOn == "" {
		o.FailOn = statelog.SeverityHigh
	}
	t, err := resolve(o.Input)
	if err != nil {
		doc.Error, doc.ExitCode = &statelog.Error{Class: statelog.ClassUsage, Message: err.Error()}, statelog.ExitNoAttempt
		return doc
	}
	if len(o.Users) == 0 {
		o.Users = []string{t.user}
	}
	doc.Address = t.addr
	dir, err := os.MkdirTemp("", "pgprobe-scan-")
	if err != nil {
		doc.Error, doc.ExitCode = &statelog.Error{Class: statelog.ClassUsage, Message: err.Error()}, statelog.ExitNoAttempt
		return doc
	}
	defer os.RemoveAll(dir)
	s := &scanner{opts: o, t: t, noRoot: filepath.Join(dir, "no-root.crt"), sem: make(chan struct{}, o.Concurrency)}
	s.d = &dialer{addr: t.addr, timeout: o.Timeout, count: s.count}
	defer func() { doc.Connections = int(s.conns.Load()) }()

	answer, err := s.d.sslAnswer(ctx)
	if err != nil {
		doc.Error = &statelog.Error{Class: statelog.ClassConnect, Message: "could not reach the server at " + t.addr + ": " + err.Error()}
		doc.ExitCode = statelog.ExitNoAnswer
		return doc
	}
	doc.SSL = answer == 'S'
	res := s.collect(ctx, doc)
	doc.Findings = grade(doc, res)
	doc.ExitCode = statelog.ExitOK
	for _, f := range doc.Findings {
		if statelog.SeverityRank(f.Severity) >= statelog.SeverityRank(o.FailOn) {
			doc.ExitCode = statelog.ExitCheck
		}
	}
	doc.OK = doc.ExitCode == statelog.ExitOK
	return doc
}

// results are what the tries saw beyond the document's own fields.
type results struct {
	suites map[uint16]bool // TLS 1.2 (or older) suites accepted
	leaf   *tls.ConnectionState
	now    time.Time
}

// group runs fns with the scan's bound on connections at once.
func (s *scanner) group(fns ...func()) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.sem <- struct{}{}
			defer func() { <-s.sem }()
			fn()
		}()
	}
	wg.Wait()
}

// collect runs the tries in two rounds: what needs nothing else known,
// then what depends on it (the suites at the newest version below 1.3,
// the groups and HelloRetryRequest at the newest version, the server
// version through a trusted user).
func (s *scanner) collect(ctx context.Context, doc *statelog.Scan) *results {
	res := &results{suites: map[uint16]bool{}, now: s.now()}
	var mu sync.Mutex
	doc.TLS.Versions = map[string]bool{}
	for _, v := range tlsVersions {
		doc.TLS.Versions[v.name] = false
	}
	doc.TLS.Groups = map[string]bool{}
	for _, g := range groups {
		doc.TLS.Groups[g.name] = false
	}
	doc.TLS.CipherSuites = []string{}
	states := make([]*tls.ConnectionState, len(tlsVersions))
	tries := make([][2]authTry, len(s.opts.Users))
	var first []func()
	if doc.SSL {
		for i, v := range tlsVersions {
			first = append(first, func() {
				if cs, err := s.d.handshake(ctx, s.t.versionConfig(v.id), false); err == nil {
					states[i] = &cs
				}
			})
		}
		first = append(first, func() {
			cs, err := s.d.handshake(ctx, s.t.baseConfig(), true)
			mu.Lock()
			doc.DirectTLS = err == nil && cs.NegotiatedProtocol == "postgresql"
			mu.Unlock()
		}, func() {
			r, detail := s.d.injection(ctx, s.t.wideConfig(), s.t.user, s.t.dbname)
			mu.Lock()
			doc.SSLRequestInjection, doc.SSLRequestInjectionDetail = r, detail
			mu.Unlock()
		})
	}
	first = append(first, func() {
		a, detail := s.d.gssAnswer(ctx)
		mu.Lock()
		doc.GSSEnc, doc.GSSEncDetail = a, detail
		mu.Unlock()
	})
	for i, u := range s.opts.Users {
		first = append(first, func() { tries[i][1] = s.authPing(ctx, u, encPlaintext) })
		if doc.SSL {
			first = append(first, func() { tries[i][0] = s.authPing(ctx, u, encSSL) })
		}
	}
	s.group(first...)

	for i, v := range tlsVersions {
		doc.TLS.Versions[v.name] = states[i] != nil
	}
	s.readAuth(doc, tries)
	s.group(s.second(ctx, doc, res, states, &mu)...)
	for _, sc := range allSuites() {
		if res.suites[sc.ID] {
			doc.TLS.CipherSuites = append(doc.TLS.CipherSuites, sc.Name)
		}
	}
	if st := states[3]; st != nil {
		doc.TLS.CipherSuites = append(doc.TLS.CipherSuites, tls.CipherSuiteName(st.CipherSuite))
	}
	return res
}

// readAuth puts the users' tries into the document.
func (s *scanner) readAuth(doc *statelog.Scan, tries [][2]authTry) {
	for _, pair := range tries {
		for _, tr := range pair {
			if tr.auth.User == "" {
				continue
			}
			doc.Auth = append(doc.Auth, tr.auth)
			if tr.auth.Encryption == encPlaintext && tr.auth.Method != "" {
				doc.Plaintext = true
			}
			if tr.answered {
				doc.ProtocolVersions["3.0"] = true
			}
			if tr.protocol == "3.2" {
				doc.ProtocolVersions["3.2"] = true
			}
		}
	}
	for _, v := range []string{"3.0", "3.2"} {
		if _, ok := doc.ProtocolVersions[v]; !ok {
			doc.ProtocolVersions[v] = false
		}
	}
}

// second is the second round's tries.
func (s *scanner) second(ctx context.Context, doc *statelog.Scan, res *results, states []*tls.ConnectionState, mu *sync.Mutex) []func() {
	var fns []func()
	newest, below13 := -1, -1
	for i, st := range states {
		if st != nil {
			newest = i
			if tlsVersions[i].id < tls.VersionTLS13 {
				below13 = i
			}
		}
	}
	if newest >= 0 {
		res.leaf = states[newest]
		fns = append(fns, func() { s.certificate(ctx, doc, res.leaf) })
		v := tlsVersions[newest].id
		for _, g := range groups {
			if v < tls.VersionTLS13 && g.id == tls.X25519MLKEM768 {
				continue
			}
			fns = append(fns, func() {
				_, err := s.d.handshake(ctx, s.t.groupConfig(v, g.id), false)
				mu.Lock()
				doc.TLS.Groups[g.name] = err == nil
				mu.Unlock()
			})
		}
		if v == tls.VersionTLS13 {
			fns = append(fns, func() {
				cs, err := s.d.handshake(ctx, s.t.helloRetryConfig(), false)
				mu.Lock()
				doc.TLS.HelloRetry = err == nil && cs.HelloRetryRequest
				mu.Unlock()
			})
		}
	}
	if below13 >= 0 {
		v := tlsVersions[below13].id
		for _, id := range suitesFor(v, nil) {
			fns = append(fns, func() {
				_, err := s.d.handshake(ctx, s.t.suiteConfig(v, id), false)
				mu.Lock()
				res.suites[id] = err == nil
				mu.Unlock()
			})
		}
	}
	for _, a := range doc.Auth {
		if a.Method == "trust" {
			fns = append(fns, func() {
				if v := s.serverVersion(ctx, a.User, a.Encryption); v != "" {
					mu.Lock()
					doc.Server = &statelog.ScanServer{Version: v}
					mu.Unlock()
				}
			})
			break
		}
	}
	return fns
}
