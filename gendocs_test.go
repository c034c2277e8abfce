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
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/completion"
)

var update = flag.Bool("update", false, "rewrite man/ and completions/ from the CLI definition")

// TestGeneratedDocs fails when man/pgprobe.1 or completions/ no longer match
// the CLI. Run scripts/gendocs.sh to regenerate them.
func TestGeneratedDocs(t *testing.T) {
	app := newApp(&env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	files := map[string]string{}
	man, err := manPage(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n\\fB-?\\fP, \\fB--help\\fP\n",
		"\n\\fB-V\\fP, \\fB--version\\fP\n",
		"\n\\fB--color\\fP \\fIWHEN\\fP\ncolour \\fIWHEN\\fP: auto, always or never (NO_COLOR is honoured) (default: auto)\n",
		"\n\\fB--concurrency\\fP \\fIN\\fP\nprobe at most \\fIN\\fP targets at once (default: 256)\n",
		"\n\\fB-o\\fP, \\fB--output\\fP \\fIFORMAT\\fP\n",
		"\n\\fBpgprobe\\fP [\\fIoptions\\fP] [\\fICONNINFO\\fP | \\fIURI\\fP | \\fIDBNAME\\fP [\\fIUSERNAME\\fP]]\n",
		"\n\\fBpgprobe settings\\fP [\\fIoptions\\fP] [\\fICONNINFO\\fP",
		"| jq '.attempts[].tls.version'",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("the man page does not say %q", want)
		}
	}
	for _, bad := range []string{"=[value]", `=""`, "(default: false)"} {
		if strings.Contains(man, bad) {
			t.Errorf("the man page says %q", bad)
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

` + "```" + `
pgprobe "host=db.example.com sslmode=verify-full sslrootcert=ca.pem"
pgprobe -h db.example.com -p 5432 app appuser
pgprobe postgresql://app@db.example.com/app -o json | jq '.attempts[].tls.version'
pgprobe --ping -h db.example.com -p 5432
pgprobe -o table "host=db1" "host=db2" "host=db3"
` + "```" + `

# SEE ALSO

psql(1), pg_isready(1)
`

// manPage renders the man page: the markdown is pgprobe's own (manMarkdown:
// options as "-o, --output FORMAT" with their defaults, synopsis lines as
// psql's), and urfave/cli's ToManWithSection only turns it into roff, as
// its template (a template without actions is printed as is).
func manPage(app *cli.App) (string, error) {
	saved := cli.MarkdownDocTemplate
	cli.MarkdownDocTemplate = strings.ReplaceAll(manMarkdown(completion.App(app, true)), "{{", `{{"{{"}}`)
	defer func() { cli.MarkdownDocTemplate = saved }()
	return app.ToManWithSection(1)
}

func manMarkdown(app *cli.App) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%% %s 1\n\n# NAME\n\n%s - %s\n\n# SYNOPSIS\n\n", app.Name, app.Name, app.Usage)
	for _, l := range strings.Split(app.UsageText, "\n") {
		words := strings.Fields(strings.Replace(l, " [flags]", "", 1))
		name, flags := words[:1], app.Flags
		for _, c := range app.Commands {
			if len(words) > 1 && words[1] == c.Name {
				name, flags = words[:2], c.Flags
			}
		}
		fmt.Fprintf(&b, "**%s**", strings.Join(name, " "))
		if len(flags) > 0 {
			b.WriteString(" [*options*]")
		}
		if rest := words[len(name):]; len(rest) > 0 {
			b.WriteString(" " + regexp.MustCompile(`\b[A-Z]{2,}\b`).ReplaceAllString(manEscape(strings.Join(rest, " ")), "*$0*"))
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "# DESCRIPTION\n\n%s\n\n# OPTIONS\n\n", manEscape(app.Description))
	manOptions(&b, app.Flags)
	b.WriteString("# COMMANDS\n\n")
	for _, c := range app.Commands {
		fmt.Fprintf(&b, "## %s %s\n\n%s.", c.Name, manEscape(c.ArgsUsage), manEscape(c.Usage))
		if c.Description != "" {
			b.WriteString(" " + manEscape(c.Description))
		}
		b.WriteString("\n\n")
		manOptions(&b, c.Flags)
	}
	return b.String() + manExtra
}

// manOptions lists flags as a man page does: "-o, --output FORMAT", then
// the usage and the default on the next line.
func manOptions(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		names := slices.Clone(f.Names())
		slices.SortStableFunc(names, func(x, y string) int { return len(x) - len(y) })
		for i, n := range names {
			names[i] = "**-" + n + "**"
			if len(n) > 1 {
				names[i] = "**--" + n + "**"
			}
		}
		usage := df.GetUsage()
		term := strings.Join(names, ", ")
		if df.TakesValue() {
			placeholder := strings.ToUpper(f.Names()[0])
			if m := regexp.MustCompile("`([^`]*)`").FindStringSubmatch(usage); m != nil {
				placeholder = m[1]
			}
			term += " *" + placeholder + "*"
			if v := df.GetValue(); v != "" && v != "0" {
				usage += " (default: " + v + ")"
			}
		}
		usage = regexp.MustCompile("`([^`]*)`").ReplaceAllString(manEscape(usage), "*$1*")
		fmt.Fprintf(b, "%s\n: %s\n\n", term, usage)
	}
}

// manEscape keeps markdown from reading * and _ as emphasis.
func manEscape(s string) string {
	return strings.NewReplacer("*", `\*`, "_", `\_`).Replace(s)
}
