package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// choose picks value in the <select> sel as a user would: the change
// event fires.
func choose(sel, value string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; `+
			`el.dispatchEvent(new Event('change', { bubbles: true })); return el.value === %[2]s; })()`,
			strconv.Quote(sel), strconv.Quote(value)))(ctx, t)
		return err
	})
}

// customerCallbacks is the customer's requests as the API lists them:
// reason -> state.
func customerCallbacks(t *testing.T, e *testenv.Env, token string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range must(t, e, "GET", "/v1/me/callbacks", token, nil)["callbacks"].([]any) {
		m := c.(map[string]any)
		out[m["reason"].(string)] = m["state"].(string)
	}
	return out
}

// callbackFlow: a customer asks for two callbacks; a dialer sees them
// masked in the queue, loses a claim to another dialer, claims the
// customer's, and stamps the call; the customer's card and check say it is
// the callback asked for at 17:00 (09:00 UTC, in the server's
// Asia/Shanghai); the customer cancels the other request.
func callbackFlow(t *testing.T, b *browser) {
	e := testenv.New(t)
	must(t, e, "POST", "/v1/official-numbers", e.Admin(), map[string]any{"number": "400-800-8888", "displayName": "官方客服", "direction": "DIRECTION_OUTBOUND"})

	c := b.tab(t)
	c.run("open the check page", chromedp.EmulateViewport(412, 915), chromedp.Navigate(e.HTTPURL+"/check/"), visible("#dev-form"))
	c.run("sign in", typeIn("#dev-phone", "13700137000"), click("#dev-signin"), visible("#app"),
		waitText("#my-callbacks", "您没有回电请求。"))
	c.run("ask for a callback about a refund",
		setValue("#callback-reason", "CALL_REASON_REFUND"), typeIn("#callback-order", "A-2002"),
		setValue("#callback-from", "2026-11-26T18:00"), setValue("#callback-until", "2026-11-26T20:00"),
		click("#callback-ask"), waitText("#callback-result", "已提交回电请求，排队位置：1。"),
		waitText(`#my-callbacks li[data-state="CALLBACK_STATE_OPEN"]`, "排队中，第1位"))
	e.Clock.Advance(time.Minute)
	c.run("half a window is refused in words", setValue("#callback-reason", "CALL_REASON_DELIVERY"),
		setValue("#callback-from", "2026-11-26T18:00"), setValue("#callback-until", ""),
		click("#callback-ask"), waitText("#callback-result", "请同时填写开始和结束时间，或都不填。"))
	c.run("a window in the past is refused in words", setValue("#callback-from", "2026-11-25T08:00"), setValue("#callback-until", "2026-11-25T09:00"),
		click("#callback-ask"), waitText("#callback-result", "希望回电的时间要在现在之后、7天之内，并且结束晚于开始。"))
	c.run("ask for a callback about a delivery", setValue("#callback-from", ""), setValue("#callback-until", ""),
		click("#callback-ask"), waitText("#callback-result", "已提交回电请求，排队位置：2。"),
		waitText("#my-callbacks", "排队中，第2位"))
	if got, want := fmt.Sprint(customerCallbacks(t, e, e.Customer("13700137000"))),
		"map[CALL_REASON_DELIVERY:CALLBACK_STATE_OPEN CALL_REASON_REFUND:CALLBACK_STATE_OPEN]"; got != want {
		t.Errorf("after two requests the customer has %s, want %s", got, want)
	}
	c.axe("check: callback requests")
	c.shot("check-callbacks")

	// Another customer's request, which another dialer claims from under
	// this dialer's list.
	e.Clock.Advance(time.Minute)
	other := must(t, e, "POST", "/v1/me/callbacks", e.Customer("13600136000"), map[string]any{"reason": "CALL_REASON_REFUND"})["requestId"].(string)

	d := b.tab(t)
	d.consoleSignIn(e, "dialer")
	d.screen("callbacks")
	d.run("the queue, numbers masked", waitText("#callbacks-list", "+86136****6000"),
		waitText("#cb-claimed", "You hold no claimed request in this session."))
	if got, want := strings.Join(eval[[]string](d, "queue", `[...document.querySelectorAll('#callbacks-list tbody tr')].map((r) => r.cells[0].textContent + ' ' + r.cells[1].textContent)`), ", "),
		"+86137****7000 Refund, +86137****7000 Delivery, +86136****6000 Refund"; got != want {
		t.Errorf("the queue lists %q, want %q (oldest first)", got, want)
	}
	if got := d.text("#callbacks-list"); strings.Contains(got, "13700137000") || strings.Contains(got, "13600136000") {
		t.Errorf("the queue shows a full number before any claim:\n%s", got)
	}
	d.run("filter by reason", choose("#cb-reason", "CALL_REASON_DELIVERY"),
		waitText("#callbacks-list caption", "Open callback requests for Delivery, oldest first"))
	if got := eval[int](d, "rows", `document.querySelectorAll('#callbacks-list tbody tr').length`); got != 1 {
		t.Errorf("filtered by Delivery the queue lists %d requests, want 1", got)
	}
	d.run("all reasons again", choose("#cb-reason", ""), waitText("#callbacks-list caption", "Open callback requests, oldest first"))

	must(t, e, "POST", "/v1/callbacks/"+other+":claim", e.Token(auth.RoleDialer, "dialer-2", ""), map[string]any{})
	d.run("a claim lost to another dialer", click(`button[aria-label^="Claim the request of +86136****6000 (Refund, asked "]`),
		waitText("#cb-error", "Too late: the request of +86136****6000 is no longer in the queue. Another dialer claimed it first"),
		gone(`button[aria-label^="Claim the request of +86136****6000 (Refund, asked "]`))
	d.run("claim the customer's refund", click(`button[aria-label^="Claim the request of +86137****7000 (Refund, asked "]`),
		waitText("#cb-claimed", "Call +8613700137000"), waitText("#cb-claimed", "A-2002"))
	d.axe("callback queue with a claim")
	d.shot("console-callbacks")

	// A claim held past its time (15 minutes) lapses: the stamp is refused
	// in words, and the requests are back in the queue.
	e.Clock.Advance(16 * time.Minute)
	d.run("a lapsed claim", click(`button[aria-label="Stamp the call to +8613700137000"]`),
		visible("#d-answering"), typeIn("#d-caller", "400-800-8888"), typeIn("#d-agent-id", "a-9"), setValue("#d-agent-name", "李娜"), click("#d-stamp"),
		waitText("#d-error", "Not stamped: you no longer hold a claim on this callback request for +8613700137000."))
	if n := eval[int](d, "stamped cards", `document.querySelectorAll('#d-stamped article').length`); n != 0 {
		t.Errorf("a refused stamp shows %d call cards", n)
	}
	d.screen("callbacks")
	d.run("claim it again", waitText("#cb-claimed", "You hold no claimed request in this session."),
		click(`button[aria-label^="Claim the request of +86137****7000 (Refund, asked "]`), waitText("#cb-claimed", "Call +8613700137000"))
	d.run("stamp the claimed call", click(`button[aria-label="Stamp the call to +8613700137000"]`),
		visible("#d-answering"), typeIn("#d-caller", "400-800-8888"), typeIn("#d-agent-id", "a-9"), setValue("#d-agent-name", "李娜"),
		click("#d-stamp"), visible("#d-stamped .code-big"), waitText("#d-stamped", "the customer's callback request"))
	code := d.text("#d-stamped .code-big")
	if got, want := eval[string](d, "stamped", `document.getElementById('d-callee').value + ' ' + document.getElementById('d-reason').value + ' ' + document.getElementById('d-order').value`),
		"+8613700137000 CALL_REASON_REFUND A-2002"; got != want {
		t.Errorf("the stamp form was filled with %q, want %q", got, want)
	}
	d.screen("callbacks")
	d.run("the claim is done", waitText("#cb-claimed", "You hold no claimed request in this session."),
		waitText("#callbacks-list", "Delivery"))
	// The other dialer's claim lapsed too: that request is back.
	if got, want := strings.Join(eval[[]string](d, "queue", `[...document.querySelectorAll('#callbacks-list tbody tr')].map((r) => r.cells[0].textContent + ' ' + r.cells[1].textContent)`), ", "),
		"+86137****7000 Delivery, +86136****6000 Refund"; got != want {
		t.Errorf("after the stamp the queue lists %q, want %q", got, want)
	}

	// The customer: the card and the check say it is their callback.
	c.run("the card says it is the callback", click("#refresh"),
		waitText("#calls", "这是您在17:00预约的回电：官方客服（李娜）就退款给您回电。"), waitText("#calls", code),
		waitText(`#my-callbacks li[data-state="CALLBACK_STATE_CALLED"]`, "已回电"))
	c.run("check the ringing line", typeIn("#caller", "400-800-8888"), click("#check"),
		visible(`#verdict [data-verdict="VERDICT_VERIFIED"]`),
		waitText("#verdict", "这是您在17:00预约的回电，是平台的真实来电"), waitText("#verdict", "这是您请求的回电"))
	if got := c.text("#verdict .code-big"); got != code {
		t.Errorf("the green card shows the code %q, want the dialer's %q", got, code)
	}
	c.axe("check: the callback verified")
	c.shot("check-callback-verified")

	c.run("in English", click("#lang"),
		waitText("#verdict", "This is the callback you asked for at 17:00, a genuine call from us"),
		waitText("#verdict", "This is the callback you asked for"),
		waitText("#calls", "This is the callback you asked for at 17:00: 官方客服 (李娜) is calling you back about your refund."),
		waitText(`#my-callbacks li[data-state="CALLBACK_STATE_CALLED"]`, "Called back"),
		waitText(`#my-callbacks li[data-state="CALLBACK_STATE_OPEN"]`, "Waiting: number 1 in the queue"))
	c.run("cancel the delivery request", click(`#my-callbacks li[data-state="CALLBACK_STATE_OPEN"] button`),
		waitText("#callback-result", "The callback request is cancelled."),
		waitText(`#my-callbacks li[data-state="CALLBACK_STATE_CANCELLED"]`, "Cancelled"))
	c.axe("check: a cancelled callback request")
	if got, want := fmt.Sprint(customerCallbacks(t, e, e.Customer("13700137000"))),
		"map[CALL_REASON_DELIVERY:CALLBACK_STATE_CANCELLED CALL_REASON_REFUND:CALLBACK_STATE_CALLED]"; got != want {
		t.Errorf("after the cancel the customer has %s, want %s", got, want)
	}

	// At most three waiting at once: the fourth is refused in words.
	var last string
	for range 3 {
		last = must(t, e, "POST", "/v1/me/callbacks", e.Customer("13700137000"), map[string]any{"reason": "CALL_REASON_OTHER"})["requestId"].(string)
	}
	c.run("one request too many", click("#callback-ask"),
		waitText("#callback-result", "You already have as many callback requests waiting as you may: cancel one, or wait for our call."),
		visible(`#my-callbacks li[data-request="`+last+`"] button`))
	// Cancelled elsewhere (another tab) after the list was read.
	must(t, e, "POST", "/v1/me/callbacks/"+last+":cancel", e.Customer("13700137000"), map[string]any{})
	c.run("a cancel too late", click(`#my-callbacks li[data-request="`+last+`"] button`),
		waitText("#my-callbacks-error", "This request can no longer be cancelled: it was called back, cancelled or expired already."),
		waitText(`#my-callbacks li[data-request="`+last+`"]`, "Cancelled"))
}
