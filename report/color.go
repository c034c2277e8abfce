// Package report renders a statelog.Log for people and programs: a timeline
// for a terminal (fatih/color), one JSON document for jq, NDJSON events as
// they happen, a table for many targets (olekukonko/tablewriter), and
// plain-language advice for errors. Every output format is a Writer (see
// New and Formats), one file each; no other package knows their names.
// It never opens a socket and never probes the terminal while rendering:
// whether to colour is decided once, by ColorEnabled, and passed in Options.
package report

import (
	"fmt"
	"io"
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// Options shape a report: the human renderings (Timeline, Table) and the
// shape of a run's report (Fleet).
type Options struct {
	Color bool // emit ANSI colours; false means no escape byte at all
	// Width is the terminal's width (see Width): every line of the human
	// renderings fits in it; below MinWidth counts as MinWidth. 0 means not
	// known: DefaultWidth, and tables keep all their columns.
	Width   int
	Verbose bool // every parameter_status row and every server parameter
	// Fleet: the report is about several targets (or a targets file, of
	// whatever length): JSON's {results: […]}, the target's name above its
	// --count statistics, NDJSON's fleet verdict line.
	Fleet bool
}

func (o Options) width() int {
	if o.Width <= 0 {
		return DefaultWidth
	}
	return max(o.Width, MinWidth)
}

// tableWidth is the width tables fit, 0 when it is not known.
func (o Options) tableWidth() int {
	if o.Width <= 0 {
		return 0
	}
	return o.width()
}

// ColorModes are --color's values, the default first.
func ColorModes() []string { return []string{"auto", "always", "never"} }

// ColorEnabled decides colour once, for output written to w, and is the
// one place a --color value is checked. mode is one of ColorModes ("" counts
// as "auto"). auto means: NO_COLOR
// unset or empty, TERM not "dumb", and w is a terminal. getenv nil means
// os.Getenv.
func ColorEnabled(mode string, w io.Writer, getenv func(string) string) (bool, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
			return false, nil
		}
		f, ok := w.(interface{ Fd() uintptr })
		if !ok {
			return false, nil
		}
		fd := f.Fd()
		return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd), nil
	default:
		return false, fmt.Errorf("invalid color mode %q: use always, never or auto", mode)
	}
}

// palette holds the colours of one rendering. Every object is switched on
// or off explicitly, so neither color.NoColor nor NO_COLOR read at
// construction time can change what a golden test sees.
type palette struct {
	ok, bad, warn, dim, bold, head  *color.Color
	state, step, num                *color.Color
	barNet, barTLS, barAuth, barSrv *color.Color
}

func newPalette(on bool) *palette {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &palette{
		ok:      mk(color.FgGreen, color.Bold),
		bad:     mk(color.FgRed, color.Bold),
		warn:    mk(color.FgYellow),
		dim:     mk(color.Faint),
		bold:    mk(color.Bold),
		head:    mk(color.Bold, color.Underline),
		state:   mk(color.FgHiBlue),
		step:    mk(color.Bold),
		num:     mk(color.FgCyan),
		barNet:  mk(color.FgCyan),
		barTLS:  mk(color.FgMagenta),
		barAuth: mk(color.FgYellow),
		barSrv:  mk(color.FgGreen),
	}
}
