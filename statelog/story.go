package statelog

// Failure is an attempt that failed before the last one: which host,
// address and port it was, how it failed and how long it took.
type Failure struct {
	Attempt    int     `json:"attempt"` // its index in .attempts
	Host       string  `json:"host"`
	HostAddr   string  `json:"hostaddr"`
	Port       int     `json:"port"`
	Encryption string  `json:"encryption,omitempty"`
	Class      string  `json:"class"`
	Message    string  `json:"message"` // libpq's words, with their "connection to server … failed: " prefix
	Step       string  `json:"step,omitempty"`
	DurationMS float64 `json:"duration_ms"` // from the attempt's first step to its last
}

// The checks' names, as .checks[].name gives them.
const (
	CheckMinCertDays    = "min-cert-days"
	CheckMinTicketHours = "min-ticket-hours"
	CheckMinTLSVersion  = "min-tls-version"
)

// Check is one check made on a successful connection.
type Check struct {
	Name    string `json:"name"`
	Want    string `json:"want"`
	Got     string `json:"got"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"` // why it failed
	Advice  string `json:"advice,omitempty"`  // what to do about it (diagnose)
}

// DurationMS is how long the attempt took: from the start of its first
// step to the end of its last.
func (a *Attempt) DurationMS() float64 {
	if a == nil || len(a.Events) == 0 {
		return 0
	}
	first, last := a.Events[0], a.Events[len(a.Events)-1]
	return round3ms(last.ElapsedMS - (first.ElapsedMS - first.DurationMS))
}

// earlierFailures lists the failed attempts before the last one.
func earlierFailures(attempts []*Attempt) []Failure {
	var out []Failure
	for i, a := range attempts {
		if i == len(attempts)-1 {
			break
		}
		if a == nil || a.Error == nil {
			continue
		}
		out = append(out, Failure{Attempt: a.Index, Host: a.Host, HostAddr: a.HostAddr, Port: a.Port,
			Encryption: a.Encryption, Class: a.Error.Class, Message: a.Error.Message, Step: a.Error.Step,
			DurationMS: a.DurationMS()})
	}
	return out
}

func round3ms(f float64) float64 {
	if f < 0 {
		return 0
	}
	return round3(f)
}
