package main

import "github.com/urfave/cli/v2"

// exitStatusHelp ends --help: the exit codes, shortly (the man page and the
// README say more).
const exitStatusHelp = `
EXIT STATUS:
   0  connected (with --ping: accepting connections) and every check passed
   1  the server answered but refused (with --ping: rejecting connections)
   2  no usable answer: name resolution, connect, timeout, SSL, TLS, protocol
   3  no attempt: bad flags, connection string, URI or files
   4  connected, but a check failed
   130 143  interrupted by SIGINT (^C) or SIGTERM
`

// appHelpTemplate is urfave/cli's, then the exit codes.
func appHelpTemplate() string { return cli.AppHelpTemplate + exitStatusHelp }
