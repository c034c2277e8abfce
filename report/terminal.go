package report

import (
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// DefaultWidth is the width the timelines, advice and messages are laid
// out to when nothing says otherwise: stdout is not a terminal (a pipe, a
// file, a CI log) and COLUMNS is not set. 100 columns read well in a log
// viewer and leave most rows on one line. Tables are not narrowed to it:
// in a file or a CI log every column is worth more than a short line.
const DefaultWidth = 100

// MinWidth is the narrowest layout: a terminal narrower than this gets the
// 40-column layout (and lines wider than the terminal).
const MinWidth = 40

// TerminalColumns is the width of the terminal w writes to, if w is one.
// It is the one place pgprobe asks the terminal for its size
// (golang.org/x/term, which does so on Unix and Windows alike).
func TerminalColumns(w io.Writer) (int, bool) {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 {
		return 0, false
	}
	return cols, true
}

// Width is the width to lay out output written to w: the terminal's when w
// is a terminal, else COLUMNS when it is a positive number, else 0 (not
// known: see DefaultWidth). getenv nil means os.Getenv.
func Width(w io.Writer, getenv func(string) string) int {
	if cols, ok := TerminalColumns(w); ok {
		return cols
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return 0
}
