package statelog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSessionRecord(t *testing.T) {
	s := NewSession(2, "127.0.0.1:5000", "tcp", "127.0.0.1:5432")
	began := time.Now()
	s.Record("ProcessStartupPacket", "ssl_request", began, "SSLRequest", nil, nil)
	e := &Error{Class: ClassProtocol, Message: "invalid length of startup packet"}
	s.Record("ProcessStartupPacket", "startup", began, "", e, nil)
	s.Finish(OutcomeDropped, e)
	if len(s.Events) != 2 || s.Events[0].Seq != 1 || s.Events[1].Seq != 2 {
		t.Fatalf("events %+v", s.Events)
	}
	if e.Step != "startup" {
		t.Errorf("the error should name its step, got %q", e.Step)
	}
	if s.Outcome != OutcomeDropped || s.Error != e || s.DurationMS < s.Events[1].ElapsedMS {
		t.Errorf("finish: %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"schema":"pgprobe/v1"`, `"type":"session"`, `"index":2`, `"ssl_response":null`, `"tls":null`, `"auth":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
