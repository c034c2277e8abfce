//go:build !urfave_cli_no_docs

package main

// The man page is generated here, in a test, and not by the binary: urfave/cli's
// App.ToMan (its docs.go) links go-md2man and blackfriday, which the shipped
// build leaves out with -tags urfave_cli_no_docs (see the README's build line
// and TestBinaryModules). scripts/gendocs.sh runs TestGeneratedDocs with
// -update; go test builds without the tag, so ToMan is there.

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/completion"
)

var update = flag.Bool("update", false, "rewrite man/ and completions/ from the CLI definition")

// TestGeneratedDocs fails when man/pgprobe.1 or completions/ no longer match
// the CLI. Run scripts/gendocs.sh to regenerate them.
func TestGeneratedDocs(t *testing.T) {
	app := newApp(&env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	files := map[string]string{}
	man, err := manPage(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{`\fB--help, -?\fP`, `\fB--version, -V\fP`, "[--help|-?]", "[--version|-V]"} {
		if !strings.Contains(man, opt) {
			t.Errorf("the man page does not list %s", opt)
		}
	}
	files["man/pgprobe.1"] = man
	for shell, name := range completionFiles {
		s, err := completionScript(app, shell)
		if err != nil {
			t.Fatal(err)
		}
		files["completions/"+name] = s
	}
	for path, want := range files {
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run scripts/gendocs.sh)", path, err)
		}
		if string(got) != want {
			t.Errorf("%s is stale: run scripts/gendocs.sh", path)
		}
	}
}

const manExtra = `
# EXIT STATUS

**0**
: connected (with **--ping**: the server is accepting connections) and every check passed

**1**
: the server answered but refused: an ErrorResponse during startup or authentication, a target_session_attrs mismatch, an authentication exchange the client's settings forbid (with **--ping**: the server is rejecting connections)

**2**
: no usable answer: name resolution, connect, timeout, SSL refused when required, TLS handshake or certificate verification, protocol violation

**3**
: no attempt: bad flags, connection string, URI or files

**4**
: connected, but a check failed

**130**, **143**
: interrupted by SIGINT (^C) or SIGTERM: what was recorded is reported with the verdict "interrupted" (error class **interrupted**); **pgprobe listen** exits so too when a signal stops it (0 when **--count** clients were seen)

# ENVIRONMENT

Every environment variable libpq reads: **PGHOST**, **PGHOSTADDR**, **PGPORT**, **PGUSER**, **PGDATABASE**, **PGPASSWORD**, **PGPASSFILE**, **PGSERVICE**, **PGSERVICEFILE**, **PGSYSCONFDIR**, **PGSSLMODE**, **PGSSLROOTCERT**, **PGSSLCERT**, **PGSSLKEY**, **PGCONNECT_TIMEOUT**, **PGAPPNAME**, **PGTARGETSESSIONATTRS** and the rest, with libpq's precedence: connection string, then flags, then service file, then environment, then defaults.

**NO_COLOR**
: when set and not empty, no colour unless **--color always**

# FILES

*~/.pgpass*
: passwords, as libpq reads them (ignored when group or world readable)

*~/.pg_service.conf*, *$PGSYSCONFDIR/pg_service.conf*
: connection service files

*~/.postgresql/root.crt*
: trusted root certificates; when present, **sslmode=require** verifies the chain as **verify-ca** does

# EXAMPLES

pgprobe "host=db.example.com sslmode=verify-full sslrootcert=ca.pem"

pgprobe postgresql://app@db.example.com/app -o json | jq .attempts[].tls.version

pgprobe --ping -h db.example.com -p 5432

# SEE ALSO

psql(1), pg_isready(1)
`

func manPage(app *cli.App) (string, error) {
	saved := cli.MarkdownDocTemplate
	cli.MarkdownDocTemplate = saved + manExtra
	defer func() { cli.MarkdownDocTemplate = saved }()
	return completion.App(app, true).ToManWithSection(1)
}
