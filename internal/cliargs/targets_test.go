package cliargs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadTargets(t *testing.T) {
	body := "# fleet\n\nhost=a\n  postgresql://b/x  \n\t# indented comment\nhost=c port=1\n"
	got, err := ReadTargets("-", strings.NewReader(body))
	if want := []string{"host=a", "postgresql://b/x", "host=c port=1"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	p := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if got2, err := ReadTargets(p, nil); err != nil || !reflect.DeepEqual(got2, got) {
		t.Errorf("from a file: %q, %v", got2, err)
	}
	if _, err := ReadTargets("-", strings.NewReader("# nothing\n\n")); err == nil {
		t.Error("an empty list is an error")
	}
	if _, err := ReadTargets(filepath.Join(p, "missing"), nil); err == nil {
		t.Error("a missing file is an error")
	}
}
