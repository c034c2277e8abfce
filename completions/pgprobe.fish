# pgprobe fish shell completion

function __fish_pgprobe_no_subcommand --description 'Test if there has been any subcommand yet'
    for i in (commandline -opc)
        if contains -- $i settings listen demo completion
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
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l help -s ? -d 'show help'
complete -r -c pgprobe -n '__fish_pgprobe_no_subcommand' -a 'listen' -d 'the server side: answer clients as ProcessStartupPacket does and record what they send'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l addr -r -d 'TCP address to listen on, `HOST:PORT` (port 0 picks a free one)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l unix -r -d 'also listen on a Unix socket in `DIR` (DIR/.s.PGSQL.PORT, PORT from --addr)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l ssl -r -d 'answer SSLRequest with \'S\' and accept TLS (`on`), or with \'N\' (off)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l cert -r -d 'server certificate `FILE` (PEM); default: a self-signed one made at start for the addresses listened on'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l key -r -d 'private key `FILE` (PEM) of --cert'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l direct-ssl -d 'also accept PostgreSQL 17 direct TLS (sslnegotiation=direct; ALPN "postgresql" required)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l auth -r -d 'authentication to ask for: trust, password, md5 or scram-sha-256 (`METHOD`); any password is accepted and never shown'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l then -r -d 'after authentication: error (a FATAL error saying this is pgprobe) or ok (complete the startup; queries get an error) (`WHAT`)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l output -s o -r -d 'output `FORMAT` per client: timeline, json (one document per client) or ndjson (one line per client)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l color -r -d 'colour `WHEN`: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l count -r -d 'stop after `N` client connections (0: run until interrupted)'
complete -c pgprobe -n '__fish_seen_subcommand_from listen' -f -l verbose -s v -d 'show every cipher and group the client offered'
complete -c pgprobe -n '__fish_seen_subcommand_from demo' -f -l help -s ? -d 'show help'
complete -r -c pgprobe -n '__fish_pgprobe_no_subcommand' -a 'demo' -d 'probe a built-in server on loopback: works with no database at all'
complete -c pgprobe -n '__fish_seen_subcommand_from demo' -f -l output -s o -r -d 'output `FORMAT`: timeline, json, ndjson or table'
complete -c pgprobe -n '__fish_seen_subcommand_from demo' -f -l color -r -d 'colour `WHEN`: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_seen_subcommand_from demo' -f -l verbose -s v -d 'show every ParameterStatus and more detail in the timeline'
complete -c pgprobe -n '__fish_seen_subcommand_from completion' -f -l help -s ? -d 'show help'
complete -r -c pgprobe -n '__fish_pgprobe_no_subcommand' -a 'completion' -d 'print a shell completion script'
