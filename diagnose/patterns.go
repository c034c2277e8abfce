package diagnose

import (
	"regexp"
	"sync"
)

// patterns are the texts of libpq's and the server's messages that the
// advice takes apart.
type patterns struct {
	// prefix is libpq's "connection to server … failed: " before a message.
	prefix *regexp.Regexp
	// hba and reject are ClientAuthentication's 28000 messages
	// (src/backend/libpq/auth.c).
	hba, reject *regexp.Regexp
	quoted      *regexp.Regexp
	// tlsRange is the client's range of TLS versions in the note libpq (and
	// pgprobe) adds to a protocol-version failure: "… does not support any
	// SSL protocol version between TLSv1.2 and TLSv1.3."
	tlsRange *regexp.Regexp
}

// re compiles the patterns on first use rather than at package init: a
// probe that succeeds never needs them, and pgprobe's start-up time counts.
var re = sync.OnceValue(func() *patterns {
	return &patterns{
		prefix:   regexp.MustCompile(`^connection to server (?:on socket "([^"]*)"|at "([^"]*)"(?: \(([^)]*)\))?, port (\d+)) failed: `),
		hba:      regexp.MustCompile(`no pg_hba\.conf entry for (replication connection from )?host "([^"]*)", user "([^"]*)", (?:database "([^"]*)", )?(SSL encryption|GSS encryption|no encryption|SSL on|SSL off)`),
		reject:   regexp.MustCompile(`pg_hba\.conf rejects (?:replication )?connection for host "([^"]*)", user "([^"]*)"`),
		quoted:   regexp.MustCompile(`"([^"]*)"`),
		tlsRange: regexp.MustCompile(`between (TLSv[0-9.]*[0-9]) and (TLSv[0-9.]*[0-9])`),
	}
})
