# fish completion for pgprobe (generated: pgprobe completion fish)

function __fish_pgprobe_command --description 'the pgprobe command being completed'
    set -l words (commandline -opc)
    set -l skip 0
    for w in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--host' '-h' '--port' '-p' '--username' '-U' '--dbname' '-d' '--output' '-o' '--color' '--timeout' '-t' '--min-cert-days' '--min-ticket-hours' '--min-tls-version' '--save-chain' '--seed' '--wait' '--targets-file' '--concurrency' '--count' '-n' '--interval'
                set skip 1
            case '-*'
            case settings listen demo exporter scan completion
                echo $w
                return
            case '*'
                echo pgprobe-target
                return
        end
    end
    echo pgprobe
end

function __fish_pgprobe_is
    contains -- (__fish_pgprobe_command) $argv
end

# Targets are not file names.
complete -c pgprobe -f
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l host -s 'h' -x -d 'database server host or socket directory (as psql -h)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l port -s 'p' -x -d 'database server port (as psql -p)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l username -s 'U' -x -d 'database user name (as psql -U)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l dbname -s 'd' -x -d 'database name, or a connection string or URI (as psql -d)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l password -s 'W' -d 'prompt for a password before connecting'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l output -s 'o' -x -a 'timeline json ndjson table' -d 'output FORMAT: timeline, json, ndjson or table'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l color -x -a 'auto always never' -d 'colour WHEN: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l ping -d 'stop at the server\'s first answer to the startup message and exit as pg_isready would'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l timeout -s 't' -x -d 'deadline for the whole probe: DURATION such as 10s, or seconds; 0 for none'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l verbose -s 'v' -d 'show every ParameterStatus and more detail in the timeline'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l min-cert-days -x -d 'check: the server certificate must stay valid at least N more days (exit 4 otherwise)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l min-ticket-hours -x -d 'check: the Kerberos ticket (GSSAPI) must stay valid at least N more hours (exit 4 otherwise)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l min-tls-version -x -a '1.2 1.3' -d 'check: the connection must use TLS VERSION 1.2 or 1.3 or newer (exit 4 otherwise)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l save-chain -r -F -d 'write the certificate chain the server sent to FILE (PEM, leaf first), also when it failed verification; one target only'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l seed -x -d 'seed N for load_balance_hosts=random\'s shuffles, to repeat a run (0 or unset: random)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l quiet -s 'q' -d 'print nothing at all: the exit code is the answer (usage errors still go to stderr)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l wait -x -d 'retry with backoff until the target succeeds or DURATION (such as 30s) is spent; the exit code is the last try\'s'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l targets-file -r -F -d 'probe the targets listed in FILE, one connection string or URI a line (# starts a comment, also after a target; - for stdin)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l concurrency -x -d 'probe at most N targets at once'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l count -s 'n' -x -d 'probe each target N times in a row and report how many failed and min, p50, p95, max, mean and standard deviation of every step'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l interval -x -d 'with -n: pause DURATION (such as 1s or 500ms, or seconds) between two runs; 0 for none'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe pgprobe-target' -l version -s 'V' -d 'print the version, the commit and the Go version it was built with'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l host -s 'h' -x -d 'database server host or socket directory (as psql -h)'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l port -s 'p' -x -d 'database server port (as psql -p)'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l username -s 'U' -x -d 'database user name (as psql -U)'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l dbname -s 'd' -x -d 'database name, or a connection string or URI (as psql -d)'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l color -x -a 'auto always never' -d 'colour WHEN: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l output -s 'o' -x -a 'table json' -d 'output FORMAT: table or json'
complete -c pgprobe -n '__fish_pgprobe_is settings' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l addr -x -d 'TCP address to listen on, HOST:PORT (port 0 picks a free one)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l unix -x -a '(__fish_complete_directories)' -d 'also listen on a Unix socket in DIR (DIR/.s.PGSQL.PORT, PORT from --addr)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l ssl -x -a 'on off' -d 'answer SSLRequest with \'S\' and accept TLS (on), or with \'N\' (off)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l cert -r -F -d 'server certificate FILE (PEM); default: a self-signed one made at start for the addresses listened on'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l key -r -F -d 'private key FILE (PEM) of --cert'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l direct-ssl -d 'also accept PostgreSQL 17 direct TLS (sslnegotiation=direct; ALPN "postgresql" required)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l auth -x -a 'trust password md5 scram-sha-256 gss' -d 'authentication to ask for: trust, password, md5, scram-sha-256 or, with --keytab, gss (METHOD); any password is accepted and never shown'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l keytab -r -F -d 'Kerberos keytab FILE (krb_server_keyfile): answer GSSENCRequest with \'G\', accept GSSAPI encryption and gss authentication, and record the client\'s tokens (sizes and principals, never their contents)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l protocol -x -d 'newest protocol VERSION to speak: 3.0 (as PostgreSQL 15 to 17: a client asking for 3.2 gets NegotiateProtocolVersion) or 3.2 (as PostgreSQL 18: accepted, with a 32-byte cancel key)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l then -x -a 'error ok' -d 'after authentication: error (a FATAL error saying this is pgprobe) or ok (complete the startup; queries get an error) (WHAT)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l output -s 'o' -x -a 'timeline json ndjson' -d 'output FORMAT per client: timeline, json (one document per client) or ndjson (one line per client)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l color -x -a 'auto always never' -d 'colour WHEN: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l count -x -d 'stop after N client connections (0: run until interrupted)'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l verbose -s 'v' -d 'show every cipher and group the client offered'
complete -c pgprobe -n '__fish_pgprobe_is listen' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is demo' -l output -s 'o' -x -a 'timeline json ndjson table' -d 'output FORMAT: timeline, json, ndjson or table'
complete -c pgprobe -n '__fish_pgprobe_is demo' -l color -x -a 'auto always never' -d 'colour WHEN: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_is demo' -l verbose -s 'v' -d 'show every ParameterStatus and more detail in the timeline'
complete -c pgprobe -n '__fish_pgprobe_is demo' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l config -r -F -d 'the modules and allowed_targets, YAML FILE (default: one module, default, that pings with libpq\'s defaults)'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l web.listen-address -x -d 'ADDRESS to serve /probe and /metrics on (port 0 picks a free one)'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l web.config.file -r -F -d 'exporter-toolkit\'s web configuration FILE: TLS and basic authentication for the exporter\'s own endpoints'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l max-concurrent-probes -x -d 'probe at most N targets at once; other scrapes wait until their deadline'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l timeout-offset -x -d 'DURATION subtracted from Prometheus\' scrape timeout to make the probe\'s deadline'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l config.check -d 'check the configuration file and exit: 0 when valid, 3 otherwise'
complete -c pgprobe -n '__fish_pgprobe_is exporter' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l host -s 'h' -x -d 'database server host or socket directory (as psql -h)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l port -s 'p' -x -d 'database server port (as psql -p)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l username -s 'U' -x -d 'database user name (as psql -U)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l dbname -s 'd' -x -d 'database name, or a connection string or URI (as psql -d)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l color -x -a 'auto always never' -d 'colour WHEN: auto, always or never (NO_COLOR is honoured)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l users -x -d 'look at the authentication of USERS, a comma-separated list (default: the target\'s user)'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l fail-on -x -a 'info low medium high critical' -d 'exit 4 when a finding is at or above SEVERITY: info, low, medium, high or critical'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l output -s 'o' -x -a 'text json' -d 'output FORMAT: text or json'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l timeout -s 't' -x -d 'deadline for each connection of the scan: DURATION such as 5s, or seconds'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l concurrency -x -d 'open at most N connections at once'
complete -c pgprobe -n '__fish_pgprobe_is scan' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is completion' -l help -s '?' -d 'show help'
complete -c pgprobe -n '__fish_pgprobe_is completion' -a 'bash zsh fish powershell'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a settings -d 'show the resolved settings and where each came from; no connection'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a listen -d 'the server side: answer clients as ProcessStartupPacket does and record what they send'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a demo -d 'probe a built-in server on loopback: works with no database at all'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a exporter -d 'a Prometheus exporter: GET /probe?target=…&module=… (blackbox_exporter\'s conventions)'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a scan -d 'what a server accepts (TLS versions, suites, groups, certificate, each user\'s authentication), graded'
complete -c pgprobe -n '__fish_pgprobe_is pgprobe' -a completion -d 'print a shell completion script'
