//go:build unix

package main

// The README's examples for CI, health checks and jq, run against a real
// server: their exit codes and the JSON paths they use must still hold.

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readmeCommand is one `$ pgprobe …` line of the README's tested block with
// the lines printed after it.
type readmeCommand struct {
	line   string
	output []string
}

func readmeBlock(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- readme-test:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- readme-test:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no readme-test block")
	}
	var cmds []readmeCommand
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			cmds = append(cmds, readmeCommand{line: strings.TrimPrefix(line, "$ ")})
		case strings.HasPrefix(line, "```") || strings.TrimSpace(line) == "" || len(cmds) == 0:
		default:
			cmds[len(cmds)-1].output = append(cmds[len(cmds)-1].output, line)
		}
	}
	return cmds
}

// shellWords splits a command line as sh would for the simple quoting the
// README uses, expanding $DATABASE_URL.
func shellWords(t testing.TB, s string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == 0 && (ch == '"' || ch == '\''):
			quote, in = ch, true
		case quote != 0 && ch == quote:
			quote = 0
		case quote == 0 && ch == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case quote != '\'' && ch == '$':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			v, ok := vars[s[i+1:j]]
			if !ok {
				t.Fatalf("README command uses $%s: %s", s[i+1:j], s)
			}
			cur.WriteString(v)
			in, i = true, j-1
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote: %s", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// isTable says whether a README command prints the table (-o table).
func isTable(args []string) bool {
	for i, a := range args {
		if a == "-o=table" || a == "--output=table" || (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "table" {
			return true
		}
	}
	return false
}

// tableColumns splits a table header into its column names: columns are
// two or more spaces apart, and a name ("TOTAL MS") may hold one space.
func tableColumns(header string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(header), -1)
}

// checkTableSample compares the README's table sample with the real table:
// the header's columns must be the same, in the same order, and there must
// be as many rows; the values (addresses, ports, timings) may differ.
func checkTableSample(t *testing.T, line string, shown []string, stdout string) {
	t.Helper()
	real := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if got, want := tableColumns(real[0]), tableColumns(shown[0]); !slices.Equal(got, want) {
		t.Errorf("%s: the table's header is\n%s\nthe README shows\n%s", line, real[0], shown[0])
	}
	if len(real) != len(shown) {
		t.Errorf("%s: the table has %d lines, the README shows %d:\n%s", line, len(real), len(shown), stdout)
	}
}

var jqPath = regexp.MustCompile(`(\.[a-z_]+(\[-?[0-9]*\])?)+`)

// jqGet follows a simple jq path (.a.b[0].c, [-1] the last, [] the first)
// and says whether every key on it exists.
func jqGet(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range regexp.MustCompile(`\.[a-z_]+|\[-?[0-9]*\]`).FindAllString(path, -1) {
		if cur == nil {
			return nil, true // jq: null.key is null
		}
		if strings.HasPrefix(part, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[part[1:]]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := cur.([]any)
		if !ok || len(a) == 0 {
			return nil, false
		}
		i, _ := strconv.Atoi(strings.Trim(part, "[]"))
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false
		}
		cur = a[i]
	}
	return cur, true
}

func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	c := sslServer(t)
	dsn := fmt.Sprintf("postgresql://%s@127.0.0.1:%d/postgres?sslmode=require", url.UserPassword("scramuser", scramPW), c.Port)
	vars := map[string]string{"DATABASE_URL": dsn}

	cmds := readmeBlock(t, string(readme))
	if len(cmds) < 8 {
		t.Fatalf("only %d commands in the README's tested block", len(cmds))
	}
	for _, cmd := range cmds {
		line, jq, piped := strings.Cut(cmd.line, " | jq ")
		line, echo := strings.CutSuffix(line, "; echo $?")
		args := shellWords(t, line, vars)
		if args[0] != "pgprobe" {
			t.Fatalf("not a pgprobe command: %s", cmd.line)
		}
		r := pgprobe(t, nil, args[1:]...)
		switch {
		case echo:
			if len(cmd.output) == 0 {
				t.Fatalf("%s: no exit code shown", cmd.line)
			}
			want, err := strconv.Atoi(cmd.output[len(cmd.output)-1])
			if err != nil {
				t.Fatalf("%s: last output line %q is not an exit code", cmd.line, cmd.output[len(cmd.output)-1])
			}
			if r.code != want {
				t.Errorf("%s: exit %d, README says %d\n%s%s", cmd.line, r.code, want, r.stdout, r.stderr)
			}
			if shown := cmd.output[:len(cmd.output)-1]; isTable(args) && len(shown) > 0 {
				checkTableSample(t, cmd.line, shown, r.stdout)
			}
		case piped:
			if r.doc == nil {
				t.Errorf("%s: not one JSON document:\n%s", cmd.line, r.stdout)
				continue
			}
			words := shellWords(t, jq, nil)
			filter := words[len(words)-1]
			for _, p := range jqPath.FindAllString(filter, -1) {
				if _, ok := jqGet(r.doc, p); !ok {
					t.Errorf("%s: path %s does not exist", cmd.line, p)
				}
			}
			if words[0] == "-r" && jqPath.FindString(filter) == filter && len(cmd.output) == 1 {
				if v, _ := jqGet(r.doc, filter); fmt.Sprint(v) != cmd.output[0] {
					t.Errorf("%s: %v, README says %s", cmd.line, v, cmd.output[0])
				}
			}
		default:
			if r.code != 0 {
				t.Errorf("%s: exit %d\n%s%s", cmd.line, r.code, r.stdout, r.stderr)
			}
		}
	}

	// The CI steps and the HEALTHCHECK succeed too.
	var others int
	for _, line := range strings.Split(string(readme), "\n") {
		var cmd string
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "run: pgprobe "); ok {
			cmd, _, _ = strings.Cut(s, " > ")
		} else if _, s, ok := strings.Cut(line, "HEALTHCHECK "); ok && strings.Contains(s, "CMD pgprobe ") {
			_, s, _ = strings.Cut(s, "CMD pgprobe ")
			cmd, _, _ = strings.Cut(s, " || ")
			cmd = strings.Replace(cmd, "-p 5432", "-p "+strconv.Itoa(c.Port), 1)
		} else {
			continue
		}
		others++
		if r := pgprobe(t, map[string]string{"PGUSER": "trustuser"}, shellWords(t, cmd, vars)...); r.code != 0 {
			t.Errorf("README's pgprobe %s: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
	if others < 3 {
		t.Errorf("found %d CI and HEALTHCHECK commands in the README, want 3", others)
	}
}
