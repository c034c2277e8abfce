# PowerShell completion for pgprobe (generated: pgprobe completion powershell)
Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    @('settings', 'listen', 'demo', 'completion', '--color', '--concurrency', '--count', '--dbname', '--help', '--host', '--interval', '--min-cert-days', '--min-tls-version', '--output', '--password', '--ping', '--port', '--quiet', '--save-chain', '--seed', '--targets-file', '--timeout', '--username', '--verbose', '--version', '--wait', '-?', '-U', '-V', '-W', '-d', '-h', '-n', '-o', '-p', '-q', '-t', '-v') |
        Where-Object { $_ -like "$wordToComplete*" } |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
