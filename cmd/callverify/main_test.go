package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/testenv"
)

// TestEachRootKeepsItsOwnFlags: a root's persistent flags live in its own
// cli, so building another root, as a test running in parallel does, leaves
// them as they were parsed.
func TestEachRootKeepsItsOwnFlags(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	first := newRootCmd()
	if err := first.PersistentFlags().Parse([]string{"--server", env.GRPCAddr, "--token", env.Analyst(), "--json"}); err != nil {
		t.Fatal(err)
	}
	_ = newRootCmd()
	var out bytes.Buffer
	first.SetOut(&out)
	first.SetErr(&out)
	first.SetArgs([]string{"blocklist", "check", "+8613800138000"})
	if err := first.Execute(); err != nil {
		t.Fatalf("check with the first root's flags: %v\n%s", err, out.String())
	}
	if got, want := strings.TrimSpace(out.String()), `"number": "+8613800138000"`; !strings.HasPrefix(got, "{") || !strings.Contains(got, want) {
		t.Errorf("output = %q, want JSON containing %s", got, want)
	}
}
