// Package buildinfo words what --version prints from what the build
// recorded: the version stamped in with -X, the module version of go
// install, the commit, and the Go version and platform.
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// devVersion is the version of a build that has none stamped in.
const devVersion = "0.0.0-dev"

// Version is what --version prints after the name: the version (stamped,
// as main.version is by a release build), the commit when the build knows
// it, and the Go version and platform, as in
// "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64".
func Version(stamped string) string {
	bi, _ := debug.ReadBuildInfo()
	return Describe(stamped, bi, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
}

// rePseudo matches a Go pseudo-version (a commit, not a release).
var rePseudo = regexp.MustCompile(`-(?:0\.)?\d{14}-[0-9a-f]{12}`)

// Describe is Version for the build bi (nil: not known) on goPlatform.
func Describe(stamped string, bi *debug.BuildInfo, goPlatform string) string {
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
