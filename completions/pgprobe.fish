# pgprobe fish shell completion

function __fish_pgprobe_no_subcommand --description 'Test if there has been any subcommand yet'
    for i in (commandline -opc)
        if contains -- $i settings completion
            return 1
        end
    end
    return 0
end

complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l host -s h -r -d 'database server host or socket directory (as psql -h)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l port -s p -r -d 'database server port (as psql -p)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l username -s U -r -d 'database user name (as psql -U)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l dbname -s d -r -d 'database name, or a connection string or URI (as psql -d)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l password -s W -d 'prompt for a password before connecting'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l output -s o -r -d 'output `FORMAT`: timeline, json, ndjson or table'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l color -r -d 'colour `WHEN`: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l ping -d 'stop at the server\'s first answer to the startup message and exit as pg_isready would'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l timeout -s t -r -d 'deadline for the whole probe: `DURATION` such as 10s, or seconds; 0 for none'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l verbose -s v -d 'show every ParameterStatus and more detail in the timeline'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l min-cert-days -r -d 'check: the server certificate must stay valid at least `N` more days (exit 4 otherwise)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l min-tls-version -r -d 'check: the connection must use TLS `VERSION` 1.2 or 1.3 or newer (exit 4 otherwise)'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l help -s ? -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_no_subcommand' -f -l version -s V -d 'print the version'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l help -s ? -d 'show help'
complete -r -c pgprobe -n '__fish_pgprobe_no_subcommand' -a 'settings' -d 'show the resolved settings and where each came from; no connection'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l host -s h -r -d 'database server host or socket directory (as psql -h)'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l port -s p -r -d 'database server port (as psql -p)'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l username -s U -r -d 'database user name (as psql -U)'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l dbname -s d -r -d 'database name, or a connection string or URI (as psql -d)'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l color -r -d 'colour `WHEN`: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_seen_subcommand_from settings' -f -l output -s o -r -d 'output `FORMAT`: table or json'
complete -c pgprobe -n '__fish_seen_subcommand_from completion' -f -l help -s ? -d 'show help'
complete -r -c pgprobe -n '__fish_pgprobe_no_subcommand' -a 'completion' -d 'print a shell completion script'
