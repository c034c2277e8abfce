package report

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// clean makes text that came from the network or the settings safe for a
// terminal: control characters (ESC above all) and invalid UTF-8 are shown
// escaped, so a hostile peer cannot move the cursor or change colours.
// Newlines and tabs are escaped too: clean is for one-line fields.
//
// It also cuts what no one reads whole (cut): a 100 KB user name shows as
// its start and its length. Only human renderings clean; JSON and NDJSON
// keep every value whole, as data.
func clean(s string) string {
	if !needsCleaning(s) {
		return cutLong(s, maxRun, maxField)
	}
	return cutLong(escape(s), maxRun, maxField)
}

// escape is clean's escaping of control characters and invalid UTF-8.
func escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maxRun is the longest run of non-blank characters, maxField the longest
// field, that a human rendering shows whole: longer than any path, host
// name or message line in practice, far shorter than a value that fills
// the terminal.
const (
	maxRun   = 200
	maxField = 2000
)

// cutLong shortens every run of non-blank characters longer than run runes to
// its first run runes, an ellipsis and its length, then the whole of s to
// field runes the same way.
func cutLong(s string, run, field int) string {
	if len(s) <= run {
		return s
	}
	var b strings.Builder
	start, n := -1, 0 // the current run's byte offset and length in runes
	flush := func(end int) {
		if start < 0 {
			return
		}
		b.WriteString(shorten(s[start:end], run, n))
		start, n = -1, 0
	}
	for i, r := range s {
		if r == ' ' {
			flush(i)
			b.WriteRune(r)
			continue
		}
		if start < 0 {
			start = i
		}
		n++
	}
	flush(len(s))
	out := b.String()
	if total := utf8.RuneCountInString(out); total > field {
		out = shorten(out, field, total)
	}
	return out
}

// shorten is s, of n runes, cut to its first max runes and "… (n
// characters)" when it is longer.
func shorten(s string, max, n int) string {
	if n <= max {
		return s
	}
	i, k := 0, 0
	for i = range s {
		if k == max {
			break
		}
		k++
	}
	return s[:i] + fmt.Sprintf("… (%d characters)", n)
}

// Clean is clean for the CLI's own one-line messages (--quiet's usage
// errors on stderr): control characters and invalid UTF-8 escaped.
func Clean(s string) string { return clean(s) }

func needsCleaning(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return true
		}
	}
	return false
}

// lines splits a libpq message into its lines, cleaned; libpq indents its
// hint lines with a tab, which becomes two spaces.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	for i, l := range out {
		n := 0
		for n < len(l) && l[n] == '\t' {
			n++
		}
		out[i] = strings.Repeat("  ", n) + clean(l[n:])
	}
	return out
}

// quoteUntrusted shows peer bytes as one Go-quoted, ASCII-only string. The
// probe already quotes them; anything else is quoted here.
func quoteUntrusted(s string) string {
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			return strconv.QuoteToASCII(u)
		}
	}
	return strconv.QuoteToASCII(s)
}

func padRight(s string, n int) string {
	if w := width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func padLeft(s string, n int) string {
	if w := width(s); w < n {
		return strings.Repeat(" ", n-w) + s
	}
	return s
}

// fmtMS renders milliseconds with a precision that suits their size.
func fmtMS(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
