# bash completion for pgprobe (generated: pgprobe completion bash)
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
        --host|-h|--port|-p|--username|-U|--dbname|-d|--output|-o|--color|--timeout|-t|--min-cert-days|--min-ticket-hours|--min-tls-version|--save-chain|--seed|--wait|--targets-file|--concurrency|--count|-n|--interval) [[ "${COMP_WORDS[i+1]}" == = ]] || ((i++)) ;;
        -*) ;;
        settings|listen|demo|exporter|scan|completion) cmd="$w"; break ;;
        *) positional=1; break ;;
        esac
    done
    if [[ "$cur" == = ]]; then
        cur=""
    elif [[ "$prev" == = ]]; then
        prev="${COMP_WORDS[COMP_CWORD-2]}"
    fi
    case "$cmd" in
    settings)
        case "$prev" in
        --color) _pgprobe_reply -W "auto always never" -- "$cur"; return ;;
        --output|-o) _pgprobe_reply -W "table json" -- "$cur"; return ;;
        --host|-h|--port|-p|--username|-U|--dbname|-d) return ;; # a value pgprobe cannot guess
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--color --dbname --help --host --output --port --username -? -U -d -h -o -p" -- "$cur"
        fi
        ;;
    listen)
        case "$prev" in
        --unix) _pgprobe_reply -d -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --ssl) _pgprobe_reply -W "on off" -- "$cur"; return ;;
        --cert) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --key) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --auth) _pgprobe_reply -W "trust password md5 scram-sha-256 gss" -- "$cur"; return ;;
        --keytab) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --then) _pgprobe_reply -W "error ok" -- "$cur"; return ;;
        --output|-o) _pgprobe_reply -W "timeline json ndjson" -- "$cur"; return ;;
        --color) _pgprobe_reply -W "auto always never" -- "$cur"; return ;;
        --addr|--protocol|--count) return ;; # a value pgprobe cannot guess
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--addr --auth --cert --color --count --direct-ssl --help --key --keytab --output --protocol --ssl --then --unix --verbose -? -o -v" -- "$cur"
        fi
        ;;
    demo)
        case "$prev" in
        --output|-o) _pgprobe_reply -W "timeline json ndjson table" -- "$cur"; return ;;
        --color) _pgprobe_reply -W "auto always never" -- "$cur"; return ;;
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--color --help --output --verbose -? -o -v" -- "$cur"
        fi
        ;;
    exporter)
        case "$prev" in
        --config) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --web.config.file) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --web.listen-address|--max-concurrent-probes|--timeout-offset) return ;; # a value pgprobe cannot guess
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--config --config.check --help --max-concurrent-probes --timeout-offset --web.config.file --web.listen-address -?" -- "$cur"
        fi
        ;;
    scan)
        case "$prev" in
        --color) _pgprobe_reply -W "auto always never" -- "$cur"; return ;;
        --fail-on) _pgprobe_reply -W "info low medium high critical" -- "$cur"; return ;;
        --output|-o) _pgprobe_reply -W "text json" -- "$cur"; return ;;
        --host|-h|--port|-p|--username|-U|--dbname|-d|--users|--timeout|-t|--concurrency) return ;; # a value pgprobe cannot guess
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--color --concurrency --dbname --fail-on --help --host --output --port --timeout --username --users -? -U -d -h -o -p -t" -- "$cur"
        fi
        ;;
    completion)
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--help -?" -- "$cur"
        else
            _pgprobe_reply -W "bash zsh fish powershell" -- "$cur"
        fi
        ;;
    *)
        case "$prev" in
        --output|-o) _pgprobe_reply -W "timeline json ndjson table" -- "$cur"; return ;;
        --color) _pgprobe_reply -W "auto always never" -- "$cur"; return ;;
        --min-tls-version) _pgprobe_reply -W "1.2 1.3" -- "$cur"; return ;;
        --save-chain) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --targets-file) _pgprobe_reply -f -- "$cur"; compopt -o filenames 2>/dev/null; return ;;
        --host|-h|--port|-p|--username|-U|--dbname|-d|--timeout|-t|--min-cert-days|--min-ticket-hours|--seed|--wait|--concurrency|--count|-n|--interval) return ;; # a value pgprobe cannot guess
        esac
        if [[ "$cur" == -* ]]; then
            _pgprobe_reply -W "--color --concurrency --count --dbname --help --host --interval --min-cert-days --min-ticket-hours --min-tls-version --output --password --ping --port --quiet --save-chain --seed --targets-file --timeout --username --verbose --version --wait -? -U -V -W -d -h -n -o -p -q -t -v" -- "$cur"
        else
            ((positional)) || _pgprobe_reply -W "settings listen demo exporter scan completion" -- "$cur"
        fi
        ;;
    esac
}
complete -F _pgprobe pgprobe
