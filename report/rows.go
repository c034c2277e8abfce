package report

import (
	"math"
	"strings"

	"github.com/fatih/color"
)

// row is one step of a timeline, the client's (Timeline) or the server's
// (SessionTimeline).
type row struct {
	elapsed, dur        float64
	state, step, detail string
}

const (
	barMin = 10 // a narrower bar shows nothing worth its columns
	barMax = 30
	// hangMin is the narrowest detail column worth wrapping a long detail
	// in; narrower, the detail goes under its row.
	hangMin = 30
)

// cols is the layout of a timeline's rows at a width: elapsed, state, step,
// took, the bar, and the detail from column detailCol on, or on lines of
// its own under the row when the column would be too narrow (under).
type cols struct {
	lineW                    int
	stateHead                string
	elW, stateW, stepW, durW int
	barW                     int // 0: no bar
	short, under             bool
	noState                  bool // narrower than any layout with the state
	maxDur                   float64
}

// shortState is a libpq state name without its CONNECTION_ prefix, as the
// narrow layouts show it.
func shortState(s string) string { return strings.TrimPrefix(s, "CONNECTION_") }

// planCols chooses the layout of rows at lineW. libpq's state names stay
// whole while a row with them fits: of the layouts with them, with a bar
// and without, the one that takes the fewest lines wins (the bar if they
// tie). The names lose "CONNECTION_" only when a row with them cannot
// fit, and the state goes when not even that fits. The bar is as wide as
// the longest detail leaves room for, from 10 to 30 cells.
func planCols(lineW int, stateHead string, rows []row) cols {
	base := cols{lineW: lineW, stateHead: stateHead, elW: len("elapsed"), stepW: len("step"), durW: len("took")}
	full, short, det := len(stateHead), len(stateHead), 0
	for _, r := range rows {
		base.elW = max(base.elW, width(fmtMS(r.elapsed)))
		base.durW = max(base.durW, width(fmtMS(r.dur)))
		base.stepW = max(base.stepW, width(r.step))
		full = max(full, width(r.state))
		short = max(short, width(shortState(r.state)))
		det = max(det, width(r.detail))
		base.maxDur = math.Max(base.maxDur, r.dur)
	}
	plain := newPalette(false)
	for _, sh := range []bool{false, true} {
		var best cols
		bestCost := -1
		for _, bar := range []bool{true, false} {
			c := base
			c.short, c.stateW = sh, full
			if sh {
				c.stateW = short
			}
			if bar {
				c.barW = min(max(lineW-c.detailCol()-2-det, barMin), barMax)
			}
			if c.detailCol()-2 > lineW {
				continue
			}
			c.under = lineW-c.detailCol() < hangMin
			cost := 0
			for _, r := range rows {
				cost += len(c.lines(plain, "  ", r, plain.dim, nil))
			}
			if bestCost < 0 || cost < bestCost {
				best, bestCost = c, cost
			}
		}
		if bestCost >= 0 {
			return best
		}
	}
	c := base
	c.noState = true
	c.under = lineW-c.detailCol() < hangMin
	return c
}

// detailCol is where the details start.
func (c cols) detailCol() int {
	n := 2 + c.elW + 2 + c.stepW + 2 + c.durW + 2
	if !c.noState {
		n += c.stateW + 2
	}
	if c.barW > 0 {
		n += c.barW + 2
	}
	return n
}

// underCol is where what belongs to a row but does not fit beside it
// starts on the lines under it: the state column.
func (c cols) underCol() int { return 2 + c.elW + 2 }

func (c cols) header(p *palette) string {
	s := "  " + padLeft("elapsed", c.elW) + "  "
	if !c.noState {
		s += padRight(c.stateHead, c.stateW) + "  "
	}
	s += padRight("step", c.stepW) + "  " + padLeft("took", c.durW) + "  "
	if c.barW > 0 {
		s += strings.Repeat(" ", c.barW) + "  "
	}
	if c.under {
		return p.dim.Sprint(s)
	}
	return p.dim.Sprint(s + "detail")
}

// lines lays out r after mark (two cells): the row, and the detail beside
// it or under it. barC colours the bar, detailC (if not nil) the detail.
func (c cols) lines(p *palette, mark string, r row, barC, detailC *color.Color) []string {
	state := r.state
	if c.short {
		state = shortState(state)
	}
	head := mark + p.num.Sprint(padLeft(fmtMS(r.elapsed), c.elW)) + "  "
	if !c.noState {
		head += p.state.Sprint(padRight(state, c.stateW)) + "  "
	}
	head += p.step.Sprint(padRight(r.step, c.stepW)) + "  " + padLeft(fmtMS(r.dur), c.durW) + "  "
	if c.barW > 0 {
		head += c.bar(r.dur, barC) + "  "
	}
	paint := func(s string) string {
		if detailC == nil {
			return s
		}
		return detailC.Sprint(s)
	}
	col := c.detailCol()
	room := c.lineW - col
	switch {
	case r.detail == "":
		return []string{head}
	case c.under:
	case width(r.detail) <= room:
		return []string{head + paint(r.detail)}
	default:
		parts := wrap(r.detail, room)
		out := []string{head + paint(parts[0])}
		for _, s := range parts[1:] {
			out = append(out, strings.Repeat(" ", col)+paint(s))
		}
		return out
	}
	out := []string{head}
	under := c.underCol()
	for _, s := range wrap(r.detail, c.lineW-under) {
		out = append(out, strings.Repeat(" ", under)+paint(s))
	}
	return out
}

var partialBlocks = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar is the step's duration as a bar scaled to the longest step, padded
// to the bar's width.
func (c cols) bar(dur float64, col *color.Color) string {
	eighths := 0
	if c.maxDur > 0 && dur > 0 {
		eighths = max(int(math.Round(dur/c.maxDur*float64(c.barW*8))), 1)
	}
	s := strings.Repeat("█", eighths/8) + partialBlocks[eighths%8]
	pad := strings.Repeat(" ", c.barW-width(s))
	if s == "" {
		return pad
	}
	return col.Sprint(s) + pad
}
