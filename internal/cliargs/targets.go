package cliargs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// Targets are the arguments' targets, then the --targets-file's; one
// target of libpq's defaults ("") when there are none.
func Targets(c *cli.Context, stdin io.Reader) ([]string, error) {
	list := c.Args().Slice()
	if f := c.String("targets-file"); f != "" {
		more, err := ReadTargets(f, stdin)
		if err != nil {
			return nil, err
		}
		list = append(list, more...)
	}
	if len(list) == 0 {
		return []string{""}, nil
	}
	if c.IsSet("dbname") && conninfo.IsConnString(c.String("dbname")) {
		return nil, errors.New("-d holds a connection string and a target was given too: give it one way, either -d or as an argument")
	}
	return list, nil
}

// ReadTargets reads a --targets-file: one target a line, blank lines and
// lines starting with # skipped; "-" reads stdin.
func ReadTargets(path string, stdin io.Reader) ([]string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("could not read --targets-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("could not read --targets-file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--targets-file %s holds no target", path)
	}
	return out, nil
}
