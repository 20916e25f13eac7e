package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/testbin"
)

// TestSignalLogsTheDrainWithItsDeadline: SIGINT and SIGTERM each start a
// drain that the log announces with the configured deadline and the signal,
// and the process then stops cleanly.
func TestSignalLogsTheDrainWithItsDeadline(t *testing.T) {
	server, _ := buildBinaries(t)
	for _, tc := range []struct {
		sig   os.Signal
		cause string
	}{
		{syscall.SIGINT, "interrupt signal received"},
		{syscall.SIGTERM, "terminated signal received"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			d := start(t, server, dataDir, testbin.FreeAddr(t), testbin.FreeAddr(t), "CALLVERIFY_SHUTDOWN_TIMEOUT=7s")
			if err := d.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- d.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("callverifyd exited with %v after %v; logs:\n%s", err, tc.sig, d.logs)
				}
			case <-time.After(20 * time.Second):
				_ = d.cmd.Process.Kill()
				<-done
				t.Fatalf("callverifyd did not stop within 20s of %v; logs:\n%s", tc.sig, d.logs)
			}
			logs := d.logs.String()
			var line string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "draining") {
					line = l
				}
			}
			for _, want := range []string{`msg="draining for up to 7s"`, `cause="` + tc.cause + `"`, "shutdown_timeout=7s"} {
				if !strings.Contains(line, want) {
					t.Errorf("the drain line %q lacks %s; logs:\n%s", line, want, logs)
				}
			}
			if i, j := strings.Index(logs, "draining for up to"), strings.Index(logs, `msg=stopped`); i < 0 || j < i {
				t.Errorf("want the drain logged before \"stopped\"; logs:\n%s", logs)
			}
		})
	}
}
