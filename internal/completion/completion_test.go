package completion

import (
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestCommands: each command gets its own flags (with --help), the values
// given for it, FILE and DIR placeholders, and a fixed word list from an
// ArgsUsage such as "bash|zsh".
func TestCommands(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FORMAT`"},
			&cli.StringFlag{Name: "targets-file", Usage: "targets in `FILE`"},
			&cli.StringFlag{Name: "host", Aliases: []string{"h"}},
			&cli.BoolFlag{Name: "ping", Usage: "the server's answer"},
		},
		Commands: []*cli.Command{
			{Name: "listen", Usage: "serve", Flags: []cli.Flag{&cli.StringFlag{Name: "unix", Usage: "in `DIR`"}, &cli.StringFlag{Name: "output", Aliases: []string{"o"}}}},
			{Name: "completion", ArgsUsage: "bash|zsh"},
			{Name: "help"},
		},
	}
	cmds := commands(app, Values{"": {"output": {"json", "table"}}, "listen": {"output": {"json"}}})
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	if want := []string{"", "listen", "completion"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("commands %q, want %q", names, want)
	}
	root, listen, comp := cmds[0], cmds[1], cmds[2]
	if got := root.flags[0]; got.placeholder != "FORMAT" || got.usage != "output FORMAT" || !reflect.DeepEqual(got.values, []string{"json", "table"}) || !reflect.DeepEqual(got.names, []string{"--output", "-o"}) {
		t.Errorf("--output: %+v", got)
	}
	if !root.flags[1].isFile() || root.flags[2].placeholder != "HOST" || root.flags[3].takesValue() {
		t.Errorf("root flags: %+v", root.flags)
	}
	if !listen.flags[0].isDir() || !reflect.DeepEqual(listen.flags[1].values, []string{"json"}) || listen.flags[len(listen.flags)-1].names[0] != "--help" {
		t.Errorf("listen flags: %+v", listen.flags)
	}
	if !reflect.DeepEqual(comp.words, []string{"bash", "zsh"}) {
		t.Errorf("completion's words: %q", comp.words)
	}
	if got := valueFlagNames(root.flags); !reflect.DeepEqual(got, []string{"--output", "-o", "--targets-file", "--host", "-h"}) {
		t.Errorf("value flags: %q", got)
	}
	if _, err := Script(app, "tcsh", nil); err == nil || !strings.Contains(err.Error(), "use bash, zsh, fish or powershell") {
		t.Errorf("tcsh: %v", err)
	}
}

func TestQuoting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{shellSingleQuote("the server's answer"), `'the server'\''s answer'`},
		{fishQuote(`the server's \ answer`), `'the server\'s \\ answer'`},
		{zshSpecs(flagInfo{names: []string{"--ssl"}, usage: "answer [S] or [N]", placeholder: "WHEN", values: []string{"on", "off"}})[0], `'(--ssl)--ssl[answer \[S\] or \[N\]]:WHEN:(on off)'`},
		{bashPattern([]string{"--help", "-?"}), `--help|-\?`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
