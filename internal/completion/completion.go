// Package completion writes pgprobe's shell completion scripts from its
// urfave/cli definition, for "pgprobe completion SHELL" and the files in
// completions/ (the man page is made by gendocs_test.go, since urfave/cli's
// ToMan is left out of the binary with -tags urfave_cli_no_docs).
package completion

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// isBuiltinFlag reports whether f is urfave/cli's help or version flag
// (pgprobe's --help/-? and --version/-V), which App.Setup and Command.setup
// append to the flags when the app runs.
func isBuiltinFlag(f cli.Flag) bool {
	for _, b := range []cli.Flag{cli.HelpFlag, cli.VersionFlag} {
		if b != nil && f.Names()[0] == b.Names()[0] {
			return true
		}
	}
	return false
}

func withoutBuiltinFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if !isBuiltinFlag(f) {
			out = append(out, f)
		}
	}
	return out
}

// docCommands drops the help command urfave/cli appends when an app or a
// command runs (pgprobe has none: "pgprobe help" probes a database named
// help) and the help flag Command.setup appends, recursively.
func docCommands(commands []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range commands {
		if c.Name == "help" {
			continue
		}
		cc := *c
		cc.Flags = withoutBuiltinFlags(c.Flags)
		cc.Subcommands = docCommands(c.Subcommands)
		out = append(out, &cc)
	}
	return out
}

// App is the CLI definition the man page and the completion scripts are
// generated from: the same whether or not app has run (the completion
// command gets the running app, TestGeneratedDocs and scripts/gendocs.sh a
// fresh one), so what "pgprobe completion SHELL" prints is byte for byte the
// file in completions/. With withBuiltins, --help and --version come last in
// the flags; without, they are left out (ToFishCompletion adds them itself).
func App(app *cli.App, withBuiltins bool) *cli.App {
	d := *app
	d.Flags = withoutBuiltinFlags(app.Flags)
	if withBuiltins {
		if !app.HideHelp && cli.HelpFlag != nil {
			d.Flags = append(d.Flags, cli.HelpFlag)
		}
		if !app.HideVersion && cli.VersionFlag != nil {
			d.Flags = append(d.Flags, cli.VersionFlag)
		}
	}
	d.Commands = docCommands(app.Commands)
	return &d
}

type flagInfo struct {
	names   []string // with dashes
	usage   string
	values  []string
	isValue bool
}

func flagInfos(flags []cli.Flag, values map[string][]string) []flagInfo {
	var out []flagInfo
	for _, f := range flags {
		fi := flagInfo{}
		for _, n := range f.Names() {
			if len(n) == 1 {
				fi.names = append(fi.names, "-"+n)
			} else {
				fi.names = append(fi.names, "--"+n)
			}
		}
		if df, ok := f.(cli.DocGenerationFlag); ok {
			fi.usage = df.GetUsage()
			fi.isValue = df.TakesValue()
		}
		fi.values = values[f.Names()[0]]
		out = append(out, fi)
	}
	return out
}

// Script is the completion script of app for shell (bash, zsh, fish or
// powershell); values are the words a flag's value may be, by the flag's
// first name.
func Script(app *cli.App, shell string, values map[string][]string) (string, error) {
	if shell == "fish" {
		s, err := App(app, false).ToFishCompletion()
		// fish before 4.0 takes an unquoted ? for a wildcard and, matching
		// no file, refuses the whole complete command: quote -?.
		return strings.ReplaceAll(s, " -s ? ", " -s '?' "), err
	}
	app = App(app, true)
	switch shell {
	case "bash":
		return bashCompletion(app, values), nil
	case "zsh":
		return zshCompletion(app, values), nil
	case "powershell":
		return powershellCompletion(app, values), nil
	}
	return "", fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", shell)
}

// CommandNames are app's visible subcommands.
func CommandNames(app *cli.App) []string {
	var out []string
	for _, c := range app.Commands {
		if !c.Hidden {
			out = append(out, c.Name)
		}
	}
	return out
}

func allFlagNames(infos []flagInfo) []string {
	var out []string
	for _, fi := range infos {
		out = append(out, fi.names...)
	}
	sort.Strings(out)
	return out
}

func bashCompletion(app *cli.App, values map[string][]string) string {
	infos := flagInfos(app.Flags, values)
	var b strings.Builder
	b.WriteString("# bash completion for pgprobe (generated: pgprobe completion bash)\n")
	// COMPREPLY=($(compgen …)) would expand -? as a pattern (a file named
	// -x in the current directory would replace it): fill COMPREPLY line by
	// line instead.
	b.WriteString("_pgprobe_reply() {\n")
	b.WriteString("    local w\n")
	b.WriteString("    COMPREPLY=()\n")
	b.WriteString("    while IFS= read -r w; do COMPREPLY+=(\"$w\"); done < <(compgen -W \"$1\" -- \"$2\")\n")
	b.WriteString("}\n")
	b.WriteString("_pgprobe() {\n")
	b.WriteString("    local cur prev\n")
	b.WriteString("    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n")
	b.WriteString("    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	b.WriteString("    case \"$prev\" in\n")
	for _, fi := range infos {
		if len(fi.values) > 0 {
			fmt.Fprintf(&b, "        %s) _pgprobe_reply %q \"$cur\"; return ;;\n", strings.Join(fi.names, "|"), strings.Join(fi.values, " "))
		}
	}
	b.WriteString("        completion) _pgprobe_reply \"bash zsh fish powershell\" \"$cur\"; return ;;\n")
	b.WriteString("    esac\n")
	fmt.Fprintf(&b, "    if [[ \"$cur\" == -* ]]; then\n        _pgprobe_reply %q \"$cur\"\n", strings.Join(allFlagNames(infos), " "))
	fmt.Fprintf(&b, "    elif [[ $COMP_CWORD -eq 1 ]]; then\n        _pgprobe_reply %q \"$cur\"\n    fi\n}\n", strings.Join(CommandNames(app), " "))
	b.WriteString("complete -F _pgprobe pgprobe\n")
	return b.String()
}

func zshCompletion(app *cli.App, values map[string][]string) string {
	var b strings.Builder
	b.WriteString("#compdef pgprobe\n# zsh completion for pgprobe (generated: pgprobe completion zsh)\n\n_pgprobe() {\n  _arguments -s \\\n")
	for _, fi := range flagInfos(app.Flags, values) {
		usage := strings.NewReplacer("[", "(", "]", ")", "`", "", "'", "").Replace(fi.usage)
		action := ""
		if fi.isValue {
			action = ":value:"
			if len(fi.values) > 0 {
				action = ":value:(" + strings.Join(fi.values, " ") + ")"
			}
		}
		excl := "(" + strings.Join(fi.names, " ") + ")"
		for _, n := range fi.names {
			fmt.Fprintf(&b, "    '%s%s[%s]%s' \\\n", excl, n, usage, action)
		}
	}
	fmt.Fprintf(&b, "    '1: :(%s)' \\\n", strings.Join(CommandNames(app), " "))
	b.WriteString("    '*:target:'\n}\n\ncompdef _pgprobe pgprobe\n")
	return b.String()
}

func powershellCompletion(app *cli.App, values map[string][]string) string {
	var words []string
	words = append(words, CommandNames(app)...)
	words = append(words, allFlagNames(flagInfos(app.Flags, values))...)
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	return "# PowerShell completion for pgprobe (generated: pgprobe completion powershell)\n" +
		"Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {\n" +
		"    param($wordToComplete, $commandAst, $cursorPosition)\n" +
		"    @(" + strings.Join(quoted, ", ") + ") |\n" +
		"        Where-Object { $_ -like \"$wordToComplete*\" } |\n" +
		"        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }\n" +
		"}\n"
}
