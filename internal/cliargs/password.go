package cliargs

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// PromptPassword reads a password from the terminal without echo, as
// psql -W; without a terminal (or with noTTY, for tests), the first line
// of stdin.
func PromptPassword(stdin io.Reader, noTTY bool) (string, error) {
	if !noTTY {
		if in, out, err := openTTY(); err == nil {
			defer in.Close()
			defer out.Close()
			fmt.Fprint(out, "Password: ")
			b, err := term.ReadPassword(int(in.Fd()))
			fmt.Fprintln(out)
			return string(b), err
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
