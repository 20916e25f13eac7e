package blocklist_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
)

// Every free text of the blocklist domain follows the one text policy,
// with the field named in the error.
func TestFreeTextFollowsTheTextPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	entry := func(reason string) error {
		_, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: "+8617012345670", Category: blocklist.CategoryScam, Reason: reason})
		return err
	}
	official := func(name, desc string) error {
		_, err := e.svc.CreateOfficialNumber(ctx, admin, "+86 571 8888 1234", blocklist.OfficialNumber{
			DisplayName: name, Description: desc, Direction: blocklist.DirectionOutbound,
		})
		return err
	}
	note := func(n string) error {
		_, err := e.svc.ReportCaller(ctx, custNumber(1), scammer, n, time.Time{})
		return err
	}
	resolve := func(reason string) error {
		_, _, err := e.svc.ResolveReportedNumber(ctx, analyst, "+8617099999999", blocklist.ResolveBlock, blocklist.CategoryScam, reason)
		return err
	}
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"entry reason with a link", entry("phishing at pay-refund。top"), "reason must not contain links or web addresses"},
		{"entry reason with a bidi override", entry("fake \u202ehotline"), "reason contains an invisible or text-direction character (U+202E)"},
		{"entry reason on two lines", entry("fake\nhotline"), "reason must be a single line"},
		{"entry reason with an escape", entry("\x1b]8;;http://x\x07click"), "reason contains a control character (U+001B)"},
		{"resolve reason with a link", resolve("see evil.cn"), "reason must not contain links or web addresses"},
		{"display name with a link", official("客服 示例.中国", ""), "display_name must not contain links or web addresses"},
		{"display name with an isolate", official("客服\u2066x", ""), "display_name contains an invisible or text-direction character (U+2066)"},
		{"display name blank but for a filler", official("\u3164", ""), "display_name contains an invisible character (U+3164)"},
		{"display name on two lines", official("客服\n热线", ""), "display_name must be a single line"},
		{"description with a control", official("客服", "a\x00b"), "description contains a control character (U+0000)"},
		{"description with a zero-width space", official("客服", "a\u200bb"), "description contains an invisible or text-direction character (U+200B)"},
		{"note with a link", note("he said: go to pay (dot) com"), "note must not contain links or web addresses"},
		{"note with an escape", note("line\x1b[31m two"), "note contains a control character (U+001B)"},
		{"note with a right-to-left mark", note("a\u200fb"), "note contains an invisible or text-direction character (U+200F)"},
	}
	for _, tt := range tests {
		if m, _ := fault.Message(tt.err); !errors.Is(tt.err, fault.ErrInvalidArgument) || m != tt.msg {
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.msg)
		}
	}

	// What passes is stored trimmed, a note with its line breaks as "\n".
	r, err := e.svc.ReportCaller(ctx, custNumber(2), scammer, " line one\r\nline two ", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Note, "line one\nline two"; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
	o, err := e.svc.CreateOfficialNumber(ctx, admin, "+86 571 8888 1234", blocklist.OfficialNumber{
		DisplayName: " Q&A <Support> ", Description: "Listed on https://bank.example/contact\nsince 2030", Direction: blocklist.DirectionOutbound,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.DisplayName != "Q&A <Support>" || o.Description != "Listed on https://bank.example/contact\nsince 2030" {
		t.Errorf("official number stored as %q / %q", o.DisplayName, o.Description)
	}
	en, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: "+86170*", Category: blocklist.CategorySpam, Reason: " =1+1 v2.0 range, 3.5% of calls "})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := en.Reason, "=1+1 v2.0 range, 3.5% of calls"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}
