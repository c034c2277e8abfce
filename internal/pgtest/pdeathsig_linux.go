package pgtest

import "syscall"

// setParentDeathSignal makes the kernel send SIGQUIT (PostgreSQL's immediate
// shutdown) to the server when the test process dies without cleaning up.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
