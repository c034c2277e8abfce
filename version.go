package main

import "github.com/pgprobe/pgprobe/internal/buildinfo"

// version is set for release builds with -ldflags "-X main.version=…".
var version = ""

// versionString is what --version prints after the name.
func versionString() string { return buildinfo.Version(version) }
