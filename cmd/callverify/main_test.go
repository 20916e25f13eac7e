package main

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
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
	// --json, parsed into the first root, still holds: the output is the
	// response as JSON, not the table.
	var res callverifyv1.CheckNumberResponse
	if err := protojson.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not a CheckNumberResponse in JSON: %v\n%s", err, out.String())
	}
	if got, want := res.GetNumber(), "+8613800138000"; got != want {
		t.Errorf("number = %q, want %q", got, want)
	}
}
