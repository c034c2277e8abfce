package completion

import (
	"fmt"
	"strings"
)

// zshCompletion completes the default command's flags and the subcommand
// names, then (in state "rest", the words shifted so that the subcommand
// or the first target comes first) that command's flags and arguments.
func zshCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("#compdef pgprobe\n# zsh completion for pgprobe (generated: pgprobe completion zsh)\n\n_pgprobe() {\n")
	b.WriteString("  local curcontext=\"$curcontext\" state line ret=1\n  typeset -A opt_args\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  local -a %s\n  %s=(\n", zshVar(c), zshVar(c))
		for _, fi := range c.flags {
			for _, spec := range zshSpecs(fi) {
				fmt.Fprintf(&b, "    %s\n", spec)
			}
		}
		b.WriteString("  )\n")
	}
	fmt.Fprintf(&b, "  _arguments -C -s $%s \\\n", zshVar(cmds[0]))
	fmt.Fprintf(&b, "    '(-)1: :(%s)' \\\n", strings.Join(subcommandNames(cmds), " "))
	b.WriteString("    '(-)*:: :->rest' && ret=0\n")
	b.WriteString("  [[ $state == rest ]] || return ret\n")
	b.WriteString("  curcontext=\"${curcontext%:*:*}:pgprobe-$words[1]:\"\n")
	b.WriteString("  case $words[1] in\n")
	for _, c := range cmds[1:] {
		args := ""
		if len(c.words) > 0 {
			args = fmt.Sprintf(" '1: :(%s)'", strings.Join(c.words, " "))
		} else if c.name == "settings" {
			args = " '*:target:'"
		}
		fmt.Fprintf(&b, "  %s) _arguments -s $%s%s && ret=0 ;;\n", c.name, zshVar(c), args)
	}
	fmt.Fprintf(&b, "  *) _arguments -s $%s '*:target:' && ret=0 ;;\n", zshVar(cmds[0]))
	b.WriteString("  esac\n  return ret\n}\n\n")
	// Autoloaded from $fpath, this file is _pgprobe's body: complete now.
	// Sourced, register the function.
	b.WriteString("if [[ $funcstack[1] == _pgprobe ]]; then\n  _pgprobe \"$@\"\nelse\n  compdef _pgprobe pgprobe\nfi\n")
	return b.String()
}

// zshVar is the array holding a command's option specs.
func zshVar(c command) string {
	if c.name == "" {
		return "pgprobe_opts"
	}
	return c.name + "_opts"
}

// zshSpecs are _arguments specs for a flag, one per name, each excluding
// the flag's other names: '(--output -o)--output[output FORMAT]:FORMAT:(json table)'.
func zshSpecs(fi flagInfo) []string {
	desc := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(fi.usage)
	action := ""
	switch {
	case len(fi.values) > 0:
		action = ":" + fi.placeholder + ":(" + strings.Join(fi.values, " ") + ")"
	case fi.isFile():
		action = ":" + fi.placeholder + ":_files"
	case fi.isDir():
		action = ":" + fi.placeholder + ":_files -/"
	case fi.takesValue():
		action = ":" + fi.placeholder + ":"
	}
	excl := "(" + strings.Join(fi.names, " ") + ")"
	var out []string
	for _, n := range fi.names {
		out = append(out, shellSingleQuote(excl+n+"["+desc+"]"+action))
	}
	return out
}

// shellSingleQuote quotes s for sh and zsh: 'it'\”s'.
func shellSingleQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
