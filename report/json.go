package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"sync"

	"github.com/pgprobe/pgprobe/statelog"
)

func init() {
	register(20, "json", func(w io.Writer, o Options) Writer {
		if o.Fleet {
			return &jsonFleetWriter{s: NewJSONStream(w)}
		}
		return &jsonWriter{w: w}
	})
}

// jsonWriter writes each target's document as it comes: one target's
// document alone, as JSON does.
type jsonWriter struct{ w io.Writer }

func (x *jsonWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	var b bytes.Buffer
	err := JSON(&b, l)
	p.b = b.Bytes()
	return p, err
}

func (x *jsonWriter) Add(p Part) error {
	_, err := x.w.Write(p.b)
	return err
}

func (x *jsonWriter) Close() error   { return nil }
func (x *jsonWriter) Buffered() bool { return false }

// jsonFleetWriter writes a fleet's {schema, results, ok, exit_code}
// through JSONStream, each result encoded in the probe's goroutine.
type jsonFleetWriter struct{ s *JSONStream }

var resultEncoders = sync.Pool{New: func() any { return new(ResultEncoder) }}

func (x *jsonFleetWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	enc := resultEncoders.Get().(*ResultEncoder)
	defer resultEncoders.Put(enc)
	doc, err := enc.Encode(l)
	p.b = bytes.Clone(doc)
	return p, err
}

func (x *jsonFleetWriter) Add(p Part) error {
	x.s.Add(p.b, p.ok, p.code)
	return x.s.Err()
}

func (x *jsonFleetWriter) Close() error   { return x.s.Close() }
func (x *jsonFleetWriter) Buffered() bool { return false }

// JSON writes l as one indented document, exactly statelog's JSON (schema
// pgprobe/v1), with the advice diagnose wrote into it. Never coloured.
func JSON(w io.Writer, l *statelog.Log) error {
	return writeJSON(w, l)
}

// JSONMulti writes {schema, results, ok, exit_code} for several targets:
// one statelog document per target, in the order given; exit_code is the
// highest of the targets', ok is true when every target is ok. It is
// JSONStream's document, written in one go.
func JSONMulti(w io.Writer, logs []*statelog.Log) error {
	s := NewJSONStream(w)
	var enc ResultEncoder
	for _, l := range logs {
		if l == nil {
			continue
		}
		b, err := enc.Encode(l)
		if err != nil {
			return err
		}
		s.Add(b, l.OK, l.ExitCode)
	}
	return s.Close()
}

// JSONStream writes the several-targets document as the results come, so
// that a fleet's memory is bounded by the targets in flight, not by the
// fleet: "schema" and the "results" array first, one result at a time, and
// the verdict over all of them ("ok", "exit_code") last, when it is known.
// Key order means nothing to JSON readers (jq, json.Unmarshal); the
// indentation is encoding/json's, two spaces, as for one target.
type JSONStream struct {
	w    io.Writer
	n    int
	ok   bool
	code int
	err  error
}

// NewJSONStream starts the document on w; nothing is written before the
// first Add or Close.
func NewJSONStream(w io.Writer) *JSONStream {
	return &JSONStream{w: w, ok: true}
}

// Add writes one result, encoded by ResultEncoder.Encode, and counts its
// verdict. After a write error, Add only counts; Close returns the error.
func (s *JSONStream) Add(result []byte, ok bool, exitCode int) {
	s.ok = s.ok && ok
	s.code = max(s.code, exitCode)
	if s.err != nil {
		return
	}
	head := ",\n    "
	if s.n == 0 {
		head = "{\n  \"schema\": " + strconv.Quote(statelog.Schema) + ",\n  \"results\": [\n    "
	}
	s.n++
	_, s.err = io.WriteString(s.w, head)
	if s.err == nil {
		_, s.err = s.w.Write(result)
	}
}

// Err is the first error writing the document.
func (s *JSONStream) Err() error { return s.err }

// Close ends the document with the verdict and returns the first write
// error, if any.
func (s *JSONStream) Close() error {
	if s.err != nil {
		return s.err
	}
	var b []byte
	if s.n == 0 {
		b = append(b, "{\n  \"schema\": "+strconv.Quote(statelog.Schema)+",\n  \"results\": [],\n"...)
	} else {
		b = append(b, "\n  ],\n"...)
	}
	b = append(b, "  \"ok\": "...)
	b = strconv.AppendBool(b, s.ok)
	b = append(b, ",\n  \"exit_code\": "...)
	b = strconv.AppendInt(b, int64(s.code), 10)
	b = append(b, "\n}\n"...)
	_, s.err = s.w.Write(b)
	return s.err
}

// ResultEncoder encodes one target's document as an element of JSONStream's
// results array (indented one level deeper, no trailing newline). Its
// buffer is reused: copy the bytes to keep them past the next Encode. The
// zero value is ready to use; not for concurrent use (give each goroutine
// its own).
type ResultEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// Encode returns l's document, valid until the next call.
func (e *ResultEncoder) Encode(l *statelog.Log) ([]byte, error) {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
		e.enc.SetEscapeHTML(false)
		e.enc.SetIndent("    ", "  ")
	}
	e.buf.Reset()
	if err := e.enc.Encode(l); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
