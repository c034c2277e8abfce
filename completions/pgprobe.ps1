# PowerShell completion for pgprobe (generated: pgprobe completion powershell)
Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    @('settings', 'listen', 'demo', 'exporter', 'completion', '--color', '--concurrency', '--count', '--dbname', '--help', '--host', '--min-cert-days', '--min-tls-version', '--output', '--password', '--ping', '--port', '--quiet', '--seed', '--targets-file', '--timeout', '--username', '--verbose', '--version', '--wait', '-?', '-U', '-V', '-W', '-d', '-h', '-n', '-o', '-p', '-q', '-t', '-v') |
        Where-Object { $_ -like "$wordToComplete*" } |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
