package conninfo

import (
	"slices"
	"testing"
)

func TestTargetKeywords(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   []string
		err    bool
	}{
		{target: "mydb", want: []string{"dbname"}},
		{target: "host=db port=5433 sslmode=require", want: []string{"host", "port", "sslmode"}},
		{target: "requiressl=1", want: []string{"sslmode"}},
		{target: "postgresql://alice@db:5433/app?sslrootcert=/etc/ca.pem", want: []string{"user", "host", "port", "dbname", "sslrootcert"}},
		{target: "host=db bogus=1", err: true},
		{target: "postgresql://db/?bogus=1", err: true},
	} {
		got, err := TargetKeywords(tc.target)
		if (err != nil) != tc.err {
			t.Errorf("TargetKeywords(%q): error %v, want error %v", tc.target, err, tc.err)
			continue
		}
		if !tc.err && !slices.Equal(got, tc.want) {
			t.Errorf("TargetKeywords(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}
