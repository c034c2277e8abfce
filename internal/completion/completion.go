// Package completion writes pgprobe's shell completion scripts from its
// urfave/cli definition, for "pgprobe completion SHELL" and the files in
// completions/ (the man page is made by gendocs_test.go, since urfave/cli's
// ToMan is left out of the binary with -tags urfave_cli_no_docs). Each
// subcommand completes its own flags and their values.
package completion

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Values are the words a flag's value may be: by command name ("" for the
// default command), then by the flag's first name.
type Values map[string]map[string][]string

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
// the flags; without, they are left out.
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

// CommandNames are app's visible subcommands.
func CommandNames(app *cli.App) []string {
	var out []string
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			out = append(out, c.Name)
		}
	}
	return out
}

// flagInfo is a flag as the scripts offer it.
type flagInfo struct {
	names       []string // with dashes, as declared: --output, -o
	usage       string   // without the backticks around the placeholder
	placeholder string   // FORMAT, FILE, …; "" for a flag without a value
	values      []string // what the value may be, when known
}

func (f flagInfo) takesValue() bool { return f.placeholder != "" }
func (f flagInfo) isFile() bool     { return f.placeholder == "FILE" }
func (f flagInfo) isDir() bool      { return f.placeholder == "DIR" }

// command is the default command (name "") or a subcommand, with its flags
// and, when its arguments are a fixed set ("bash|zsh|fish"), those words.
type command struct {
	name  string
	usage string
	flags []flagInfo
	words []string
}

var reWordList = regexp.MustCompile(`^[a-z]+(\|[a-z]+)+$`)

// commands are the default command, then each visible subcommand, with
// urfave/cli's --help on every one of them.
func commands(app *cli.App, values Values) []command {
	app = App(app, true)
	out := []command{{flags: flagInfos(app.Flags, values[""])}}
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		flags := c.Flags
		if !c.HideHelp && cli.HelpFlag != nil {
			flags = append(flags[:len(flags):len(flags)], cli.HelpFlag)
		}
		cmd := command{name: c.Name, usage: c.Usage, flags: flagInfos(flags, values[c.Name])}
		if reWordList.MatchString(c.ArgsUsage) {
			cmd.words = strings.Split(c.ArgsUsage, "|")
		}
		out = append(out, cmd)
	}
	return out
}

var rePlaceholder = regexp.MustCompile("`([^`]*)`")

func flagInfos(flags []cli.Flag, values map[string][]string) []flagInfo {
	var out []flagInfo
	for _, f := range flags {
		fi := flagInfo{values: values[f.Names()[0]]}
		for _, n := range f.Names() {
			if len(n) == 1 {
				fi.names = append(fi.names, "-"+n)
			} else {
				fi.names = append(fi.names, "--"+n)
			}
		}
		if df, ok := f.(cli.DocGenerationFlag); ok {
			fi.usage = df.GetUsage()
			if df.TakesValue() {
				fi.placeholder = strings.ToUpper(f.Names()[0])
				if m := rePlaceholder.FindStringSubmatch(fi.usage); m != nil {
					fi.placeholder = m[1]
				}
			}
			fi.usage = rePlaceholder.ReplaceAllString(fi.usage, "$1")
		}
		out = append(out, fi)
	}
	return out
}

// Script is the completion script of app for shell (bash, zsh, fish or
// powershell).
func Script(app *cli.App, shell string, values Values) (string, error) {
	cmds := commands(app, values)
	switch shell {
	case "bash":
		return bashCompletion(cmds), nil
	case "zsh":
		return zshCompletion(cmds), nil
	case "fish":
		return fishCompletion(cmds), nil
	case "powershell":
		return powershellCompletion(cmds), nil
	}
	return "", fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", shell)
}

func allFlagNames(infos []flagInfo) []string {
	var out []string
	for _, fi := range infos {
		out = append(out, fi.names...)
	}
	sort.Strings(out)
	return out
}

// valueFlagNames are the names of the flags that take a value.
func valueFlagNames(infos []flagInfo) []string {
	var out []string
	for _, fi := range infos {
		if fi.takesValue() {
			out = append(out, fi.names...)
		}
	}
	return out
}

// subcommandNames are the names of cmds' subcommands (all but the first,
// the default command).
func subcommandNames(cmds []command) []string {
	var out []string
	for _, c := range cmds[1:] {
		out = append(out, c.name)
	}
	return out
}
