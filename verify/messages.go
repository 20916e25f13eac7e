package verify

import "strings"

// Language of the words shown to the customer. Any language tag that is
// not English ("en", "en-GB", ...) gets zh-CN, the default: a frightened
// person must always get an answer, and a typo in the app's language
// setting is no reason to refuse one.
type Language int

const (
	LangZhCN Language = iota
	LangEn
)

// ParseLanguage maps a language tag to a Language, falling back to zh-CN.
func ParseLanguage(tag string) Language {
	t := strings.ToLower(strings.TrimSpace(tag))
	if t == "en" || strings.HasPrefix(t, "en-") || strings.HasPrefix(t, "en_") {
		return LangEn
	}
	return LangZhCN
}

// Verdict is the answer to "is this caller genuine?". The values are those
// of the API's Verdict; the first that holds wins.
type Verdict int

const (
	VerdictUnspecified Verdict = iota
	VerdictVerified
	VerdictSpoofedHotline
	VerdictKnownFraud
	VerdictOfficialNotCalling
	VerdictUnknown
)

func (v Verdict) String() string {
	return [...]string{"UNSPECIFIED", "VERIFIED", "SPOOFED_HOTLINE", "KNOWN_FRAUD", "OFFICIAL_NOT_CALLING", "UNKNOWN"}[v]
}

var reasonLabels = [...][2]string{
	ReasonFollowUp:        {"回访", "Follow-up"},
	ReasonAfterSales:      {"售后服务", "After-sales service"},
	ReasonRefund:          {"退款", "Refund"},
	ReasonDelivery:        {"配送", "Delivery"},
	ReasonAccountSecurity: {"账户安全", "Account security"},
	ReasonMarketing:       {"营销推广", "Marketing"},
	ReasonOther:           {"其他", "Other"},
}

// ReasonLabel names a call reason in the customer's language.
func ReasonLabel(r Reason, l Language) string {
	if !r.Valid() {
		return ""
	}
	return reasonLabels[r][l]
}

// callReasonText is the RFC 9795 "crn": the dialer's reason text when it
// gave one, otherwise the reason's name in the default language.
func callReasonText(c Call) string {
	if c.ReasonText != "" {
		return c.ReasonText
	}
	return ReasonLabel(c.Reason, LangZhCN)
}

// One sentence per verdict, for the screen of the customer's app.
var checkMessages = map[Verdict][2]string{
	VerdictVerified: {
		"这是平台的真实来电：请核对对方念出的确认码与屏幕上的是否一致，不一致就立即挂断。",
		"This is a genuine call from us: check that the caller reads out the code shown on your screen, and hang up at once if it differs.",
	},
	VerdictSpoofedHotline: {
		"这是冒充来电：该号码是只接听、从不外呼的官方客服热线，请立即挂断。",
		"This call is fake: this number is our hotline, which only takes calls and never calls anyone, so hang up now.",
	},
	VerdictKnownFraud: {
		"这个号码已被标记为诈骗号码，请立即挂断，不要按对方的要求做任何事。",
		"This number is known for fraud: hang up now and do nothing the caller asks.",
	},
	VerdictOfficialNotCalling: {
		"平台现在没有用这个号码给您打电话，这很可能是冒充来电，请立即挂断。",
		"We are not calling you from this number right now, so this call is probably fake: hang up now.",
	},
	VerdictUnknown: {
		"这不是平台的号码，我们无法确认对方身份；如果对方自称平台工作人员，请立即挂断。",
		"This is not one of our numbers and we cannot confirm who is calling; if they say they are us, hang up now.",
	},
}

// LookupNumber knows no customer, so it never confirms a call.
var lookupMessages = map[Verdict][2]string{
	VerdictSpoofedHotline: checkMessages[VerdictSpoofedHotline],
	VerdictKnownFraud:     checkMessages[VerdictKnownFraud],
	VerdictOfficialNotCalling: {
		"这是平台的官方号码，但这里无法确认它是否正在给您打电话：请先挂断，再打开App核实或自己拨打官方客服热线。",
		"This is one of our numbers, but we cannot confirm here that it is calling you: hang up, then check in our app or call our official hotline yourself.",
	},
	VerdictUnknown: {
		"这不是平台的号码；如果对方自称平台工作人员，请立即挂断，再自己拨打官方客服热线核实。",
		"This is not one of our numbers; if the caller says they are us, hang up now and call our official hotline yourself.",
	},
}

// Advice items. Codes flow only from the agent to the customer: nothing
// here, or anywhere, asks a customer to say a code to a caller.
var (
	adviceHangUp = [2]string{
		"现在就挂断电话，不必解释。",
		"Hang up now; you do not owe the caller an explanation.",
	}
	adviceNeverAsk = [2]string{
		"平台工作人员绝不会向您索要验证码、密码或银行卡信息，也绝不会要求您转账或付款。",
		"Our staff never ask for codes, passwords or card details, and never ask you to transfer or pay money.",
	}
	adviceCodeFlow = [2]string{
		"确认码只由我们的工作人员念给您听：绝不要把任何验证码或确认码告诉来电者。",
		"Our agent reads the confirmation code to you, never the other way round: never tell a caller any code.",
	}
	adviceNoMoney = [2]string{
		"不要向任何“安全账户”转账，不要点击对方发来的链接，不要按对方要求下载App或共享屏幕。",
		"Never move money to a \"safe account\", open links the caller sends, install apps they name or share your screen.",
	}
	adviceCallYourself = [2]string{
		"有疑问就挂断，然后打开App或自己拨打官方客服热线核实。",
		"If in doubt, hang up, then open our app or call our official hotline yourself.",
	}
	adviceEvenIfGenuine = [2]string{
		"即使是真实来电，也不要向任何人转账；感觉不对就挂断，自己拨打官方客服热线。",
		"Even on a genuine call, never transfer money to anyone; if anything feels wrong, hang up and call our official hotline yourself.",
	}
)

var verdictAdvice = map[Verdict][][2]string{
	VerdictVerified:           {adviceCodeFlow, adviceNeverAsk, adviceEvenIfGenuine},
	VerdictSpoofedHotline:     {adviceHangUp, adviceNeverAsk, adviceCodeFlow, adviceNoMoney, adviceCallYourself},
	VerdictKnownFraud:         {adviceHangUp, adviceNeverAsk, adviceCodeFlow, adviceNoMoney, adviceCallYourself},
	VerdictOfficialNotCalling: {adviceHangUp, adviceNeverAsk, adviceCodeFlow, adviceNoMoney, adviceCallYourself},
	VerdictUnknown:            {adviceNeverAsk, adviceCodeFlow, adviceNoMoney, adviceCallYourself},
}

// Prebuilt per language so the hot path only indexes.
var (
	checkWords  [VerdictUnknown + 1][2]words
	lookupWords [VerdictUnknown + 1][2]words
)

type words struct {
	message string
	advice  []string
}

func init() {
	for v := VerdictVerified; v <= VerdictUnknown; v++ {
		for l := LangZhCN; l <= LangEn; l++ {
			var adv []string
			for _, a := range verdictAdvice[v] {
				adv = append(adv, a[l])
			}
			checkWords[v][l] = words{message: checkMessages[v][l], advice: adv}
			if m, ok := lookupMessages[v]; ok {
				lookupWords[v][l] = words{message: m[l], advice: adv}
			}
		}
	}
}

// wordsFor returns the message and a copy of the advice, so that callers
// cannot change the shared lists.
func wordsFor(table *[VerdictUnknown + 1][2]words, v Verdict, l Language) (string, []string) {
	w := table[v][l]
	return w.message, append([]string(nil), w.advice...)
}
