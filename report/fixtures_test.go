package report

import (
	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/internal/logtest"
	"github.com/pgprobe/pgprobe/statelog"
)

var t0 = logtest.T0

// The report tests render logtest's records diagnosed, as the CLI hands
// them over: report renders advice, it does not write it.
func diagnosed(f func() *statelog.Log) func() *statelog.Log {
	return func() *statelog.Log {
		l := f()
		diagnose.Record(l)
		return l
	}
}

var (
	okTLSScram     = diagnosed(logtest.OKTLSScram)
	preferFallback = diagnosed(logtest.PreferFallback)
	refused        = diagnosed(logtest.Refused)
	hba28000       = diagnosed(logtest.HBA28000)
	timeoutSSL     = diagnosed(logtest.TimeoutSSL)
	sslE           = diagnosed(logtest.SSLE)
	wrongPassword  = diagnosed(logtest.WrongPassword)
	usage          = diagnosed(logtest.Usage)
)

var fixtures = func() []struct {
	name string
	log  func() *statelog.Log
} {
	fs := make([]struct {
		name string
		log  func() *statelog.Log
	}, len(logtest.Fixtures))
	for i, f := range logtest.Fixtures {
		fs[i].name, fs[i].log = f.Name, diagnosed(f.Log)
	}
	return fs
}()
