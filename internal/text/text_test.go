package text_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/text"
)

// Links in every disguise the issue names, and some more.
var hostile = []string{
	// schemes, www, punycode
	"http://x", "HTTPS://X", "ftp://a", "见 www.example", "ＷＷＷ", "ｈｔｔｐｓ：／／x", "mailto:a@b",
	"javascript:alert(1)", "xn--fiqs8s", "访问 XN--80AK6AA92E.com", "hxxp://evil", "www dot evil",
	// bare domains, ASCII
	"example.com", "去 pay.cn 付款", "evil.cn/refund", "bit.ly/abc", "Pay.Example.Org", "t.cn/A6x", "pay@refund.top",
	"登录refund-help.cn办理", "pay.com退款", "Refund at secure-pay.bank now", "go to my.app", "example.com.", "a.b.c.xyz",
	// IDN top-level domains and IDN names
	"示例.中国", "示例.中國", "示例。中国", "пример.рф", "сайт.москва", "예시.한국", "例え.みんな", "示例.公司", "示例.com",
	"pay.中国请登录", "пример.рф/оплата",
	// look-alike dots
	"pay。com", "pay．com", "ｐａｙ．ｃｏｍ", "pay｡com", "pay\u2024com", "pay\u2027com", "pay\u2e31com", "pay\ufe52com",
	"pay\u30fbcom", "pay·com", "pay\u2022com", "pay\u06d4com", "pay\ufe12com", "pay\u22c5com",
	// the rest of Unicode's confusables of "." (confusables.txt)
	"pay\ua4f8com", "pay\U00010a50com", "pay\U0001d16dcom", "pay\u0660com", "pay\u06f0com", "pay\ua78fcom",
	"pay\u0701com", "pay\u0702com", "pay\ua60ecom", "pay\ua4f8中国",
	// spelled-out dots
	"pay(dot)com", "pay (dot) com", "pay[.]com", "pay[dot]com", "pay{.}cn", "pay(.)cn", "pay dot com", "pay DOT cn",
	"pay点com", "pay 点 cn", "pay點com", "paydotcom", "pay<dot>org", "pay[。]com",
	// spaces around the dot
	"example . com", "example .com", "example. com", "访问 example 。 cn", "pay  .  xyz",
	// compatibility forms and look-alike letters
	"ｅｘａｍｐｌｅ．ｃｏｍ", "example.ｃｏｍ", "example.\u0441\u043e\u043c", "example.c\u043em", "example.ⓒⓞⓜ", "example.𝐜𝐨𝐦",
	"EXAMPLE.COM", "exa-mple.c\u0301om",
	// IPv4
	"1.2.3.4", "访问10.0.0.1", "192.168.1.1:8080", "１９２．１６８．１．１", "1。2。3。4",
	// famous digit names, e-mail, shorteners
	"12306.cn", "abc@163.com", "58.com", "dwz.cn/x", "加微信 pay.vip 客服",
}

// Everyday reasons, names and notes that must pass.
var benign = []string{
	"退款处理回访", "您申请的退款进度回访", "Refund follow-up for order 12345", "v2.0 update", "version 1.5 update",
	"3.5 kg", "3.5 元优惠", "Q&A <Support>", "订单 No.123 的配送", "Order No.ABC123", "after-sales 售后", "A.B",
	"Mr.Smith will call", "约翰·史密斯", "王小明", "客服 007", "A-123.45", "ORD-20300506-1", "e.g. your parcel",
	"i.e. the refund", "Refund done. It is on its way.", "Paid. Top up your card.", "Refunded. Net amount 3.5",
	"您好。公司将联系您", "已发货。请注意查收", "快递已签收。中国邮政", "Dr. Wang, 3 p.m.", "St. Louis branch",
	"wait...ok", "￥1,299.00", "1.2.3", "10.5%", "Tel 400-800-8888", "polka dot dress", "点击查看订单",
	"下午三点回电", "一点点", "Пожалуйста, ожидайте.", "Спасибо. До свидания", "ありがとう。またね", "감사합니다. 안녕히",
	"call back at 5.30pm", "room 3.14B", "Section 2.A", "示例平台客服", "示例平台售后 (A/S)", "Order #12345 / 退款",
	"", "😀 thanks", "Café au lait", "Tiếng Việt có dấu", "ภาษาไทย", "हिन्दी",
	"1.公司将于三日内退款", "订单1.公司已处理", "双11.活动", "京东618活动", "No. 5 Building", "Co., Ltd.", "U.S. customers",
	"Apt.3B", "支付宝", "WeChat Pay", "iPhone 15 Pro", "file report.pdf", "node.js", "Zhang San (张三)", "ID: a-7_b",
	"退款金额：12.50元", "4.8分好评", "《用户协议》第3.2条", "预计3-5个工作日到账。", "请勿向任何人透露验证码！",
	"۱۰۰ تومان", "٣٠٠ ريال", "سال ۱۴۰۰", "١٠٠٪", "۲۰ایران", "ꓡꓲꓸ ꓟꓲꓽ",
	"已发货。App内可查看", "京东·App客服", "小米·有品", "Ref: 2030.05.06", "2030.5.6 回访", "A/B test", "C++ team", "50% off", "+86 138 0013 8000", "a.m.", "Ph.D.",
}

func TestLooksLikeLink(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		if !text.LooksLikeLink(s) {
			t.Errorf("%q passed as no link", s)
		}
	}
	for _, s := range benign {
		if text.LooksLikeLink(s) {
			t.Errorf("%q taken for a link", s)
		}
	}
}

func TestCleanRefusesWhatHidesOrForgesText(t *testing.T) {
	t.Parallel()
	line := text.Field{Name: "agent_name", Max: 64}
	long := text.Field{Name: "note", Max: 500, Multiline: true}
	ids := text.Field{Name: "order_ref", Max: 128}
	tests := []struct {
		name string
		f    text.Field
		in   string
		why  string // the message after the field name
	}{
		{"invalid UTF-8", line, "王\xff小明", "is not valid UTF-8 text"},
		{"required", text.Field{Name: "agent_id", Max: 64, Required: true}, " \t\n ", "is required"},
		{"too long", line, strings.Repeat("王", 65), "is longer than 64 characters"},
		{"newline in a single-line field", line, "王\n小明", "must be a single line"},
		{"carriage return in a single-line field", line, "王\r小明", "must be a single line"},
		{"tab", line, "王\t小明", "contains a control character (U+0009)"},
		{"tab in a long field", long, "a\tb", "contains a control character (U+0009)"},
		{"escape", long, "line\x1b[31m red", "contains a control character (U+001B)"},
		{"NUL", line, "a\x00b", "contains a control character (U+0000)"},
		{"DEL", line, "a\x7fb", "contains a control character (U+007F)"},
		{"C1 CSI", line, "a\u009b31mb", "contains a control character (U+009B)"},
		{"NEL", line, "a\u0085b", "contains a control character (U+0085)"},
		{"right-to-left override", line, "客服\u202egnp.exe", "contains an invisible or text-direction character (U+202E)"},
		{"left-to-right embedding", line, "a\u202ab", "contains an invisible or text-direction character (U+202A)"},
		{"pop directional formatting", line, "a\u202cb", "contains an invisible or text-direction character (U+202C)"},
		{"right-to-left isolate", line, "a\u2067b\u2069", "contains an invisible or text-direction character (U+2067)"},
		{"first strong isolate", line, "a\u2068b", "contains an invisible or text-direction character (U+2068)"},
		{"left-to-right mark", line, "a\u200eb", "contains an invisible or text-direction character (U+200E)"},
		{"right-to-left mark", line, "a\u200fb", "contains an invisible or text-direction character (U+200F)"},
		{"Arabic letter mark", line, "a\u061cb", "contains an invisible or text-direction character (U+061C)"},
		{"zero-width space", line, "pay\u200bpal", "contains an invisible or text-direction character (U+200B)"},
		{"zero-width non-joiner", line, "a\u200cb", "contains an invisible or text-direction character (U+200C)"},
		{"zero-width joiner", line, "a\u200db", "contains an invisible or text-direction character (U+200D)"},
		{"word joiner", line, "a\u2060b", "contains an invisible or text-direction character (U+2060)"},
		{"byte order mark inside", line, "a\ufeffb", "contains an invisible or text-direction character (U+FEFF)"},
		{"soft hyphen", line, "a\u00adb", "contains an invisible or text-direction character (U+00AD)"},
		{"tag character", line, "a\U000E0041b", "contains an invisible or text-direction character (U+E0041)"},
		{"line separator", long, "a\u2028b", "contains a line or paragraph separator (U+2028)"},
		{"paragraph separator", long, "a\u2029b", "contains a line or paragraph separator (U+2029)"},
		{"Hangul filler", line, "\u3164", "contains an invisible character (U+3164)"},
		{"braille blank", line, "a\u2800b", "contains an invisible character (U+2800)"},
		{"combining grapheme joiner", line, "a\u034fb", "contains an invisible character (U+034F)"},
		{"private use", line, "a\ue000b", "contains a character that cannot be shown reliably (U+E000)"},
		{"non-character", line, "a\uffffb", "contains a character that cannot be shown reliably (U+FFFF)"},
		{"zalgo", line, "z\u0300\u0301\u0302\u0303\u0304", "stacks more than 4 combining marks on one character"},
		{"link", line, "pay (dot) com", "must not contain links or web addresses"},
		{"link in a note", long, "line one\n去 pay.cn 付款", "must not contain links or web addresses"},
		{"link in an order reference", ids, "ORD-1 pay.cn", "must not contain links or web addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.f.Clean(tt.in)
			if !errors.Is(err, fault.ErrInvalidArgument) {
				t.Fatalf("Clean(%q) = %q, %v; want an invalid-argument fault", tt.in, got, err)
			}
			msg, _ := fault.Message(err)
			if want := tt.f.Name + " " + tt.why; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		})
	}
}

func TestCleanKeepsOrdinaryText(t *testing.T) {
	t.Parallel()
	line := text.Field{Name: "reason_text", Max: 64}
	long := text.Field{Name: "note", Max: 500, Multiline: true}
	tests := []struct {
		f       text.Field
		in, out string
	}{
		{line, "  退款处理回访 ", "退款处理回访"},
		{line, "Q&A <Support>", "Q&A <Support>"},
		{line, "\u3000全角空格\u3000", "全角空格"},
		{line, "Tiếng Việt", "Tiếng Việt"},
		{line, "e\u0301\u0323", "e\u0301\u0323"},
		{line, "❤️ thanks", "❤️ thanks"}, // U+FE0F, a variation selector, is a mark
		{line, strings.Repeat("王", 64), strings.Repeat("王", 64)},
		{line, "", ""},
		{long, "line one\r\nline two\rline three\n", "line one\nline two\nline three"},
		{long, "他说：\n\n“您的账户有风险”", "他说：\n\n“您的账户有风险”"},
		{text.Field{Name: "description", Max: 500, Multiline: true, Links: true}, "See https://bank.example/contact", "See https://bank.example/contact"},
	}
	for _, tt := range tests {
		got, err := tt.f.Clean(tt.in)
		if err != nil {
			t.Errorf("Clean(%q): %v", tt.in, err)
			continue
		}
		if got != tt.out {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.out)
		}
	}
	for _, s := range benign {
		if _, err := long.Clean(s); err != nil {
			t.Errorf("Clean(%q): %v", s, err)
		}
	}
}
