# bash completion for pgprobe (generated: pgprobe completion bash)
_pgprobe() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        --output|-o) COMPREPLY=($(compgen -W "timeline json ndjson table" -- "$cur")); return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        completion) COMPREPLY=($(compgen -W "bash zsh fish powershell" -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--color --concurrency --count --dbname --host --min-cert-days --min-tls-version --output --password --ping --port --quiet --seed --targets-file --timeout --username --verbose --wait -U -W -d -h -n -o -p -q -t -v" -- "$cur"))
    elif [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "settings listen demo completion" -- "$cur"))
    fi
}
complete -F _pgprobe pgprobe
