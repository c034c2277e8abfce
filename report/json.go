package report

import (
	"encoding/json"
	"io"

	"github.com/pgprobe/pgprobe/statelog"
)

// JSON writes l as one indented document, exactly statelog's JSON (schema
// pgprobe/v1), after filling in the advice. Never coloured.
func JSON(w io.Writer, l *statelog.Log) error {
	Annotate(l)
	return writeJSON(w, l)
}

// Multi is the document for several targets: the verdict over all of them
// and one statelog document per target, in the order given.
type Multi struct {
	Schema   string          `json:"schema"`
	OK       bool            `json:"ok"`
	ExitCode int             `json:"exit_code"`
	Results  []*statelog.Log `json:"results"`
}

// JSONMulti writes {schema, ok, exit_code, results}: exit_code is the
// highest of the targets', ok is true when every target is ok.
func JSONMulti(w io.Writer, logs []*statelog.Log) error {
	m := Multi{Schema: statelog.Schema, OK: true, Results: make([]*statelog.Log, 0, len(logs))}
	for _, l := range logs {
		if l == nil {
			continue
		}
		Annotate(l)
		m.OK = m.OK && l.OK
		m.ExitCode = max(m.ExitCode, l.ExitCode)
		m.Results = append(m.Results, l)
	}
	return writeJSON(w, m)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
