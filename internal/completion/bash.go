package completion

import (
	"fmt"
	"strings"
)

// bashCompletion finds the subcommand as pgprobe does (the first word that
// is neither a flag nor a flag's value; cliargs.Reorder), then completes
// that command's flags, their values (word lists, file and directory
// names) and its arguments.
func bashCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString(`# bash completion for pgprobe (generated: pgprobe completion bash)
# COMPREPLY=($(compgen …)) would expand -? as a pattern (a file named -x in
# the current directory would replace it): fill COMPREPLY line by line.
_pgprobe_reply() {
    local w
    COMPREPLY=()
    while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen "$@")
}
_pgprobe() {
    local cur prev cmd="" positional=0 i w
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        case "$w" in
        --) positional=1; break ;;
        =) ((i++)) ;; # the value of --flag=value (= is in COMP_WORDBREAKS)
`)
	if v := valueFlagNames(cmds[0].flags); len(v) > 0 {
		fmt.Fprintf(&b, "        %s) [[ \"${COMP_WORDS[i+1]}\" == = ]] || ((i++)) ;;\n", bashPattern(v))
	}
	b.WriteString("        -*) ;;\n")
	fmt.Fprintf(&b, "        %s) cmd=\"$w\"; break ;;\n", strings.Join(subcommandNames(cmds), "|"))
	b.WriteString("        *) positional=1; break ;;\n        esac\n    done\n")
	b.WriteString("    if [[ \"$cur\" == = ]]; then\n        cur=\"\"\n    elif [[ \"$prev\" == = ]]; then\n        prev=\"${COMP_WORDS[COMP_CWORD-2]}\"\n    fi\n")
	b.WriteString("    case \"$cmd\" in\n")
	for _, c := range cmds[1:] {
		fmt.Fprintf(&b, "    %s)\n", c.name)
		bashCommand(&b, c, "")
		b.WriteString("        ;;\n")
	}
	b.WriteString("    *)\n")
	root := cmds[0]
	root.words = subcommandNames(cmds)
	bashCommand(&b, root, "((positional)) || ")
	b.WriteString("        ;;\n    esac\n}\ncomplete -F _pgprobe pgprobe\n")
	return b.String()
}

// bashCommand completes one command: a flag's value after the flag, a flag
// after -, else the command's words (when guard, a shell test, allows).
func bashCommand(b *strings.Builder, c command, guard string) {
	var cases strings.Builder
	var free []string
	for _, fi := range c.flags {
		switch {
		case len(fi.values) > 0:
			fmt.Fprintf(&cases, "        %s) _pgprobe_reply -W %q -- \"$cur\"; return ;;\n", bashPattern(fi.names), strings.Join(fi.values, " "))
		case fi.isFile():
			fmt.Fprintf(&cases, "        %s) _pgprobe_reply -f -- \"$cur\"; compopt -o filenames 2>/dev/null; return ;;\n", bashPattern(fi.names))
		case fi.isDir():
			fmt.Fprintf(&cases, "        %s) _pgprobe_reply -d -- \"$cur\"; compopt -o filenames 2>/dev/null; return ;;\n", bashPattern(fi.names))
		case fi.takesValue():
			free = append(free, fi.names...)
		}
	}
	if len(free) > 0 {
		fmt.Fprintf(&cases, "        %s) return ;; # a value pgprobe cannot guess\n", bashPattern(free))
	}
	if cases.Len() > 0 {
		fmt.Fprintf(b, "        case \"$prev\" in\n%s        esac\n", cases.String())
	}
	fmt.Fprintf(b, "        if [[ \"$cur\" == -* ]]; then\n            _pgprobe_reply -W %q -- \"$cur\"\n", strings.Join(allFlagNames(c.flags), " "))
	if len(c.words) > 0 {
		fmt.Fprintf(b, "        else\n            %s_pgprobe_reply -W %q -- \"$cur\"\n", guard, strings.Join(c.words, " "))
	}
	b.WriteString("        fi\n")
}

// bashPattern is a case pattern matching names; ? is quoted, as it would
// match any one character.
func bashPattern(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ReplaceAll(n, "?", `\?`)
	}
	return strings.Join(out, "|")
}
