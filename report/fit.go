package report

import (
	"bytes"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// colSpec says how a table's column gives way when the table is wider than
// the terminal: columns narrow to soft first, then droppable columns go
// (the lowest drop first), then columns narrow to hard.
type colSpec struct {
	drop       int  // 0: never dropped
	soft, hard int  // 0: never narrowed; the header is never cut
	wrap       bool // narrowed by wrapping the text onto more lines, not by cutting it
}

// fitTable is a borderless table (tablewriter's) that fits its width: it
// keeps the rows until Render, then drops and narrows columns as their
// colSpecs say. Columns with no spec keep their width.
type fitTable struct {
	w      io.Writer
	lineW  int
	aligns []tw.Align
	specs  map[string]colSpec
	header []string
	rows   [][]string
}

// plainTable is the borderless table every tabular output uses (the fleet
// summary, the --count statistics, settings), one alignment per column,
// fitted to lineW (0: not fitted) with specs (by header).
func plainTable(w io.Writer, aligns []tw.Align, lineW int, specs map[string]colSpec) *fitTable {
	return &fitTable{w: w, lineW: lineW, aligns: aligns, specs: specs}
}

func (t *fitTable) Header(h []string) { t.header = h }

func (t *fitTable) Append(cells ...string) error {
	t.rows = append(t.rows, cells)
	return nil
}

// Render writes the table, each line without its trailing blanks.
func (t *fitTable) Render() error {
	keep, widths := t.fit()
	pick := func(cells []string, fit bool) []string {
		out := make([]string, len(keep))
		for k, i := range keep {
			if i < len(cells) {
				out[k] = cells[i]
			}
			if fit {
				out[k] = fitCell(out[k], widths[k], t.specs[t.header[i]].wrap)
			}
		}
		return out
	}
	aligns := make([]tw.Align, len(keep))
	for k, i := range keep {
		aligns[k] = tw.AlignLeft
		if i < len(t.aligns) {
			aligns[k] = t.aligns[i]
		}
	}
	var b bytes.Buffer
	tab := tablewriter.NewTable(&b,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
	)
	tab.Header(pick(t.header, false))
	for _, r := range t.rows {
		if err := tab.Append(pick(r, true)); err != nil {
			return err
		}
	}
	if err := tab.Render(); err != nil {
		return err
	}
	var out strings.Builder
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if l != "" {
			out.WriteString(strings.TrimRight(l, " \n") + "\n")
		}
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// fit chooses the columns to show and their widths: every column at its
// natural width when that fits; else the narrowing and dropping of the
// specs, as far as it takes. Each column takes its width and a blank on
// either side.
func (t *fitTable) fit() (keep, widths []int) {
	natural := make([]int, len(t.header))
	for i, h := range t.header {
		natural[i] = width(h)
		for _, r := range t.rows {
			if i < len(r) {
				for _, l := range strings.Split(r[i], "\n") {
					natural[i] = max(natural[i], width(l))
				}
			}
		}
	}
	for i := range t.header {
		keep = append(keep, i)
	}
	if t.lineW <= 0 {
		return keep, natural
	}
	for {
		widths = make([]int, len(keep))
		excess := -t.lineW - 1
		for k, i := range keep {
			widths[k] = natural[i]
			excess += natural[i] + 2
		}
		if excess = t.narrow(keep, widths, excess, func(s colSpec) int { return s.soft }); excess <= 0 {
			return keep, widths
		}
		d := t.nextDrop(keep)
		if d < 0 {
			t.narrow(keep, widths, excess, func(s colSpec) int { return s.hard })
			return keep, widths
		}
		keep = append(keep[:d:d], keep[d+1:]...)
	}
}

// narrow takes up to excess cells off the narrowable columns, left to
// right, none below its header or floor(spec); it returns the excess left.
func (t *fitTable) narrow(keep, widths []int, excess int, floor func(colSpec) int) int {
	for k, i := range keep {
		if excess <= 0 {
			break
		}
		s, ok := t.specs[t.header[i]]
		if !ok || floor(s) == 0 {
			continue
		}
		if take := min(excess, widths[k]-max(floor(s), width(t.header[i]))); take > 0 {
			widths[k] -= take
			excess -= take
		}
	}
	return excess
}

// nextDrop is the index in keep of the column to drop next, or -1.
func (t *fitTable) nextDrop(keep []int) int {
	best := -1
	for k, i := range keep {
		d := t.specs[t.header[i]].drop
		if d > 0 && (best < 0 || d < t.specs[t.header[keep[best]]].drop) {
			best = k
		}
	}
	return best
}

// fitCell narrows a cell to n cells a line: cut with "…", or wrapped.
func fitCell(s string, n int, wrapIt bool) string {
	ls := strings.Split(s, "\n")
	var out []string
	for _, l := range ls {
		switch {
		case width(l) <= n:
			out = append(out, l)
		case wrapIt:
			out = append(out, wrap(l, n)...)
		default:
			out = append(out, cut(l, n))
		}
	}
	return strings.Join(out, "\n")
}
