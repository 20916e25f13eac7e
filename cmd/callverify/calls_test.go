package main

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/callverify/callverify/internal/testenv"
)

// TestCallListAndEndAllForAnAdmin: an admin lists the live calls of a line
// and ends them all at once; a dialer may not.
func TestCallListAndEndAllForAnAdmin(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	adm, dialer := env.Admin(), env.Dialer()
	if out, err := run(t, env, adm, "official", "create", "0571-8888 1234", "--name", "客服", "--direction", "outbound"); err != nil {
		t.Fatalf("official create: %v\n%s", err, out)
	}
	var ids []string
	for _, to := range []string{"13800138000", "13900139000"} {
		out, err := run(t, env, dialer, "call", "stamp", "--from", "0571-8888 1234", "--to", to, "--reason", "refund",
			"--agent-id", "a-7", "--agent-name", "王小明")
		if err != nil {
			t.Fatalf("stamp: %v\n%s", err, out)
		}
		ids = append(ids, strings.Fields(out)[1])
	}
	out, err := run(t, env, adm, "call", "ls", "--caller", "+86 571 8888 1234")
	if err != nil || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || !strings.Contains(out, "2 live calls") {
		t.Fatalf("call ls: %v\n%s", err, out)
	}
	if _, err := run(t, env, dialer, "call", "end-all", "--caller", "057188881234"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("call end-all as a dialer: %v, want PermissionDenied", err)
	}
	if out, err := run(t, env, adm, "call", "end-all", "--caller", "057188881234"); err != nil || !strings.Contains(out, "ended 2 calls") {
		t.Fatalf("call end-all: %v\n%s", err, out)
	}
	if out, err := run(t, env, adm, "call", "ls", "--caller", "057188881234"); err != nil || !strings.Contains(out, "0 live calls") {
		t.Fatalf("call ls after end-all: %v\n%s", err, out)
	}
}
