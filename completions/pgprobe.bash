# bash completion for pgprobe (generated: pgprobe completion bash)
_pgprobe_reply() {
    local w
    COMPREPLY=()
    while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -W "$1" -- "$2")
}
_pgprobe() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        --output|-o) _pgprobe_reply "timeline json ndjson table" "$cur"; return ;;
        --color) _pgprobe_reply "auto always never" "$cur"; return ;;
        completion) _pgprobe_reply "bash zsh fish powershell" "$cur"; return ;;
    esac
    if [[ "$cur" == -* ]]; then
        _pgprobe_reply "--color --concurrency --count --dbname --help --host --min-cert-days --min-tls-version --output --password --ping --port --quiet --seed --targets-file --timeout --username --verbose --version --wait -? -U -V -W -d -h -n -o -p -q -t -v" "$cur"
    elif [[ $COMP_CWORD -eq 1 ]]; then
        _pgprobe_reply "settings listen demo exporter completion" "$cur"
    fi
}
complete -F _pgprobe pgprobe
