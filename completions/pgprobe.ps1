# PowerShell completion for pgprobe (generated: pgprobe completion powershell)
Register-ArgumentCompleter -Native -CommandName pgprobe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    $command = ''
    foreach ($w in $words) { if ($w -ne $wordToComplete -and @('settings', 'listen', 'demo', 'exporter', 'scan', 'completion') -contains $w) { $command = $w; break } }
    $offer = switch ($command) {
        'settings' { @('--color', '--dbname', '--help', '--host', '--output', '--port', '--username', '-?', '-U', '-d', '-h', '-o', '-p') }
        'listen' { @('--addr', '--auth', '--cert', '--color', '--count', '--direct-ssl', '--help', '--key', '--keytab', '--output', '--protocol', '--ssl', '--then', '--unix', '--verbose', '-?', '-o', '-v') }
        'demo' { @('--color', '--help', '--output', '--verbose', '-?', '-o', '-v') }
        'exporter' { @('--config', '--config.check', '--help', '--max-concurrent-probes', '--timeout-offset', '--web.config.file', '--web.listen-address', '-?') }
        'scan' { @('--color', '--concurrency', '--dbname', '--fail-on', '--help', '--host', '--output', '--port', '--timeout', '--username', '--users', '-?', '-U', '-d', '-h', '-o', '-p', '-t') }
        'completion' { @('bash', 'zsh', 'fish', 'powershell', '--help', '-?') }
        default { @('settings', 'listen', 'demo', 'exporter', 'scan', 'completion', '--color', '--concurrency', '--count', '--dbname', '--help', '--host', '--interval', '--min-cert-days', '--min-ticket-hours', '--min-tls-version', '--output', '--password', '--ping', '--port', '--quiet', '--save-chain', '--seed', '--targets-file', '--timeout', '--username', '--verbose', '--version', '--wait', '-?', '-U', '-V', '-W', '-d', '-h', '-n', '-o', '-p', '-q', '-t', '-v') }
    }
    $offer |
        Where-Object { $_ -like "$wordToComplete*" } |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
