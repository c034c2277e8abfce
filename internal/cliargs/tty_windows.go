//go:build windows

package cliargs

import "os"

// openTTY opens the console as simple_prompt does on Windows: CONIN$ to
// read from, CONOUT$ to write the prompt to.
func openTTY() (in, out *os.File, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}
