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
	want := completion.CommandNames(newApp(&env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}))
	if len(want) == 0 || slices.Contains(want, "help") {
		t.Fatalf("the app's commands are %q", want)
	}
	builtins := map[string][]string{
		"bash":       {" --help ", " -? ", " --version ", " -V "},
		"zsh":        {"'(--help -?)--help[", "'(--help -?)-?[", "'(--version -V)--version[", "'(--version -V)-V["},
		"fish":       {" -l help -s '?' ", " -l version -s 'V' "},
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
// holds: the words that select a command and those offered (zsh has one
// list for both).
func offeredCommands(t *testing.T, shell, script string) [][]string {
	t.Helper()
	var lists [][]string
	words := func(re, sep string) {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(script, -1) {
			var list []string
			for _, w := range strings.Split(m[1], sep) {
				if w = strings.Trim(strings.TrimSpace(w), "'"); w != "" && !strings.HasPrefix(w, "-") {
					list = append(list, w)
				}
			}
			lists = append(lists, list)
		}
	}
	switch shell {
	case "bash":
		// The words that select a command, and what is offered before a target.
		words(`(?m)^\s*([a-z|]+)\) cmd="\$w"; break ;;$`, "|")
		words(`\(\(positional\)\) \|\| _pgprobe_reply -W "([^"]*)"`, " ")
	case "zsh":
		words(`'\(-\)1: :\(([^)]*)\)'`, " ")
	case "fish":
		words(`(?m)^            case ([a-z ]+)\n                echo \$w$`, " ")
		var args []string
		for _, m := range regexp.MustCompile(`(?m)^complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a (\S+) -d`).FindAllStringSubmatch(script, -1) {
			args = append(args, m[1])
		}
		lists = append(lists, args)
	case "powershell":
		// The words that select a command, and the default command's offer.
		words(`-and @\(([^)]*)\) -contains`, ",")
		words(`default \{ @\(([^)]*)\) \}`, ",")
	}
	if len(lists) < 2 && shell != "zsh" || len(lists) == 0 {
		t.Fatalf("completion %s: found no subcommand list:\n%s", shell, script)
	}
	return lists
}
