#!/usr/bin/env bash
# Cross-builds pgprobe's release: one static binary (CGO_ENABLED=0) per
# platform, built as the README builds it, with the version stamped in,
# packed with the README, LICENSE, CHANGELOG, man page and completions into
# pgprobe_VERSION_OS_ARCH.tar.gz (.zip for Windows), plus SHA256SUMS.
#
#   scripts/release.sh [DIST]       DIST defaults to dist/ ($DIST works too)
#
#   VERSION=v1.2.3     the version to stamp (default: git describe --tags)
#   PLATFORMS="linux/amd64 windows/arm64"   a subset (default: all eight)
#
# Without cgo, Linux and FreeBSD binaries resolve names with Go's own
# resolver instead of getaddrinfo (go.mod's godebug netdns=cgo cannot apply):
# /etc/hosts and DNS as usual, but neither /etc/gai.conf nor NSS modules, so
# a name with several addresses may be tried in a different order than
# libpq's. macOS and Windows binaries ask the system's resolver either way.
# Build from source with cgo (see README.md) where that order matters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dist=${1:-${DIST:-dist}}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64 freebsd/arm64}
# Reproducible archives: every file dated at the commit, owned by root.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

case $version in
*/* | *' '* | '') echo "release.sh: VERSION \"$version\" must be one word without a slash (e.g. v1.2.3)" >&2; exit 3 ;;
esac
for tool in tar gzip sha256sum zip; do
	command -v "$tool" >/dev/null || { echo "release.sh: $tool is missing; install it (Debian: apt-get install $tool)" >&2; exit 1; }
done

mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
# Only this script's own files are replaced: DIST may be any directory.
rm -f "$dist"/pgprobe_*.tar.gz "$dist"/pgprobe_*.zip "$dist/SHA256SUMS"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

archives=()
for platform in $platforms; do
	os=${platform%/*} arch=${platform#*/}
	name=pgprobe_${version}_${os}_${arch}
	exe=pgprobe
	[[ $os == windows ]] && exe=pgprobe.exe
	echo "release.sh: building $name" >&2
	mkdir -p "$stage/$name"
	GOOS=$os GOARCH=$arch CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$stage/$name/$exe" .
	cp -R README.md LICENSE CHANGELOG.md man completions "$stage/$name/"
	find "$stage/$name" -exec touch -h -d "@$epoch" {} +
	if [[ $os == windows ]]; then
		(cd "$stage" && find "$name" | LC_ALL=C sort | zip -qX -@ "$dist/$name.zip")
		archives+=("$name.zip")
	else
		tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
			gzip -9n >"$dist/$name.tar.gz"
		archives+=("$name.tar.gz")
	fi
done
(cd "$dist" && sha256sum "${archives[@]}" >SHA256SUMS)
echo "release.sh: ${#archives[@]} archives and SHA256SUMS in $dist" >&2
