package completion

import (
	"fmt"
	"strings"
)

// fishCompletion: __fish_pgprobe_command says which command is being
// completed (as pgprobe finds it: the first word that is neither a flag nor
// a flag's value), "pgprobe" for the default one before any target and
// "pgprobe-target" after one; each complete line applies to its command.
func fishCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("# fish completion for pgprobe (generated: pgprobe completion fish)\n\n")
	b.WriteString("function __fish_pgprobe_command --description 'the pgprobe command being completed'\n")
	b.WriteString("    set -l words (commandline -opc)\n    set -l skip 0\n")
	b.WriteString("    for w in $words[2..-1]\n")
	b.WriteString("        if test $skip = 1\n            set skip 0\n            continue\n        end\n")
	b.WriteString("        switch $w\n")
	if v := valueFlagNames(cmds[0].flags); len(v) > 0 {
		fmt.Fprintf(&b, "            case %s\n                set skip 1\n", fishWords(v))
	}
	b.WriteString("            case '-*'\n")
	fmt.Fprintf(&b, "            case %s\n                echo $w\n                return\n", strings.Join(subcommandNames(cmds), " "))
	b.WriteString("            case '*'\n                echo pgprobe-target\n                return\n")
	b.WriteString("        end\n    end\n    echo pgprobe\nend\n\n")
	b.WriteString("function __fish_pgprobe_is\n    contains -- (__fish_pgprobe_command) $argv\nend\n\n")
	b.WriteString("# Targets are not file names.\ncomplete -c pgprobe -f\n")
	for _, c := range cmds {
		cond := "__fish_pgprobe_is " + c.name
		if c.name == "" {
			cond = "__fish_pgprobe_is pgprobe pgprobe-target"
		}
		for _, fi := range c.flags {
			fmt.Fprintf(&b, "complete -c pgprobe -n '%s'%s\n", cond, fishFlag(fi))
		}
		if len(c.words) > 0 {
			fmt.Fprintf(&b, "complete -c pgprobe -n '%s' -a %s\n", cond, fishQuote(strings.Join(c.words, " ")))
		}
	}
	for _, c := range cmds[1:] {
		fmt.Fprintf(&b, "complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a %s -d %s\n", c.name, fishQuote(c.usage))
	}
	return b.String()
}

// fishFlag is the options of a flag's complete line.
func fishFlag(fi flagInfo) string {
	var b strings.Builder
	for _, n := range fi.names {
		if strings.HasPrefix(n, "--") {
			fmt.Fprintf(&b, " -l %s", n[2:])
		} else {
			fmt.Fprintf(&b, " -s %s", fishQuote(n[1:]))
		}
	}
	switch {
	case len(fi.values) > 0:
		fmt.Fprintf(&b, " -x -a %s", fishQuote(strings.Join(fi.values, " ")))
	case fi.isFile():
		b.WriteString(" -r -F")
	case fi.isDir():
		b.WriteString(" -x -a '(__fish_complete_directories)'")
	case fi.takesValue():
		b.WriteString(" -x")
	}
	fmt.Fprintf(&b, " -d %s", fishQuote(fi.usage))
	return b.String()
}

// fishQuote single-quotes s for fish, where only \ and ' are special
// inside; a word of letters is left bare, but ? always is quoted (fish
// before 4.0 takes it for a wildcard).
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// fishWords are names as a fish case list.
func fishWords(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fishQuote(n)
	}
	return strings.Join(out, " ")
}
