package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/verify"
)

// Every text of a call is shown to the customer: none may carry a link,
// a control character or a character that reorders or hides text.
func TestStampCallRefusesHostileText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*verify.StampRequest)
		msg  string
	}{
		{"reason text with an IDN domain", func(r *verify.StampRequest) { r.ReasonText = "请登录 示例.中国 办理退款" },
			"reason_text must not contain links or web addresses"},
		{"reason text with a spelled-out dot", func(r *verify.StampRequest) { r.ReasonText = "退款请访问 pay (dot) com" },
			"reason_text must not contain links or web addresses"},
		{"reason text with a Russian domain", func(r *verify.StampRequest) { r.ReasonText = "возврат: пример.рф" },
			"reason_text must not contain links or web addresses"},
		{"reason text with a bidi override", func(r *verify.StampRequest) { r.ReasonText = "退款\u202e回访" },
			"reason_text contains an invisible or text-direction character (U+202E)"},
		{"agent name with a link", func(r *verify.StampRequest) { r.AgentName = "王小明 pay-refund.top" },
			"agent_name must not contain links or web addresses"},
		{"agent name with an isolate", func(r *verify.StampRequest) { r.AgentName = "王\u2067小明" },
			"agent_name contains an invisible or text-direction character (U+2067)"},
		{"agent name of a Hangul filler", func(r *verify.StampRequest) { r.AgentName = "\u3164" },
			"agent_name contains an invisible character (U+3164)"},
		{"agent id with a link", func(r *verify.StampRequest) { r.AgentID = "see evil.cn" },
			"agent_id must not contain links or web addresses"},
		{"agent id with an escape", func(r *verify.StampRequest) { r.AgentID = "agent\x1b[2J" },
			"agent_id contains a control character (U+001B)"},
		{"order ref with a link", func(r *verify.StampRequest) { r.OrderRef = "ORD-1 pay。com" },
			"order_ref must not contain links or web addresses"},
		{"order ref with a zero-width space", func(r *verify.StampRequest) { r.OrderRef = "ORD\u200b-1" },
			"order_ref contains an invisible or text-direction character (U+200B)"},
		{"customer id with a link", func(r *verify.StampRequest) { r.CustomerID = "http://x" },
			"customer_id must not contain links or web addresses"},
		{"customer id with a C1 control", func(r *verify.StampRequest) { r.CustomerID = "c\u009b1" },
			"customer_id contains a control character (U+009B)"},
	}
	for _, tt := range tests {
		req := stampReq(outbound, aliceRaw)
		tt.edit(&req)
		_, err := e.svc.StampCall(ctx, dialer, req)
		if !errors.Is(err, fault.ErrInvalidArgument) {
			t.Errorf("%s: %v, want invalid argument", tt.name, err)
			continue
		}
		if msg, _ := fault.Message(err); msg != tt.msg {
			t.Errorf("%s: message %q, want %q", tt.name, msg, tt.msg)
		}
	}

	// Ordinary text with dots, ampersands and brackets passes.
	req := stampReq(outbound, aliceRaw)
	req.ReasonText, req.AgentName, req.OrderRef = "Q&A <Support> v2.0", "Mr.Smith", "A-123.45"
	st, err := e.svc.StampCall(ctx, dialer, req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Call.ReasonText+"|"+st.Call.AgentName+"|"+st.Call.OrderRef, "Q&A <Support> v2.0|Mr.Smith|A-123.45"; got != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestEnrollDeviceRefusesHostileLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for label, msg := range map[string]string{
		"pay.cn":         "label must not contain links or web addresses",
		"手机 示例。中国":       "label must not contain links or web addresses",
		"phone\u202egnp": "label contains an invisible or text-direction character (U+202E)",
		"my\nphone":      "label must be a single line",
	} {
		_, err := e.svc.EnrollDevice(ctx, customer, e.alice, label)
		if m, _ := fault.Message(err); !errors.Is(err, fault.ErrInvalidArgument) || m != msg {
			t.Errorf("label %q: %v, want %q", label, err, msg)
		}
	}
}
