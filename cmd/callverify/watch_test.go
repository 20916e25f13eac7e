package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/testenv"
)

// watch prints a stamped call's card as it comes, and the end of the call,
// and stops without an error when interrupted.
func TestWatchPrintsCardsAsTheyCome(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	if out, err := run(t, env, env.Admin(), "official", "create", "+864008008888", "--name", "Customer service"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	out := &testenv.SyncBuffer{}
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs([]string{"--server", env.GRPCAddr, "--token", env.Customer("+8613800138000"), "watch", "--language", "en"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	waitFor := func(what string, re *regexp.Regexp) []string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				return m
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("watch printed no %s within 10s:\n%s", what, out.String())
		return nil
	}
	// The stream is open once the server holds it; stamp until its card shows.
	stamped, err := run(t, env, env.Dialer(), "call", "stamp", "--from", "+864008008888", "--to", "+8613800138000",
		"--reason", "refund", "--agent-id", "a-7", "--agent-name", "Wang")
	if err != nil {
		t.Fatalf("%v\n%s", err, stamped)
	}
	id := regexp.MustCompile(`(?m)^call\s+(\S+)$`).FindStringSubmatch(stamped)[1]
	code := regexp.MustCompile(`(?m)^code\s+(\d{6})`).FindStringSubmatch(stamped)[1]
	waitFor("STAMPED card", regexp.MustCompile(`STAMPED\s+call `+id+` from \+864008008888 \(Wang, refund\) code `+code))
	if _, err := run(t, env, env.Dialer(), "call", "end", id); err != nil {
		t.Fatal(err)
	}
	waitFor("ENDED event", regexp.MustCompile(`ENDED\s+call `+id))
	if strings.Contains(out.String(), "HEARTBEAT") {
		t.Errorf("heartbeats printed without --heartbeats:\n%s", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch interrupted: %v, want no error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop within 10s of the interrupt")
	}
}
