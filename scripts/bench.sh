#!/usr/bin/env bash
# Whole-process benchmarks against one local PostgreSQL 15 with TLS and SCRAM:
# pgprobe --ping vs pg_isready, and a full pgprobe probe (TLS 1.3 + SCRAM)
# vs `psql -c ''` and `openssl s_client -starttls postgres`. Runs are
# interleaved (each round runs every command once) and the medians and their
# ratios are printed. RUNS (default 21) sets the number of rounds.
# The server is a throwaway cluster in a temporary directory, stopped at exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/lib/postgresql/15/bin:$PATH"
runs=${RUNS:-21}

work=$(mktemp -d)
as_pg=()
if ((EUID == 0)); then
	chown postgres "$work"
	as_pg=(runuser -u postgres --)
fi
cleanup() { "${as_pg[@]}" pg_ctl -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
echo "bench-secret" > "$work/pw"
chmod 644 "$work/pw"
"${as_pg[@]}" initdb -D "$work/data" -U postgres --pwfile="$work/pw" --auth=scram-sha-256 --no-sync >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/data/server.key" -out "$work/data/server.crt" 2>/dev/null
((EUID == 0)) && chown postgres "$work/data/server.key" "$work/data/server.crt"
chmod 600 "$work/data/server.key"
cat >>"$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
ssl = on
fsync = off
CONF
"${as_pg[@]}" pg_ctl -D "$work/data" -l "$work/log" -w start >/dev/null

go build -o "$work/pgprobe" .
export PGPASSWORD=bench-secret
target="host=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=require"

declare -A cmds=(
	[pgprobe_ping]="$work/pgprobe --ping -q -h 127.0.0.1 -p $port -U postgres"
	[pg_isready]="pg_isready -q -h 127.0.0.1 -p $port -U postgres"
	[pgprobe_full]="$work/pgprobe -q $target"
	[psql]="psql -X -q -d '$target' -c ''"
	[openssl]="openssl s_client -starttls postgres -connect 127.0.0.1:$port -brief </dev/null"
)
names=(pgprobe_ping pg_isready pgprobe_full psql openssl)
for n in "${names[@]}"; do : >"$work/$n.times"; done
for ((i = 0; i < runs; i++)); do
	for n in "${names[@]}"; do
		start=$(date +%s%N)
		bash -c "${cmds[$n]}" >/dev/null 2>&1 || true
		end=$(date +%s%N)
		echo $(((end - start) / 1000)) >>"$work/$n.times"
	done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A med
printf '%-14s %12s\n' command median_ms
for n in "${names[@]}"; do
	med[$n]=$(median "$work/$n.times")
	awk -v n="$n" -v us="${med[$n]}" 'BEGIN {printf "%-14s %12.2f\n", n, us/1000}'
done
ratio() { awk -v a="${med[$1]}" -v b="${med[$2]}" 'BEGIN {printf "%.2f", a/b}'; }
echo
echo "pgprobe --ping / pg_isready:          $(ratio pgprobe_ping pg_isready)  (goal ≤ 0.2)"
echo "pgprobe TLS1.3+SCRAM / psql -c '':    $(ratio pgprobe_full psql)  (goal ≤ 0.3)"
echo "pgprobe TLS1.3+SCRAM / openssl s_client: $(ratio pgprobe_full openssl)"
echo "($runs interleaved rounds, $(nproc) cores, $(date -u +%Y-%m-%d))"
