#!/usr/bin/env bash
# Regenerate man/pgprobe.1 and completions/ from the CLI definition.
# TestGeneratedDocs fails when they are stale; this rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^TestGeneratedDocs$' . -args -update
git status --short man completions
