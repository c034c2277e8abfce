package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// zshCapture completes a line in an interactive zsh (in a pseudo-terminal,
// zsh/zpty) whose $fpath holds the directory $1 and zsh's own basic
// completion functions (all of them make compinit take seconds), and prints each match
// offered as "<m>MATCH<d>DESCRIPTION": compadd is wrapped to print what
// it is given after zsh's own matching.
const zshCapture = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=($1 \${(M)fpath:#*/Completion(|/Base|/Unix|/Zsh)}); autoload -U compinit; compinit -u -D"
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi; local -a __hits __dscr; if (( $@[(I)-d] )); then local __n=${@[$(( ${@[(i)-d]} + 1 ))]}; if [[ $__n == \(* ]]; then eval "__dscr=$__n"; else __dscr=( "${(@P)__n}" ); fi; fi; builtin compadd -A __hits -D __dscr "$@"; (( $#__hits )) || return 0; local __i; for __i in {1..$#__hits}; do print -r -- "<m>$__hits[$__i]<d>$__dscr[$__i]"; done; }'
zpty -w z 'sep() { print -r "<sep>" }; compprefuncs=(sep); comppostfuncs=(sep exit)'
zpty -w z 'bindkey "^I" complete-word; print -r "<ready>"'
while zpty -r z line; do [[ $line == '<ready>'* ]] && break; done
zpty -w -n z "$2"$'\t'
on=0
while zpty -r z line; do
  line=${line//[$'\r\n']/}
  [[ $line == *'<sep>'* ]] && { (( on++ )) && break; continue; }
  (( on )) && [[ $line == '<m>'* ]] && print -r -- ${line#'<m>'}
done
zpty -d z
`

// bashDriver sources the script ($0) and completes the words given as
// arguments, the last being the one under the cursor, as bash's
// programmable completion would call _pgprobe.
const bashDriver = `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pgprobe; printf '%s\n' "${COMPREPLY[@]}"`

// offered is what a shell offers for line (the text before the cursor),
// with the checked-in completions/ script: each match (file names by their
// last element) and its description.
func offered(t *testing.T, shell, line string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath(shell)
	if err != nil {
		t.Fatalf("%s is not installed: run scripts/test.sh, which installs it", shell)
	}
	script, err := filepath.Abs(filepath.Join("completions", completionFiles[shell]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch shell {
	case "bash":
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		cmd = exec.CommandContext(ctx, bin, append([]string{"--norc", "--noprofile", "-c", bashDriver, script}, words...)...)
	case "zsh":
		capture := filepath.Join(t.TempDir(), "capture.zsh")
		if err := os.WriteFile(capture, []byte(zshCapture), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd = exec.CommandContext(ctx, bin, "-f", capture, filepath.Dir(script), line)
	case "fish":
		cmd = exec.CommandContext(ctx, bin, "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, line)
	}
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TERM=dumb")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", shell, line, err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		match, desc, _ := strings.Cut(l, map[string]string{"bash": "\x00", "zsh": "<d>", "fish": "\t"}[shell])
		if shell == "zsh" {
			match = strings.ReplaceAll(match, `\`, "") // zsh inserts -\?
		}
		if match != "" {
			got[filepath.Base(match)] = desc
		}
	}
	return got
}

// TestCompletionInShells drives the generated scripts in real bash, zsh
// and fish: each command offers its own flags and their values, file
// names where a flag takes a FILE, the subcommands only before a target.
func TestCompletionInShells(t *testing.T) {
	files := t.TempDir()
	for _, f := range []string{"fleet.txt", "server.key"} {
		if err := os.WriteFile(filepath.Join(files, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		line  string
		want  []string // offered, and (with exact) nothing else
		not   []string
		exact bool
	}{
		{line: "pgprobe listen -", want: []string{"--addr", "--auth", "--ssl", "--then", "--cert", "--key", "--unix", "--help", "-?"}, not: []string{"--ping", "--wait", "--targets-file", "--host"}},
		{line: "pgprobe listen -o ", want: []string{"timeline", "json", "ndjson"}, exact: true},
		{line: "pgprobe listen --auth ", want: []string{"trust", "password", "md5", "scram-sha-256", "gss"}, exact: true},
		{line: "pgprobe listen --cert " + files + "/f", want: []string{"fleet.txt"}, exact: true},
		{line: "pgprobe listen --key " + files + "/", want: []string{"fleet.txt", "server.key"}, exact: true},
		{line: "pgprobe settings -o ", want: []string{"table", "json"}, exact: true},
		{line: "pgprobe scan -o ", want: []string{"text", "json"}, exact: true},
		{line: "pgprobe scan --fail-on ", want: []string{"info", "low", "medium", "high", "critical"}, exact: true},
		{line: "pgprobe -o json settings --o", want: []string{"--output"}, exact: true},
		{line: "pgprobe -o ", want: []string{"timeline", "json", "ndjson", "table"}, exact: true},
		{line: "pgprobe --targets-file " + files + "/", want: []string{"fleet.txt", "server.key"}, exact: true},
		{line: "pgprobe ", want: []string{"settings", "listen", "demo", "exporter", "scan", "completion"}, exact: true},
		{line: "pgprobe -h db1 ", want: []string{"settings", "listen", "demo", "exporter", "scan", "completion"}, exact: true},
		{line: "pgprobe db1 -o j", want: []string{"json"}, exact: true},
		{line: "pgprobe db1 ", exact: true},
		{line: "pgprobe completion ", want: []string{"bash", "zsh", "fish", "powershell"}, exact: true},
		{line: "pgprobe demo -", want: []string{"--output", "--color", "--verbose"}, not: []string{"--host", "--wait"}},
	} {
		for _, shell := range []string{"bash", "zsh", "fish"} {
			got := offered(t, shell, tc.line)
			var names []string
			for m := range got {
				names = append(names, m)
			}
			slices.Sort(names)
			for _, w := range tc.want {
				if _, ok := got[w]; !ok {
					t.Errorf("%s: %q offers %q, not %s", shell, tc.line, names, w)
				}
			}
			for _, n := range tc.not {
				if _, ok := got[n]; ok {
					t.Errorf("%s: %q offers %s, which that command rejects", shell, tc.line, n)
				}
			}
			if tc.exact && len(got) != len(tc.want) {
				t.Errorf("%s: %q offers %q, want only %q", shell, tc.line, names, tc.want)
			}
		}
	}
}

// TestCompletionDescriptions: help strings keep their apostrophes (zsh and
// fish show them), and bash completes --flag=value.
func TestCompletionDescriptions(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		if d := offered(t, shell, "pgprobe --pi")["--ping"]; !strings.Contains(d, "server's first answer") {
			t.Errorf("%s: --ping's description is %q", shell, d)
		}
	}
	bash := func(words ...string) []string {
		args := append([]string{"--norc", "--noprofile", "-c", bashDriver, filepath.Join("completions", completionFiles["bash"])}, words...)
		out, err := exec.Command("bash", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("bash %q: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	// bash splits --output=json at the = (COMP_WORDBREAKS).
	if got := bash("pgprobe", "--output", "=", ""); !slices.Equal(got, []string{"timeline", "json", "ndjson", "table"}) {
		t.Errorf("--output=: %q", got)
	}
	if got := bash("pgprobe", "--output", "=", "json", "sett"); !slices.Equal(got, []string{"settings"}) {
		t.Errorf("--output=json sett: %q", got)
	}
	if got := bash("pgprobe", "--seed", "=", "1", "listen", "--a"); !slices.Equal(got, []string{"--addr", "--auth"}) {
		t.Errorf("listen after --seed=1: %q", got)
	}
}
