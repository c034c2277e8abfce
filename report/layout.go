package report

// Fitting text to the terminal's width. Text here may hold our own colour
// escapes (SGR sequences, never a peer's: clean escapes those), which take
// no cell; a line broken inside a coloured span is closed with a reset and
// the colour is reopened on the next line, so the indent is never coloured.

import (
	"strings"
	"unicode/utf8"
)

// width is the number of terminal cells s takes: escape sequences take
// none, every rune one (all our glyphs are one cell wide).
func width(s string) int {
	if strings.IndexByte(s, 0x1b) < 0 {
		return utf8.RuneCountInString(s)
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			i = escEnd(s, i)
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// escEnd is the index just past the escape sequence starting at s[i]: a
// CSI sequence (ESC [ parameters final byte) or ESC and one byte.
func escEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && s[j] == '[' {
		for j++; j < len(s) && (s[j] < 0x40 || s[j] > 0x7e); j++ {
		}
	}
	return min(j+1, len(s))
}

// splitCells cuts s after n cells; escapes right after the cut go to the
// tail.
func splitCells(s string, n int) (string, string) {
	cells := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			i = escEnd(s, i)
			continue
		}
		if cells == n {
			return s[:i], s[i:]
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		cells++
	}
	return s, ""
}

// cut shortens s to at most n cells, ending with "…" when it had to cut.
func cut(s string, n int) string {
	if width(s) <= n {
		return s
	}
	if n <= 1 {
		head, _ := splitCells(s, max(n, 0))
		return head
	}
	head, _ := splitCells(s, n-1)
	return head + "…"
}

// wrap breaks text into lines of at most max cells.
func wrap(text string, max int) []string { return wrapWidths(text, max, max) }

// wrapWidths breaks text into lines, the first of at most first cells, the
// others of at most rest. It breaks at spaces, keeping the spaces between
// words on a line as they are (libpq's "FATAL:  " keeps its two), and
// never inside a span in backticks (a command, a pg_hba.conf line) unless
// the span alone is too long; a word too long for a line is broken where
// the line ends. Colours carry over the breaks.
func wrapWidths(text string, first, rest int) []string {
	first, rest = max(first, 1), max(rest, 1)
	if width(text) <= first {
		return []string{text}
	}
	var out []string
	limit := first
	line, lineW := "", 0
	flush := func() {
		out = append(out, line)
		line, lineW, limit = "", 0, rest
	}
	for i, wd := range words(text) {
		ww := width(wd.text)
		sp := wd.space
		if lineW == 0 && i > 0 {
			sp = ""
		}
		if lineW > 0 && lineW+len(sp)+ww > limit {
			flush()
			sp = ""
		}
		line += sp + wd.text
		lineW += len(sp) + ww
		for lineW > limit {
			head, tail := splitCells(line, limit)
			line = head
			flush()
			line, lineW = tail, width(tail)
		}
	}
	if lineW > 0 || len(out) == 0 {
		out = append(out, line)
	}
	return carryColors(out)
}

type word struct{ space, text string }

// words splits text at spaces outside backticks, each word with the spaces
// before it.
func words(text string) []word {
	var out []word
	var sp, cur strings.Builder
	inTick := false
	for _, r := range text {
		switch {
		case r == ' ' && !inTick:
			if cur.Len() > 0 {
				out = append(out, word{sp.String(), cur.String()})
				sp.Reset()
				cur.Reset()
			}
			sp.WriteRune(r)
		default:
			if r == '`' {
				inTick = !inTick
			}
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, word{sp.String(), cur.String()})
	}
	return out
}

const sgrReset = "\x1b[0m"

// carryColors ends each line that leaves a colour on with a reset and
// starts the next with the colours in force.
func carryColors(lines []string) []string {
	active := ""
	for i, l := range lines {
		if active == "" && strings.IndexByte(l, 0x1b) < 0 {
			continue
		}
		s := active + l
		if active != "" && strings.HasPrefix(l, sgrReset) {
			s = l // the colour ended where the line broke
		}
		for j := 0; j < len(l); {
			if l[j] != 0x1b {
				j++
				continue
			}
			k := escEnd(l, j)
			if seq := l[j:k]; isReset(seq) {
				active = ""
			} else if strings.HasSuffix(seq, "m") {
				active += seq
			}
			j = k
		}
		if active != "" {
			s += sgrReset
		}
		lines[i] = s
	}
	return lines
}

// isReset reports whether seq is an SGR sequence that only turns
// attributes off (0, 22 bold and faint off, 24 underline off, 39 default
// colour, …): fatih/color closes each span it opened with one.
func isReset(seq string) bool {
	params, ok := strings.CutPrefix(seq, "\x1b[")
	if params, ok = strings.CutSuffix(params, "m"); !ok {
		return false
	}
	for _, p := range strings.Split(params, ";") {
		switch p {
		case "", "0", "22", "23", "24", "25", "27", "28", "29", "39", "49":
		default:
			return false
		}
	}
	return true
}

// hang lays text out after lead, wrapped to lineW, its further lines
// indented by indent cells (by less when that leaves too little room).
func hang(lead, text string, indent, lineW int) []string {
	leadW := width(lead)
	if lineW-indent < 20 {
		indent = min(indent, max(leadW, 4))
	}
	parts := wrapWidths(text, lineW-leadW, lineW-indent)
	out := make([]string, len(parts))
	for i, p := range parts {
		if i == 0 {
			out[i] = lead + p
		} else {
			out[i] = strings.Repeat(" ", indent) + p
		}
	}
	return out
}

// headLines are a report's first lines: what it is about (a target, a
// client) and the verdict, on one line when they fit, else the verdict on
// a line of its own.
func headLines(what, verdict string, lineW int) []string {
	if width(what)+2+width(verdict) <= lineW {
		return []string{what + "  " + verdict}
	}
	return append(hang("", what, 2, lineW), hang("  ", verdict, 4, lineW)...)
}

// Fit wraps a line of the CLI's own (a status message) to width (0: not
// known), further lines indented by indent.
func Fit(text string, width, indent int) string {
	return strings.Join(hang("", clean(text), indent, Options{Width: width}.width()), "\n")
}
