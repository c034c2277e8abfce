package report

import (
	"bytes"
	"io"

	"github.com/pgprobe/pgprobe/statelog"
)

func init() {
	register(30, "ndjson", func(w io.Writer, o Options) Writer {
		return &ndjsonWriter{w: w, fleet: o.Fleet, sink: statelog.NewNDJSONSink(w)}
	})
}

// ndjsonWriter streams each event as one JSON line the moment it happens
// (Events), then, once every target is done, each target's verdict line in
// the order of the targets and, for a fleet, the fleet's verdict.
type ndjsonWriter struct {
	w     io.Writer
	fleet bool
	sink  *statelog.NDJSONSink
	// verdicts wait for Close: nothing but events reaches w while probes
	// run.
	verdicts        [][]byte
	n, failed, code int
}

func (x *ndjsonWriter) Events() statelog.Sink { return x.sink }

func (x *ndjsonWriter) HeldEvents() (statelog.Sink, func()) {
	var b bytes.Buffer
	return statelog.NewNDJSONSink(&b), func() { x.sink.Raw(b.Bytes()) }
}

func (x *ndjsonWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	var b bytes.Buffer
	err := statelog.NewNDJSONSink(&b).Verdict(l)
	p.b = b.Bytes()
	return p, err
}

func (x *ndjsonWriter) Add(p Part) error {
	x.n++
	x.code = max(x.code, p.code)
	if !p.ok {
		x.failed++
	}
	x.verdicts = append(x.verdicts, p.b)
	return nil
}

func (x *ndjsonWriter) Close() error {
	for _, b := range x.verdicts {
		if _, err := x.w.Write(b); err != nil {
			return err
		}
	}
	if !x.fleet {
		return nil
	}
	return x.sink.FleetVerdict(statelog.NDJSONFleetVerdict{OK: x.failed == 0, ExitCode: x.code, Targets: x.n, Failed: x.failed})
}

func (x *ndjsonWriter) Buffered() bool { return true }
