#!/usr/bin/env bash
# The project's test command: go vet, then every test with the race detector.
# Tests start real PostgreSQL 15 servers (internal/pgtest), so on a machine
# without them (a fresh Debian 12, run as root) this installs them first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian keeps initdb and pg_ctl off PATH.
export PATH="$PATH:/usr/lib/postgresql/15/bin:/usr/local/go/bin:/usr/sbin:/sbin"

missing() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null || return 0; done
	return 1
}

packages=()
missing initdb pg_ctl postgres psql pg_isready && packages+=(postgresql-15 postgresql-client-15)
missing gcc && packages+=(gcc libc6-dev) # go test -race needs cgo
# e2e_pooler_test.go runs the real PgBouncer (Debian's puts it in /usr/sbin).
missing pgbouncer && packages+=(pgbouncer)
# The network-layout tests run clients in namespaces (internal/pgtest/sandbox.go).
missing unshare mount && packages+=(util-linux mount)
missing ip && packages+=(iproute2)
if ((${#packages[@]})); then
	echo "test.sh: installing ${packages[*]}" >&2
	sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || { echo "test.sh: run as root (or install sudo) to install ${packages[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q </dev/null
	"${sudo[@]}" apt-get install -y -q --no-install-recommends --no-upgrade "${packages[@]}" </dev/null
fi

if ! command -v go >/dev/null; then
	echo "test.sh: Go is not installed; install Go $(sed -n "s/^go //p" go.mod) or newer and put it on PATH (see README.md)" >&2
	exit 1
fi

go vet ./...
# The root package's end-to-end tests take 3 to 4 minutes here; a slower
# machine must not hit go test's default 10-minute limit.
go test -race -count=1 -timeout 30m ./...

# A short fuzz run of every fuzz target (go test takes one -fuzz pattern per
# package and invocation). FUZZTIME=0 skips it; the default keeps the four
# targets of today under about a minute in all.
fuzztime=${FUZZTIME:-10s}
if [[ $fuzztime != 0 ]]; then
	while IFS=: read -r file name; do
		pkg=./$(dirname "$file")
		echo "test.sh: fuzzing $name in $pkg for $fuzztime" >&2
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
	done < <(grep -rHo --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+' . | sed -E 's|^\./||; s|:func |:|' | sort)
fi
