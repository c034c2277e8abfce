package completion

import (
	"fmt"
	"strings"
)

// powershellCompletion offers the subcommands and the flags of the command
// being completed (the first word after pgprobe that is a subcommand, else
// the default command).
func powershellCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("# PowerShell completion for pgprobe (generated: pgprobe completion powershell)\n")
	b.WriteString("Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {\n")
	b.WriteString("    param($wordToComplete, $commandAst, $cursorPosition)\n")
	b.WriteString("    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })\n")
	b.WriteString("    $command = ''\n")
	b.WriteString("    foreach ($w in $words) { if ($w -ne $wordToComplete -and @(" + psList(subcommandNames(cmds)) + ") -contains $w) { $command = $w; break } }\n")
	b.WriteString("    $offer = switch ($command) {\n")
	for _, c := range cmds[1:] {
		fmt.Fprintf(&b, "        '%s' { @(%s) }\n", c.name, psList(append(append([]string{}, c.words...), allFlagNames(c.flags)...)))
	}
	fmt.Fprintf(&b, "        default { @(%s) }\n    }\n", psList(append(subcommandNames(cmds), allFlagNames(cmds[0].flags)...)))
	b.WriteString("    $offer |\n")
	b.WriteString("        Where-Object { $_ -like \"$wordToComplete*\" } |\n")
	b.WriteString("        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }\n")
	b.WriteString("}\n")
	return b.String()
}

func psList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}
