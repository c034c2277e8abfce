//go:build unix

package cliargs

import "os"

// openTTY opens the controlling terminal as simple_prompt does: /dev/tty,
// to read from and to write the prompt to.
func openTTY() (in, out *os.File, err error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	// A second handle for the prompt, as simple_prompt opens it twice.
	out, err = os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		tty.Close()
		return nil, nil, err
	}
	return tty, out, nil
}
