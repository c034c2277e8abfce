#!/usr/bin/env bash
# The exporter benchmark (issue 14): pgprobe exporter, built as the README
# builds pgprobe and run as its own process, answers 1,000 targets behind a
# 50 ms round trip (pgtest's delay proxy in front of the project's test
# server: TLS 1.3, SCRAM-SHA-256-PLUS), each scraped every 15 s with
# Prometheus' timeout header, for EXPORTER_BENCH_SECONDS (default 60) per
# module (ping, then full). Prints the exporter's CPU in cores (its own,
# from /proc), its peak RSS, and the scrape durations' p50 and p99.
# Goal for the full module: at most 0.25 core and 150 MiB.
# See BenchmarkExporter in exporter_bench_test.go.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "exporter: 1000 targets every 15 s, 50 ms round trip, ${EXPORTER_BENCH_SECONDS:-60} s per module"
out=$(go test -run '^$' -bench 'BenchmarkExporter$' -benchtime 1x -timeout 20m . 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep '^BenchmarkExporter' | awk '{
	m = $1; sub(/^BenchmarkExporter\/module=/, "", m); sub(/-[0-9]+$/, "", m)
	for (i = 3; i < NF; i += 2) v[$(i + 1)] = $i
	printf "  %-5s  %.3f cores  peak RSS %.1f MiB  scrape p50 %.0f ms  p99 %.0f ms  (%d scrapes)\n", m, v["exporter-cores"], v["peak-RSS-MiB"], v["p50-ms"], v["p99-ms"], v["scrapes"]
}'
