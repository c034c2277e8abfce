package conninfo

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mydb", "mydb"},
		{"my password db", "my password db"},
		{"host=h password=secret port=1", "host=h password=**** port=1"},
		{"password = secret", "password = ****"},
		{"password='sec ret' host=h", "password=**** host=h"},
		{`password='it\'s' host=h`, "password=**** host=h"},
		{`password=a\ b host=h`, "password=**** host=h"},
		{"password=", "password="},
		{"password= host=h", "password= ****"}, // libpq takes "host=h" as the password
		{"password=my secret words host=h", "password=**** **** **** host=h"},
		{"password=my sec=ret host=h", "password=**** **** host=h"},
		{"postgresql://host/db?password=ab&cd&sslmode=require", "postgresql://host/db?password=****&****&sslmode=require"},
		{"postgresql://host/db?password=ab&c=d", "postgresql://host/db?password=****&****"},
		{"password='unterminated secret", "password=****"},
		{"sslpassword=k scram_client_key=a scram_server_key=b oauth_client_secret=c", "sslpassword=**** scram_client_key=**** scram_server_key=**** oauth_client_secret=****"},
		{"user=password dbname=password", "user=password dbname=password"},
		{"host=h passwordx=1", "host=h passwordx=1"},
		{"postgresql://u:secret@host/db", "postgresql://u:****@host/db"},
		{"postgres://u:secret@host", "postgres://u:****@host"},
		{"postgresql://u@host/db", "postgresql://u@host/db"},
		{"postgresql://u:@host/db", "postgresql://u:@host/db"},
		{"postgresql://host:5432/db", "postgresql://host:5432/db"},
		{"postgresql://host/db?password=secret&sslmode=require", "postgresql://host/db?password=****&sslmode=require"},
		{"postgresql://host/db?sslmode=require&pass%77ord=secret", "postgresql://host/db?sslmode=require&pass%77ord=****"},
		{"postgresql://host/db?sslpassword=a&oauth_client_secret=b&scram_client_key=c", "postgresql://host/db?sslpassword=****&oauth_client_secret=****&scram_client_key=****"},
		{"postgresql://u:p@ss@host/db", "postgresql://u:****@host/db"},
		{"postgresql://u:pa/ss@host/db", "postgresql://u:****@host/db"},
		{"postgresql://u:pa?ss@host/db", "postgresql://u:****@host/db"},
		{"postgresql://u:secret@host/db?application_name=x@y", "postgresql://u:****@host/db?application_name=x@y"},
		{"postgresql://host/db?application_name=a@b&password=c", "postgresql://host/db?application_name=a@b&password=****"},
		{"postgresql://[::1", "postgresql://[::1"},
		{"postgresql://u:secret@[::1", "postgresql://u:****@[::1"},
		{"postgresql://", "postgresql://"},
		{"postgresql://?", "postgresql://?"},
		{"postgresql://?password", "postgresql://?password"},
		{"postgresql://?password=a=b", "postgresql://?password=****"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRedactHidesParsedSecrets checks Redact against the parser: whatever
// libpq would take as a secret does not survive redaction.
func TestRedactHidesParsedSecrets(t *testing.T) {
	for _, in := range []string{
		"password=Zq9secretZq9",
		"host=h password='Zq9 secret Zq9' user=u",
		`password=Zq9\ secretZq9`,
		"postgresql://u:Zq9secretZq9@h",
		"postgresql://u:Zq9%20secretZq9@h",
		"postgresql://h?password=Zq9secretZq9",
		"postgresql://h?port=1&sslpassword=Zq9secretZq9",
	} {
		params, err := parseConnString(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		red := Redact(in)
		for _, p := range params {
			if isSecret(p.keyword) && p.value != "" && (strings.Contains(red, p.value) || strings.Contains(red, url.PathEscape(p.value))) {
				t.Errorf("Redact(%q) = %q still shows %s", in, red, p.keyword)
			}
		}
	}
}
