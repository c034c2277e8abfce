package cliargs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// negativeNumber reports whether s is "-" and then a number of seconds.
func negativeNumber(s string) bool {
	rest, ok := strings.CutPrefix(s, "-")
	return ok && rest != "" && strings.Trim(rest, "0123456789.") == ""
}

// ParseTimeout reads --timeout: a Go duration ("10s", "500ms") or a number
// of seconds ("10", "0.5"); 0 means none. Its errors name --timeout.
func ParseTimeout(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid --timeout %q: %sgive a duration such as 10s or 500ms, or a number of seconds", s, why)
	}
	// A number of seconds: digits with at most one point, nothing else
	// (ParseFloat's exponents, hex floats, Inf and NaN are no timeouts).
	digits := strings.TrimPrefix(s, "+")
	if digits != "" && digits != "." && strings.Count(digits, ".") <= 1 && strings.Trim(digits, "0123456789.") == "" {
		tooLong := fmt.Sprintf("longer than %v, the longest duration: ", time.Duration(math.MaxInt64))
		if !strings.Contains(digits, ".") {
			// Whole seconds; ParseInt fails here only on overflow.
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || n > math.MaxInt64/int64(time.Second) {
				return bad(tooLong)
			}
			return time.Duration(n) * time.Second, nil
		}
		// With a fraction ("0.5"): libpq's connect_timeout is whole
		// seconds, but a flag may be finer.
		f, err := strconv.ParseFloat(digits, 64)
		ns := math.Round(f * float64(time.Second))
		switch {
		case err != nil || ns >= math.MaxInt64: // float64(MaxInt64) is 2^63: would overflow
			return bad(tooLong)
		case ns == 0 && f > 0:
			// A positive timeout must not become 0, which is none at all.
			return bad("more than 0 but shorter than 1ns, the shortest duration: ")
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err == nil && d < 0 || err != nil && negativeNumber(s):
		return bad("a negative duration is no deadline: ")
	case err != nil:
		return bad("")
	case d == 0 && strings.ContainsAny(s, "123456789"):
		return bad("more than 0 but shorter than 1ns, the shortest duration: ")
	}
	return d, nil
}

// ParseWait reads --wait as ParseTimeout reads --timeout (and gives the
// same reasons), but 0 is no time to retry in.
func ParseWait(s string) (time.Duration, error) {
	d, err := ParseTimeout(s)
	if err != nil {
		return 0, fmt.Errorf("%s", strings.Replace(err.Error(), "invalid --timeout", "invalid --wait", 1))
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid --wait %q: it needs a time above 0 to retry in; give a duration such as 30s or 500ms, or a number of seconds", s)
	}
	return d, nil
}

// ParseInterval reads --interval, the pause between -n's runs, as
// ParseTimeout reads --timeout: 0 is no pause, a negative duration is an
// error.
func ParseInterval(s string) (time.Duration, error) {
	d, err := ParseTimeout(s)
	if err != nil {
		msg := strings.Replace(err.Error(), "invalid --timeout", "invalid --interval", 1)
		msg = strings.Replace(msg, "a negative duration is no deadline", "a negative duration is no pause", 1)
		return 0, fmt.Errorf("%s", msg)
	}
	return d, nil
}
