package verify

import (
	"testing"
	"time"

	"github.com/callverify/callverify/callback"
)

func TestTheCallbackIsToldInTheServicesTimeZone(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{loc: shanghai}
	asked := &callback.Request{CreateTime: time.Date(2026, 12, 1, 6, 2, 0, 0, time.UTC)} // 14:02 in Shanghai
	for _, tc := range []struct {
		now  time.Time
		lang Language
		want string
	}{
		{time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), LangEn, "14:02"},
		{time.Date(2026, 12, 1, 15, 59, 0, 0, time.UTC), LangZhCN, "14:02"},      // 23:59 the same day there
		{time.Date(2026, 12, 1, 16, 1, 0, 0, time.UTC), LangEn, "Dec 1, 14:02"},  // the next day there
		{time.Date(2026, 12, 1, 16, 1, 0, 0, time.UTC), LangZhCN, "12月1日 14:02"}, // the next day there
	} {
		if got := s.askedAt(asked, tc.lang, tc.now); got != tc.want {
			t.Errorf("askedAt at %v (%d) = %q, want %q", tc.now, tc.lang, got, tc.want)
		}
	}
}

func TestCardMessages(t *testing.T) {
	t.Parallel()
	c := Call{DisplayName: "示例平台客服", AgentName: "王小明", Reason: ReasonRefund}
	for _, tc := range []struct {
		c     Call
		asked string
		lang  Language
		want  string
	}{
		{c, "", LangZhCN, "示例平台客服（王小明）正在就退款给您打电话。"},
		{c, "", LangEn, "示例平台客服 (王小明) is calling you about your refund."},
		{c, "14:02", LangZhCN, "这是您在14:02预约的回电：示例平台客服（王小明）就退款给您回电。"},
		{c, "14:02", LangEn, "This is the callback you asked for at 14:02: 示例平台客服 (王小明) is calling you back about your refund."},
		{Call{Reason: ReasonDelivery}, "", LangEn, "Customer service is calling you about your delivery."},
	} {
		if got := cardMessage(tc.c, tc.asked, tc.lang); got != tc.want {
			t.Errorf("cardMessage(%q, %d) = %q, want %q", tc.asked, tc.lang, got, tc.want)
		}
	}
	if got, want := callbackVerifiedMessage("14:02", LangEn), "This is the callback you asked for at 14:02, a genuine call from us"; got[:len(want)] != want {
		t.Errorf("callbackVerifiedMessage = %q", got)
	}
}
