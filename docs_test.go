package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite man/ and completions/ from the CLI definition")

// TestGeneratedDocs fails when man/pgprobe.1 or completions/ no longer match
// the CLI. Run scripts/gendocs.sh to regenerate them.
func TestGeneratedDocs(t *testing.T) {
	app := newApp(&env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	files := map[string]string{}
	man, err := manPage(app)
	if err != nil {
		t.Fatal(err)
	}
	files["man/pgprobe.1"] = man
	for shell, name := range map[string]string{"bash": "pgprobe.bash", "zsh": "_pgprobe", "fish": "pgprobe.fish", "powershell": "pgprobe.ps1"} {
		s, err := completionScript(app, shell)
		if err != nil {
			t.Fatal(err)
		}
		files["completions/"+name] = s
	}
	for path, want := range files {
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run scripts/gendocs.sh)", path, err)
		}
		if string(got) != want {
			t.Errorf("%s is stale: run scripts/gendocs.sh", path)
		}
	}
}

// TestCompletionCommand checks that every shell's script is printed by the
// completion command itself and that an unknown shell is a usage error.
func TestCompletionCommand(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		var out, errb bytes.Buffer
		if code := run([]string{"pgprobe", "completion", shell}, nil, &out, &errb); code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, errb.String())
		}
		if !bytes.Contains(out.Bytes(), []byte("pgprobe")) || !bytes.Contains(out.Bytes(), []byte("--output")) && shell != "fish" {
			t.Errorf("completion %s: script does not mention pgprobe and its flags:\n%s", shell, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"pgprobe", "completion", "tcsh"}, nil, &out, &errb); code != 3 {
		t.Errorf("completion tcsh: exit %d, want 3", code)
	}
}
