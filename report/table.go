package report

import (
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/pgprobe/pgprobe/statelog"
)

// Table writes one row per target: target, verdict, address used, TLS
// version, auth method, server version, total ms and error class. Failures
// come first (the highest exit code first), otherwise the given order.
func Table(w io.Writer, logs []*statelog.Log, o Options) error {
	p := newPalette(o.Color)
	sorted := make([]*statelog.Log, 0, len(logs))
	for _, l := range logs {
		if l != nil {
			sorted = append(sorted, l)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ExitCode > sorted[j].ExitCode })

	t := plainTable(w, []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignLeft})
	t.Header([]string{"TARGET", "VERDICT", "ADDRESS", "TLS", "AUTH", "SERVER", "ROLE", "TOTAL MS", "ERROR"})
	for _, l := range sorted {
		a := usedAttempt(l)
		verdict := verdictWord(l)
		switch {
		case l.ExitCode == statelog.ExitOK:
			verdict = p.ok.Sprint(verdict)
		case l.ExitCode == statelog.ExitCheck:
			verdict = p.warn.Sprint(verdict)
		default:
			verdict = p.bad.Sprint(verdict)
		}
		addr, tlsv, auth, server, role := "-", "-", "-", "-", "-"
		if a != nil {
			addr = address(a)
			if a.TLS != nil && a.TLS.Version != "" {
				tlsv = clean(a.TLS.Version)
			}
			if a.Auth != nil && a.Auth.Method != "" {
				auth = clean(a.Auth.Method)
			}
			if a.Role != "" {
				role = clean(a.Role)
			}
			if a.Server != nil {
				if v := strings.Fields(a.Server.Parameters["server_version"]); len(v) > 0 {
					server = clean(v[0])
				}
			}
		}
		class := "-"
		if l.Error != nil && l.Error.Class != "" {
			class = clean(l.Error.Class)
		}
		target := l.Target
		if target == "" {
			target = "(defaults)"
		}
		if err := t.Append(clean(target), verdict, addr, tlsv, auth, server, role,
			strconv.FormatFloat(l.DurationMS, 'f', 1, 64), class); err != nil {
			return err
		}
	}
	return t.Render()
}

func verdictWord(l *statelog.Log) string {
	switch {
	case l.Ping != "":
		return clean(l.Ping)
	case l.OK:
		return "connected"
	case l.ExitCode == statelog.ExitCheck:
		return "check failed"
	case l.ExitCode == statelog.ExitNoAttempt:
		return "no attempt"
	}
	return "failed"
}

// usedAttempt is the attempt that decided the verdict: the one that
// connected, else the one holding the error, else the last.
func usedAttempt(l *statelog.Log) *statelog.Attempt {
	for i := len(l.Attempts) - 1; i >= 0; i-- {
		if a := l.Attempts[i]; a != nil && a.OK {
			return a
		}
	}
	return attemptOf(l, l.Error)
}

func address(a *statelog.Attempt) string {
	switch {
	case a.Network == "unix" && a.HostAddr != "":
		return clean(a.HostAddr)
	case a.HostAddr == "":
		if a.Host == "" {
			return "-"
		}
		if a.Port > 0 {
			return clean(a.Host) + ":" + strconv.Itoa(a.Port)
		}
		return clean(a.Host)
	case strings.Contains(a.HostAddr, ":"):
		return "[" + clean(a.HostAddr) + "]:" + strconv.Itoa(a.Port)
	}
	return clean(a.HostAddr) + ":" + strconv.Itoa(a.Port)
}

// plainTable is the borderless table every tabular output uses (the fleet
// summary, the --count statistics), one alignment per column.
func plainTable(w io.Writer, aligns []tw.Align) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
	)
}
