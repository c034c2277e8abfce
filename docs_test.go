package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/internal/completion"
)

// completionFiles are the checked-in completion scripts, by shell.
var completionFiles = map[string]string{"bash": "pgprobe.bash", "zsh": "_pgprobe", "fish": "pgprobe.fish", "powershell": "pgprobe.ps1"}

// TestCompletionCommand checks that "pgprobe completion SHELL" prints, byte
// for byte, the checked-in completions/ file the README tells users to
// install (the app has run by then: urfave/cli has added its help and version
// flags and help commands), that every script offers --help/-? and
// --version/-V and exactly pgprobe's subcommands (no help: "pgprobe help"
// probes a database named help), and that an unknown shell is a usage error.
func TestCompletionCommand(t *testing.T) {
	want := completion.CommandNames(newApp(&env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}))
	if len(want) == 0 || slices.Contains(want, "help") {
		t.Fatalf("the app's commands are %q", want)
	}
	builtins := map[string][]string{
		"bash":       {" --help ", " -? ", " --version ", " -V "},
		"zsh":        {"'(--help -?)--help[", "'(--help -?)-?[", "'(--version -V)--version[", "'(--version -V)-V["},
		"fish":       {" -l help -s '?' ", " -l version -s V "},
		"powershell": {"'--help'", "'-?'", "'--version'", "'-V'"},
	}
	for shell, name := range completionFiles {
		var out, errb bytes.Buffer
		if code := run([]string{"pgprobe", "completion", shell}, nil, &out, &errb); code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, errb.String())
		}
		file, err := os.ReadFile(filepath.Join("completions", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), file) {
			t.Errorf("pgprobe completion %s differs from completions/%s (run scripts/gendocs.sh):\n%s", shell, name, out.String())
		}
		script := out.String()
		for _, b := range builtins[shell] {
			if !strings.Contains(script, b) {
				t.Errorf("completion %s does not offer %s:\n%s", shell, strings.Trim(b, " '[()"), script)
			}
		}
		for _, got := range offeredCommands(t, shell, script) {
			if !slices.Equal(got, want) {
				t.Errorf("completion %s offers the subcommands %q, want %q", shell, got, want)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"pgprobe", "completion", "tcsh"}, nil, &out, &errb); code != 3 {
		t.Errorf("completion tcsh: exit %d, want 3", code)
	}
}

// offeredCommands returns every list of subcommands a completion script
// offers (fish has two: the words that end the global flags, and the -a
// arguments of its complete -r lines).
func offeredCommands(t *testing.T, shell, script string) [][]string {
	t.Helper()
	var lists [][]string
	switch shell {
	case "bash":
		for _, m := range regexp.MustCompile(`(?m)COMP_CWORD -eq 1 \]\]; then\n\s*_pgprobe_reply "([^"]*)"`).FindAllStringSubmatch(script, -1) {
			lists = append(lists, strings.Fields(m[1]))
		}
	case "zsh":
		for _, m := range regexp.MustCompile(`'1: :\(([^)]*)\)'`).FindAllStringSubmatch(script, -1) {
			lists = append(lists, strings.Fields(m[1]))
		}
	case "fish":
		for _, m := range regexp.MustCompile(`contains -- \$i (.*)`).FindAllStringSubmatch(script, -1) {
			lists = append(lists, strings.Fields(m[1]))
		}
		var args []string
		for _, m := range regexp.MustCompile(`(?m)^complete -r .* -a '([^']*)'`).FindAllStringSubmatch(script, -1) {
			args = append(args, strings.Fields(m[1])...)
		}
		lists = append(lists, args)
	case "powershell":
		var words []string
		for _, m := range regexp.MustCompile(`'([^'$]*)'`).FindAllStringSubmatch(script, -1) {
			if w := m[1]; w != "" && !strings.HasPrefix(w, "-") && !strings.ContainsAny(w, " ") && w != "ParameterValue" {
				words = append(words, w)
			}
		}
		lists = append(lists, words)
	}
	if len(lists) == 0 || len(lists) == 1 && shell == "fish" {
		t.Fatalf("completion %s: found no subcommand list:\n%s", shell, script)
	}
	return lists
}
