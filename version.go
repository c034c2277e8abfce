package main

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set for release builds with -ldflags "-X main.version=…".
var version = ""

// devVersion is the version of a build that has none stamped in.
const devVersion = "0.0.0-dev"

// versionString is what --version prints after the name: the version, the
// commit when the build knows it, and the Go version and platform, as in
// "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64".
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return describeVersion(version, bi, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
}

// rePseudo matches a Go pseudo-version (a commit, not a release).
var rePseudo = regexp.MustCompile(`-(?:0\.)?\d{14}-[0-9a-f]{12}`)

func describeVersion(stamped string, bi *debug.BuildInfo, goPlatform string) string {
	v := stamped
	var commit, modified string
	if bi != nil {
		// go install …@v1.2.3 stamps the module's version; a build from a
		// checkout stamps a pseudo-version, or (devel), which the commit
		// below says better.
		if m := bi.Main.Version; v == "" && m != "" && m != "(devel)" && !rePseudo.MatchString(m) && !strings.HasSuffix(m, "+dirty") {
			v = m
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	if v == "" {
		v = devVersion
	}
	if commit != "" {
		v += " (commit " + commit[:min(12, len(commit))]
		if modified == "true" {
			v += ", modified"
		}
		v += ")"
	}
	return v + " " + goPlatform
}
