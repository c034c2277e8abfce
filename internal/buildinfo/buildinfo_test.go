package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestDescribeVersion(t *testing.T) {
	const goPlatform = "go1.26.0 linux/amd64"
	checkout := func(version, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/pgprobe/pgprobe", Version: version}}
		if modified != "" {
			bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"}, {Key: "vcs.modified", Value: modified}}
		}
		return bi
	}
	for _, tc := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          string
	}{
		{"no build info", "", nil, "0.0.0-dev go1.26.0 linux/amd64"},
		{"go build in a checkout", "", checkout("(devel)", "false"), "0.0.0-dev (commit 1a2b3c4d5e6f) go1.26.0 linux/amd64"},
		{"uncommitted changes", "", checkout("(devel)", "true"), "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64"},
		{"pseudo-version", "", checkout("v0.0.0-20260101120000-1a2b3c4d5e6f+dirty", "true"), "0.0.0-dev (commit 1a2b3c4d5e6f, modified) go1.26.0 linux/amd64"},
		{"go install @v1.2.3", "", checkout("v1.2.3", ""), "v1.2.3 go1.26.0 linux/amd64"},
		{"release build", "1.2.3", checkout("(devel)", "false"), "1.2.3 (commit 1a2b3c4d5e6f) go1.26.0 linux/amd64"},
		{"release build, no checkout", "1.2.3", checkout("(devel)", ""), "1.2.3 go1.26.0 linux/amd64"},
	} {
		if got := Describe(tc.stamped, tc.bi, goPlatform); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
