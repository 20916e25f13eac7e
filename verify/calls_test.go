package verify_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
)

func TestStampCallValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(*verify.StampRequest)
		kind  error
		field string // named in the message
	}{
		{"caller not a number", func(r *verify.StampRequest) { r.CallerNumber = "call me" }, fault.ErrInvalidArgument, "caller_number"},
		{"callee missing", func(r *verify.StampRequest) { r.CalleeNumber = "" }, fault.ErrInvalidArgument, "callee_number"},
		{"callee is the caller", func(r *verify.StampRequest) { r.CalleeNumber = outbound }, fault.ErrInvalidArgument, "callee_number"},
		{"no reason", func(r *verify.StampRequest) { r.Reason = verify.ReasonUnspecified }, fault.ErrInvalidArgument, "reason"},
		{"unknown reason", func(r *verify.StampRequest) { r.Reason = 99 }, fault.ErrInvalidArgument, "reason"},
		{"reason text 65 characters", func(r *verify.StampRequest) { r.ReasonText = strings.Repeat("退", 65) }, fault.ErrInvalidArgument, "reason_text"},
		{"reason text with a link", func(r *verify.StampRequest) { r.ReasonText = "请访问 http://pay.example 退款" }, fault.ErrInvalidArgument, "reason_text"},
		{"reason text with a domain", func(r *verify.StampRequest) { r.ReasonText = "登录 refund-help.cn 办理" }, fault.ErrInvalidArgument, "reason_text"},
		{"reason text with a newline", func(r *verify.StampRequest) { r.ReasonText = "退款\n回访" }, fault.ErrInvalidArgument, "reason_text"},
		{"no agent id", func(r *verify.StampRequest) { r.AgentID = "  " }, fault.ErrInvalidArgument, "agent_id"},
		{"no agent name", func(r *verify.StampRequest) { r.AgentName = "" }, fault.ErrInvalidArgument, "agent_name"},
		{"agent name too long", func(r *verify.StampRequest) { r.AgentName = strings.Repeat("a", 65) }, fault.ErrInvalidArgument, "agent_name"},
		{"order ref too long", func(r *verify.StampRequest) { r.OrderRef = strings.Repeat("1", 129) }, fault.ErrInvalidArgument, "order_ref"},
		{"ttl too long", func(r *verify.StampRequest) { r.TTLSeconds = 3601 }, fault.ErrInvalidArgument, "ttl_seconds"},
		{"ttl negative", func(r *verify.StampRequest) { r.TTLSeconds = -1 }, fault.ErrInvalidArgument, "ttl_seconds"},
		{"caller not official", func(r *verify.StampRequest) { r.CallerNumber = "+44 20 7946 0958" }, fault.ErrFailedPrecondition, ""},
		{"caller on the blocklist only", func(r *verify.StampRequest) { r.CallerNumber = fraudRaw }, fault.ErrFailedPrecondition, ""},
		{"caller an inbound-only hotline", func(r *verify.StampRequest) { r.CallerNumber = hotlineRaw }, fault.ErrFailedPrecondition, ""},
	}
	for _, tt := range tests {
		req := stampReq(outbound, aliceRaw)
		tt.edit(&req)
		_, err := e.svc.StampCall(ctx, dialer, req)
		if !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
			continue
		}
		if msg, ok := fault.Message(err); !ok || !strings.Contains(msg, tt.field) {
			t.Errorf("%s: message %q does not name %q", tt.name, msg, tt.field)
		}
	}

	for _, ttl := range []int{1, 3600} {
		req := stampReq(both, aliceRaw)
		req.TTLSeconds = ttl
		st, err := e.svc.StampCall(ctx, dialer, req)
		if err != nil {
			t.Fatalf("ttl %d: %v", ttl, err)
		}
		if got := st.Call.ExpireTime.Sub(st.Call.CreateTime); got != time.Duration(ttl)*time.Second {
			t.Errorf("ttl %d: call lives %v", ttl, got)
		}
	}
}

func TestLinkFilter(t *testing.T) {
	t.Parallel()
	links := []string{
		"http://x", "HTTPS://X", "见 www.example", "ftp://a", "example.com", "去 pay.cn 付款", "evil.cn/refund",
		"pay。com", "pay．com", "ｐａｙ．ｃｏｍ", "ＷＷＷ", "ｈｔｔｐｓ：／／x", "1.2.3.4", "访问10.0.0.1", "bit.ly/abc", "Pay.Example.Org",
	}
	for _, s := range links {
		if !verify.LooksLikeLink(s) {
			t.Errorf("%q passed as no link", s)
		}
	}
	plain := []string{
		"您申请的退款进度回访", "订单 No.123 的配送", "version 1.5 update", "3.5 元优惠", "after-sales 售后", "A.B",
		"Order No.ABC123",
	}
	for _, s := range plain {
		if verify.LooksLikeLink(s) {
			t.Errorf("%q taken for a link", s)
		}
	}
}

func TestMarketingCallsRespectTheOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	req := stampReq(outbound, aliceRaw)
	req.Reason = verify.ReasonMarketing
	if _, err := e.svc.StampCall(ctx, dialer, req); err != nil {
		t.Fatalf("marketing call with no preference set (allowed by default): %v", err)
	}
	p, err := e.svc.UpdatePreferences(ctx, customer, e.alice, nil)
	if err != nil || !p.MarketingCallsAllowed {
		t.Fatalf("default preferences: %+v %v", p, err)
	}
	no := false
	if p, err = e.svc.UpdatePreferences(ctx, customer, e.alice, &no); err != nil || p.MarketingCallsAllowed {
		t.Fatalf("opt out: %+v %v", p, err)
	}
	if _, err := e.svc.StampCall(ctx, dialer, req); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Fatalf("marketing call to an opted-out customer: %v, want FAILED_PRECONDITION", err)
	}
	req.Reason = verify.ReasonDelivery
	if _, err := e.svc.StampCall(ctx, dialer, req); err != nil {
		t.Fatalf("a delivery call to an opted-out customer: %v", err)
	}
	req.Reason = verify.ReasonMarketing
	req.CalleeNumber = bobRaw
	if _, err := e.svc.StampCall(ctx, dialer, req); err != nil {
		t.Fatalf("alice's opt-out stopped a call to bob: %v", err)
	}
	if p, err = e.svc.UpdatePreferences(ctx, customer, e.alice, nil); err != nil || p.MarketingCallsAllowed {
		t.Fatalf("preferences are not kept: %+v %v", p, err)
	}
}

func TestCallIDsAreRandomAndUnknownIDsAnswerAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for range 20 {
		id := e.stamp(outbound, aliceRaw).Call.ID
		if len(id) != 26 || seen[id] {
			t.Fatalf("call id %q (len %d, seen %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
	var msgs []string
	for _, id := range []string{"", "nope", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "../../etc/passwd", strings.Repeat("z", 1000)} {
		_, err := e.svc.GetCall(ctx, dialer, id)
		if !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("GetCall(%q): %v", id, err)
		}
		_, _, err = e.svc.GetConfirmationCode(ctx, dialer, id)
		m, _ := fault.Message(err)
		msgs = append(msgs, m)
		if _, err := e.svc.EndCall(ctx, dialer, id); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("EndCall(%q): %v", id, err)
		}
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("messages differ: %q vs %q", m, msgs[0])
		}
	}
}

func TestConfirmCodeAcceptsTheCurrentAndPreviousStepOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := e.stamp(outbound, aliceRaw)
	secretless := func(at time.Duration) string {
		// The code the agent saw at now+at.
		e.clock.Advance(at)
		defer e.clock.Advance(-at)
		c, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.clock.Advance(2 * verify.CodePeriod)
	now, prev, older, next := secretless(0), secretless(-verify.CodePeriod), secretless(-2*verify.CodePeriod), secretless(verify.CodePeriod)

	confirm := func(code string) verify.ConfirmResult {
		cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, code)
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	// The previous step's code first: once a step's code matched, only a
	// later step's code matches again.
	if cr := confirm(prev); !cr.Match {
		t.Errorf("previous step refused")
	}
	if cr := confirm(now); !cr.Match {
		t.Errorf("current step refused")
	}
	if older != now && older != prev {
		if cr := confirm(older); cr.Match || cr.AttemptsRemaining != verify.MaxWrongAttempts-1 {
			t.Errorf("two steps back: %+v, want refused and counted", cr)
		}
	}
	if next != now && next != prev && next != older {
		if cr := confirm(next); cr.Match {
			t.Errorf("the next step's code was accepted")
		}
	}
	// Somebody else's call, an unknown call: the same answer, nothing counted.
	bobs, err := e.svc.ConfirmCode(ctx, customer, e.bob, st.Call.ID, now)
	if err != nil || bobs.Match || bobs.AttemptsRemaining != 0 || bobs.Call != nil {
		t.Errorf("bob confirming alice's call: %+v %v", bobs, err)
	}
	unknown, err := e.svc.ConfirmCode(ctx, customer, e.alice, "aaaaaaaaaaaaaaaaaaaaaaaaaa", now)
	if err != nil || unknown != bobs {
		t.Errorf("unknown call: %+v %v, want %+v", unknown, err, bobs)
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
		if _, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, bad); !errors.Is(err, fault.ErrInvalidArgument) {
			t.Errorf("code %q: %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	c, err := e.svc.GetCall(ctx, dialer, st.Call.ID)
	if err != nil || c.State != verify.StateActive {
		t.Fatalf("call after the attempts: %v %v", c.State, err)
	}
}

func TestEnrolledDeviceShowsTheSameCodeOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	en, err := e.svc.EnrollDevice(ctx, customer, e.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(en.OTPAuthURI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("otpauth URI %q: %v", en.OTPAuthURI, err)
	}
	q := u.Query()
	if q.Get("issuer") != "callverify" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("otpauth parameters %v", q)
	}
	if label := strings.TrimPrefix(u.Path, "/"); label != "callverify:"+e.alice.Masked() || strings.Contains(en.OTPAuthURI, e.alice.Digits()) {
		t.Errorf("label %q: want the masked number, never the number", label)
	}
	img, err := png.Decode(bytes.NewReader(en.QRPNG))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("QR PNG: %v", err)
	}

	st := e.stamp(outbound, aliceRaw)
	// What an authenticator app computes from the URI alone.
	offline, err := totp.GenerateCode(q.Get("secret"), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if offline != st.Code {
		t.Fatalf("the authenticator shows %s, the agent reads %s", offline, st.Code)
	}
	res, err := e.svc.CheckCaller(ctx, e.alice, outbound, "")
	if err != nil || res.Code != offline {
		t.Fatalf("the app shows %s, the authenticator %s (%v)", res.Code, offline, err)
	}
	if cr, err := e.svc.ConfirmCode(ctx, customer, e.alice, st.Call.ID, offline); err != nil || !cr.Match {
		t.Fatalf("confirming the authenticator's code: %+v %v", cr, err)
	}

	// The secret is never stored in the clear.
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(q.Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if file, err := os.ReadFile(filepath.Join(filepath.Dir(e.db.Path()), boltstore.FileName)); err != nil || bytes.Contains(file, raw) ||
		bytes.Contains(file, []byte(q.Get("secret"))) {
		t.Fatalf("the device secret is in the store file in the clear (read err %v)", err)
	}

	// Deleting the device: the call falls back to its own secret at once,
	// and the agent and the app still agree.
	if err := e.svc.DeleteDevice(ctx, customer, e.alice, en.DeviceID); err != nil {
		t.Fatal(err)
	}
	agent, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := e.svc.ListMyCalls(ctx, e.alice, "")
	if err != nil || len(calls) != 1 || calls[0].Code != agent {
		t.Fatalf("after deleting the device: app %v, agent %s, %v", calls, agent, err)
	}
	if err := e.svc.DeleteDevice(ctx, customer, e.alice, en.DeviceID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestDevicesAreLimitedAndPrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var first string
	for i := range verify.DefaultMaxDevices {
		en, err := e.svc.EnrollDevice(ctx, customer, e.alice, "phone")
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		if i == 0 {
			first = en.DeviceID
		}
		if !strings.Contains(en.OTPAuthURI, "callverify:phone") {
			t.Errorf("label not in %q", en.OTPAuthURI)
		}
	}
	if _, err := e.svc.EnrollDevice(ctx, customer, e.alice, "one more"); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Fatalf("device past the limit: %v", err)
	}
	if err := e.svc.DeleteDevice(ctx, customer, e.bob, first); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("bob deleting alice's device: %v", err)
	}
	for _, bad := range []string{"a:b", strings.Repeat("x", 33), "tab\there"} {
		if _, err := e.svc.EnrollDevice(ctx, customer, e.bob, bad); !errors.Is(err, fault.ErrInvalidArgument) {
			t.Errorf("label %q: %v", bad, err)
		}
	}
}

func TestListMyCallsShowsOnlyMyActiveCallsWithCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a1 := e.stamp(outbound, aliceRaw)
	e.clock.Advance(time.Second)
	a2 := e.stamp(both, aliceRaw)
	e.stamp(outbound, bobRaw)
	ended := e.stamp(both, aliceRaw)
	if _, err := e.svc.EndCall(ctx, dialer, ended.Call.ID); err != nil {
		t.Fatal(err)
	}
	calls, err := e.svc.ListMyCalls(ctx, e.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("%d calls, want alice's 2 active ones", len(calls))
	}
	got := map[string]string{calls[0].Call.ID: calls[0].Code, calls[1].Call.ID: calls[1].Code}
	for _, st := range []verify.Stamped{a1, a2} {
		code, _, err := e.svc.GetConfirmationCode(ctx, dialer, st.Call.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got[st.Call.ID] != code {
			t.Errorf("call %s: app shows %q, agent reads %q", st.Call.ID, got[st.Call.ID], code)
		}
	}
}

func TestLookupNumberNeverVerifiesNorRevealsCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.stamp(outbound, aliceRaw)
	tests := []struct {
		number string
		want   verify.Verdict
	}{
		{outbound, verify.VerdictOfficialNotCalling},
		{hotlineRaw, verify.VerdictSpoofedHotline},
		{fraudRaw, verify.VerdictKnownFraud},
		{"+44 20 7946 0958", verify.VerdictUnknown},
	}
	for _, tt := range tests {
		res, err := e.svc.LookupNumber(ctx, tt.number, "en")
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != tt.want || res.Message == "" || len(res.Advice) == 0 {
			t.Errorf("%s: %+v, want %v", tt.number, res, tt.want)
		}
	}
	res, _ := e.svc.LookupNumber(ctx, outbound, "en")
	if !strings.Contains(res.Message, "cannot confirm") || !strings.Contains(res.Message, "hang up") {
		t.Errorf("official number by lookup: %q should say we cannot confirm it here and to hang up", res.Message)
	}
	if _, err := e.svc.LookupNumber(ctx, "not a number", ""); !errors.Is(err, fault.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "number") {
		t.Errorf("bad number: %v", err)
	}
}

func TestWordsForAFrightenedPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.stamp(outbound, aliceRaw)
	callers := []string{outbound, hotlineRaw, fraudRaw, both, "+44 20 7946 0958"}
	for _, lang := range []struct {
		tag  string
		must []string // every advice list says these
	}{
		{"", []string{"验证码", "密码", "转账"}},
		{"zh-CN", []string{"验证码", "密码", "转账"}},
		{"fr", []string{"验证码", "密码", "转账"}}, // unknown languages fall back to zh-CN
		{"en", []string{"codes", "passwords", "transfer"}},
		{"en-GB", []string{"codes", "passwords", "transfer"}},
	} {
		for _, caller := range callers {
			res, err := e.svc.CheckCaller(ctx, e.alice, caller, lang.tag)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(res.Advice, "\n")
			for _, w := range lang.must {
				if !strings.Contains(all, w) {
					t.Errorf("%s/%v: advice does not mention %q:\n%s", lang.tag, res.Verdict, w, all)
				}
			}
			if strings.Count(res.Message, "。")+strings.Count(res.Message, ". ") > 1 || len([]rune(res.Message)) > 160 {
				t.Errorf("%s/%v: message is not one short sentence: %q", lang.tag, res.Verdict, res.Message)
			}
			if len(res.Advice) > 5 {
				t.Errorf("%s/%v: %d advice items, keep it short", lang.tag, res.Verdict, len(res.Advice))
			}
			// Codes flow only agent -> customer: no text asks the customer
			// to say or give a code.
			for _, bad := range []string{"请告诉", "tell us the code", "read the code to", "say the code to"} {
				if strings.Contains(all+res.Message, bad) {
					t.Errorf("%s/%v: text asks for a code: %q", lang.tag, res.Verdict, bad)
				}
			}
		}
	}
}
