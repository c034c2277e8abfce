// Package cliargs holds what the command line needs beyond urfave/cli:
// psql-style argument order (flags after the target), durations given as
// seconds or Go durations, the targets file, the -W prompt, and flag errors
// that name the flag as it was typed.
package cliargs
