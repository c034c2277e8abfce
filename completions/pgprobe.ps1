# PowerShell completion for pgprobe (generated: pgprobe completion powershell)
Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    @('settings', 'listen', 'demo', 'completion', '--color', '--dbname', '--host', '--min-cert-days', '--min-tls-version', '--output', '--password', '--ping', '--port', '--timeout', '--username', '--verbose', '-U', '-W', '-d', '-h', '-o', '-p', '-t', '-v') |
        Where-Object { $_ -like "$wordToComplete*" } |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
