#!/usr/bin/env bash
# Whole-process benchmarks against one local PostgreSQL 15 with TLS and SCRAM.
# Two exchanges, each timed against "the floor" (scripts/floor: the least a Go
# client does for the same exchange, standard library only) and the usual
# tools:
#   --ping: connect, SSLRequest, TLS 1.3, StartupMessage, the first answer;
#           pgprobe --ping vs floor -ping vs pg_isready
#   full:   the same, then SCRAM-SHA-256-PLUS through ReadyForQuery, Terminate;
#           pgprobe vs floor vs `psql -c ''` and `openssl s_client -starttls`
# Runs are interleaved (each round runs every command once) and the medians
# and their ratios are printed. RUNS (default 21) sets the number of rounds.
# The start-up floor is timed the same way: /bin/true, an empty Go program,
# and the --version of pgprobe and pg_isready (start-up and exit, no
# connection). pgprobe and the floor are built as the README builds pgprobe.
# Each command is timed from this shell (EPOCHREALTIME, no helper process),
# so a figure is the command's fork, exec, run and exit; its CPU (user + sys,
# from the shell's `times`) is the mean over the rounds. Each must succeed
# once before timing starts. The probe's own record (duration_ms, inside the
# process) is summarised next. For the client's CPU profile in-process, see
# BenchmarkProbePing and BenchmarkProbeFull in probe/bench_test.go.
# FLEET_BENCHTIME=0 skips the fleet benchmark at the end.
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

# The README's build line (TestBinaryModules checks that they agree).
build=(go build -tags urfave_cli_no_docs -trimpath -ldflags='-s -w')
"${build[@]}" -o "$work/pgprobe" .
"${build[@]}" -o "$work/floor" ./scripts/floor
# The floor for any Go program: the runtime's start-up and exit.
mkdir "$work/hello"
printf 'package main\n\nfunc main() {}\n' >"$work/hello/main.go"
(cd "$work/hello" && "${build[@]}" -o "$work/hello.bin" main.go)
export PGPASSWORD=bench-secret
target="host=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=require"

# One function a command, so that arguments stay whole (the target is one
# argument, as psql takes it) and nothing but the command itself is forked.
cmd_true() { /bin/true; }
cmd_go_hello() { "$work/hello.bin"; }
cmd_pgprobe_version() { "$work/pgprobe" --version; }
cmd_isready_version() { pg_isready --version; }
cmd_pgprobe_ping() { "$work/pgprobe" --ping -q -h 127.0.0.1 -p "$port" -U postgres; }
cmd_floor_ping() { "$work/floor" -ping 127.0.0.1 "$port" postgres; }
cmd_pg_isready() { pg_isready -q -h 127.0.0.1 -p "$port" -U postgres; }
cmd_pgprobe_full() { "$work/pgprobe" -q "$target"; }
cmd_floor_full() { "$work/floor" 127.0.0.1 "$port" postgres postgres; }
cmd_psql() { psql -X -q -d "$target" -c ''; }
cmd_openssl() { openssl s_client -starttls postgres -connect "127.0.0.1:$port" -brief </dev/null; }
floor=(true go_hello pgprobe_version isready_version)
names=(pgprobe_ping floor_ping pg_isready pgprobe_full floor_full psql openssl)
for n in "${floor[@]}" "${names[@]}"; do
	if ! "cmd_$n" >/dev/null 2>"$work/$n.err"; then
		echo "bench.sh: $n failed, so its time would mean nothing:" >&2
		cat "$work/$n.err" >&2
		exit 1
	fi
	: >"$work/$n.times"
	: >"$work/$n.cpu"
done
# children_us sets $us to the CPU (user + sys, microseconds; `times` has
# milliseconds) of this shell's waited-for children so far, without forking:
# a forked helper's CPU would be counted, and a subshell's `times` is its own.
children_us() {
	local u s
	times >"$work/times.out"
	{ read -r _ _; read -r u s; } <"$work/times.out"
	us=0
	for t in "$u" "$s"; do
		t=${t%s}
		local m=${t%%m*} sec=${t#*m}
		us=$((us + 10#$m * 60000000 + 10#${sec%.*} * 1000000 + 10#${sec#*.} * 1000))
	done
}
for ((i = 0; i < runs; i++)); do
	for n in "${floor[@]}" "${names[@]}"; do
		children_us
		cpu0=$us
		start=$EPOCHREALTIME
		"cmd_$n" >/dev/null 2>&1 || true
		end=$EPOCHREALTIME
		children_us
		# microseconds
		echo $((10#${end/./} - 10#${start/./})) >>"$work/$n.times"
		echo $((us - cpu0)) >>"$work/$n.cpu"
	done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mean() { awk '{s += $1} END {print s / NR}' "$1"; }
declare -A med cpu
printf '%-16s %12s %12s\n' command median_ms mean_cpu_ms
for n in "${floor[@]}" "${names[@]}"; do
	med[$n]=$(median "$work/$n.times")
	cpu[$n]=$(mean "$work/$n.cpu")
	awk -v n="$n" -v us="${med[$n]}" -v c="${cpu[$n]}" 'BEGIN {printf "%-16s %12.2f %12.2f\n", n, us/1000, c/1000}'
	if [[ $n == isready_version ]]; then echo; fi
done
ratio() { awk -v a="${med[$1]}" -v b="${med[$2]}" 'BEGIN {printf "%.2f", a/b}'; }
cpuratio() { awk -v a="${cpu[$1]}" -v b="${cpu[$2]}" 'BEGIN {printf "%.2f", a/b}'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN {print (r <= g) ? "met" : "not met"}'; }
echo
r=$(ratio pgprobe_ping floor_ping)
echo "pgprobe --ping / floor -ping:            $r  (goal ≤ 1.15: $(verdict "$r" 1.15)); CPU $(cpuratio pgprobe_ping floor_ping)"
echo "pgprobe TLS1.3+SCRAM / floor:            $(ratio pgprobe_full floor_full)  CPU $(cpuratio pgprobe_full floor_full)"
r=$(ratio pgprobe_ping pg_isready)
echo "pgprobe --ping / pg_isready:             $r  (goal ≤ 0.2: $(verdict "$r" 0.2))"
r=$(ratio pgprobe_full psql)
echo "pgprobe TLS1.3+SCRAM / psql -c '':       $r  (goal ≤ 0.3: $(verdict "$r" 0.3))"
echo "pgprobe TLS1.3+SCRAM / openssl s_client: $(ratio pgprobe_full openssl)"
echo "pgprobe --version / empty Go program:   $(ratio pgprobe_version go_hello)"
echo "($runs interleaved rounds, $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d))"

# Inside the process: the probe's own record, same targets, medians over RUNS
# (ms). Most of it is waiting for the server: the answer to SSLRequest comes
# once the postmaster has forked a backend, the TLS handshake and each
# authentication step include the server's work.
if command -v jq >/dev/null; then
	echo
	echo "inside pgprobe (its record, medians in ms):"
	for mode in ping full; do
		: >"$work/in_$mode"
		for ((i = 0; i < runs; i++)); do
			if [[ $mode == ping ]]; then
				"$work/pgprobe" --ping -o json -h 127.0.0.1 -p "$port" -U postgres
			else
				"$work/pgprobe" -o json "$target"
			fi | jq -r 'def s(x): [.attempts[].events[] | select(.step == x) | .duration_ms] | add // 0;
				[.duration_ms, s("connect"), s("ssl_response"), s("tls_handshake"), s("auth_request")] | @tsv' >>"$work/in_$mode" || true
		done
		col() { cut -f"$1" "$work/in_$mode" | sort -n | awk '{a[NR] = $1} END {printf "%5.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
		echo "  $mode: whole probe $(col 1)  connect $(col 2)  ssl_response $(col 3)  tls_handshake $(col 4)  auth_request(s) $(col 5)"
	done
fi

# ---- fleet benchmark (issue 7): 1,000 targets, 50 ms round trip ----------
# BenchmarkFleet (fleet_bench_test.go): the built binary probes 1,000 targets
# (TLS 1.3 + SCRAM against the project's test server) through pgtest's delay
# proxy, 25 ms each way, and reports wall time and peak RSS of the pgprobe
# process, at the default --concurrency and at one that can meet the goals.
# FLEET_BENCHTIME (default 3x) sets the number of runs.
# The exporter's benchmark (issue 14: scripts/bench-exporter.sh) takes two
# minutes more; EXPORTER_BENCH=1 runs it here too.
if [[ ${EXPORTER_BENCH:-0} == 1 ]]; then
	echo
	bash scripts/bench-exporter.sh
fi
[[ ${FLEET_BENCHTIME:-} == 0 ]] && exit 0
echo
echo "fleet: 1000 targets, 50 ms round trip (25 ms each way), TLS 1.3 + SCRAM"
fleet_out=$(go test -run '^$' -bench 'BenchmarkFleet$' -benchtime "${FLEET_BENCHTIME:-3x}" . 2>&1) || { echo "$fleet_out"; exit 1; }
echo "$fleet_out" | grep '^BenchmarkFleet' | awk '{
	for (i = 1; i < NF; i++) { if ($(i+1) == "wall-ms/op") w = $i; if ($(i+1) == "peak-RSS-MiB") m = $i; if ($(i+1) == "pgprobe-cpu-ms/op") c = $i }
	n = $1; sub(/^BenchmarkFleet\//, "", n); sub(/-[0-9]+$/, "", n)
	printf "%-18s wall %7.0f ms (goal ≤ 1500) %-4s  peak RSS %6.1f MiB (goal ≤ 150) %-4s  pgprobe CPU %6.0f ms\n", n, w, (w <= 1500 ? "ok" : "MISS"), m, (m <= 150 ? "ok" : "MISS"), c
}'
echo "($(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d))"
# ---- end of fleet benchmark ------------------------------------------------
