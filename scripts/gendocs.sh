#!/usr/bin/env bash
# Regenerate man/pgprobe.1 and completions/ from the CLI definition.
# TestGeneratedDocs (gendocs_test.go) fails when they are stale; with -update
# it rewrites them. It is a test, not a command of the binary, because the
# man page needs urfave/cli's ToMan, which pgprobe's build leaves out
# (-tags urfave_cli_no_docs); go test builds without that tag.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^TestGeneratedDocs$' . -args -update
git status --short man completions
