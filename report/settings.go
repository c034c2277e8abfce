package report

import (
	"encoding/json"
	"io"

	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/statelog"
)

// SettingValue is one keyword in `pgprobe settings -o json`.
type SettingValue struct {
	Value  string `json:"value"`
	Source string `json:"source"`
	Origin string `json:"origin,omitempty"`
}

// SettingsDoc is `pgprobe settings -o json`.
type SettingsDoc struct {
	Schema   string                  `json:"schema"`
	Settings map[string]SettingValue `json:"settings"`
	Warnings []string                `json:"warnings,omitempty"`
	// Explanations say in words what libpq will do with these settings
	// (probe.Explain); null when the settings did not resolve.
	Explanations []string        `json:"explanations"`
	Error        *statelog.Error `json:"error,omitempty"`
}

const redacted = "****"

// settingRows lists every keyword with its value; secrets show as ****.
func settingRows(s *conninfo.Settings) []conninfo.KeywordValue {
	rows := s.All()
	for i := range rows {
		if rows[i].Keyword.Secret && rows[i].Value.Value != "" {
			rows[i].Value.Value = redacted
		}
		if rows[i].Value.Source == "" {
			rows[i].Value.Source = conninfo.SourceDefault
		}
	}
	return rows
}

// SettingsFormats are `pgprobe settings`' outputs, the default first.
func SettingsFormats() []string { return []string{"table", "json"} }

// Settings writes s in format, one of SettingsFormats. err is the usage
// error that stopped the settings from resolving (s is nil then): JSON
// shows it, the table writes nothing.
func Settings(format string, w io.Writer, o Options, s *conninfo.Settings, err error, explanations []string) error {
	if format == "json" {
		if err == nil && explanations == nil {
			explanations = []string{}
		}
		return SettingsJSON(w, s, err, explanations)
	}
	if err != nil {
		return nil
	}
	return SettingsTable(w, o, s, explanations)
}

// SettingsJSON writes every libpq keyword with its value and source, and
// the explanations (an empty list when there are none), or the usage error
// that stopped the settings from resolving.
func SettingsJSON(w io.Writer, s *conninfo.Settings, err error, explanations []string) error {
	doc := SettingsDoc{Schema: statelog.Schema}
	if err != nil {
		doc.Error = &statelog.Error{Class: statelog.ClassUsage, Message: err.Error()}
	} else {
		doc.Settings = map[string]SettingValue{}
		for _, r := range settingRows(s) {
			doc.Settings[r.Keyword.Name] = SettingValue{Value: r.Value.Value, Source: string(r.Value.Source), Origin: r.Value.Origin}
		}
		doc.Warnings = s.Warnings()
		doc.Explanations = explanations
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// SettingsTable prints the keywords that have a value, in libpq's order,
// with where each came from, then the explanations, one "- " line each,
// all fitted to o's width: long values and origins are wrapped in their
// column; at the narrowest FROM goes, then SOURCE.
func SettingsTable(w io.Writer, o Options, s *conninfo.Settings, explanations []string) error {
	t := plainTable(w, nil, o.tableWidth(), map[string]colSpec{
		"VALUE":  {soft: 24, hard: 10, wrap: true},
		"FROM":   {soft: 16, hard: 8, wrap: true, drop: 1},
		"SOURCE": {drop: 2},
	})
	t.Header([]string{"KEYWORD", "VALUE", "SOURCE", "FROM"})
	for _, r := range settingRows(s) {
		if r.Value.Value == "" {
			continue
		}
		if err := t.Append(r.Keyword.Name, clean(r.Value.Value), string(r.Value.Source), clean(r.Value.Origin)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, warn := range s.Warnings() {
		for _, l := range hang("", clean(warn), 2, o.width()) {
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return err
			}
		}
	}
	if len(explanations) > 0 {
		if _, err := io.WriteString(w, "\nWhat libpq will do:\n"); err != nil {
			return err
		}
		for _, x := range explanations {
			for _, l := range hang("  - ", clean(x), 4, o.width()) {
				if _, err := io.WriteString(w, l+"\n"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
