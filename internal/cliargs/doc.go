// Package cliargs holds what the command line means beyond urfave/cli's
// parsing: psql-style argument order (flags after the target), what libpq
// reads from psql's -h, -p, -U and -d, the targets (arguments and
// --targets-file), durations given as seconds or Go durations, the -W
// prompt, and flag errors that name the flag as it was typed.
package cliargs
