package redistest

import "syscall"

// sysProcAttr kills a server when the test binary dies before stopping it
// (a panic, a test timeout), so no server outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
