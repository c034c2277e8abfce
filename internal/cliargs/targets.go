package cliargs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

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
