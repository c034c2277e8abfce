package conninfo

import "testing"

func TestIsUnixSockPathOnWindows(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{`C:\pg\sock`, true},
		{"c:/pg", true},
		{`\\server\share`, true},
		{"/tmp", true},
		{"@abstract", true},
		{"C:", false},
		{"localhost", false},
		{"", false},
	} {
		if got := isUnixSockPath(tc.host); got != tc.want {
			t.Errorf("isUnixSockPath(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestNoHostMeansLocalhostOnWindows(t *testing.T) {
	slots, err := hostSlots("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if slots[0].Host != "localhost" || slots[0].Type != HostName {
		t.Errorf("default host %q type %v, want localhost, a host name", slots[0].Host, slots[0].Type)
	}
}

func TestHomeDirIsAppDataPostgresql(t *testing.T) {
	env := func(k string) (string, bool) {
		return map[string]string{"APPDATA": `C:\Users\u\AppData\Roaming`}[k], k == "APPDATA"
	}
	if got, want := HomeDir(env), `C:\Users\u\AppData\Roaming/postgresql`; got != want {
		t.Errorf("HomeDir = %q, want %q (libpq's \"%%s/postgresql\")", got, want)
	}
}
