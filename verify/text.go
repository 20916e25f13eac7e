package verify

import (
	"fmt"
	"strings"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/text"
)

// parseNumber normalises a number from the request field named field.
func (s *Service) parseNumber(field, raw string) (phone.Number, error) {
	return s.phone.ParseField(field, raw)
}

// checkText validates a free-text field of a call or a device by the one
// text policy (internal/text): one line, at most max characters, nothing
// that hides or reorders what a screen shows, and no links: every such
// field (reason, agent, order, customer id, device label) is shown to the
// customer, and a rogue dialer would put a link there.
func checkText(field, s string, max int, required bool) (string, error) {
	return text.Field{Name: field, Max: max, Required: required}.Clean(s)
}

// looksLikeLink reports whether s contains anything a screen or a person
// could take for a link, in any script (see text.LooksLikeLink).
func looksLikeLink(s string) bool { return text.LooksLikeLink(s) }

// The words of a callback and of a call card. %s is when the customer
// asked ("14:02"); the card's are the caller's name, the agent and the
// reason.
var (
	callbackVerified = [2]string{
		"这是您在%s预约的回电，是平台的真实来电：请核对对方念出的确认码与屏幕上的是否一致，不一致就立即挂断。",
		"This is the callback you asked for at %s, a genuine call from us: check that the caller reads out the code shown on your screen, and hang up at once if it differs.",
	}
	cardCalling = [2]string{
		"%s正在就%s给您打电话。",
		"%s is calling you about %s.",
	}
	cardCallback = [2]string{
		"这是您在%s预约的回电：%s就%s给您回电。",
		"This is the callback you asked for at %s: %s is calling you back about %s.",
	}
	cardWho = [2]string{"平台客服", "Customer service"}
	// cardWhoAgent: the caller's name, then the agent's.
	cardWhoAgent = [2]string{"%s（%s）", "%s (%s)"}
)

// callbackVerifiedMessage is CheckCaller's VERIFIED sentence for a call
// that answers the customer's callback request made at asked.
func callbackVerifiedMessage(asked string, l Language) string {
	return fmt.Sprintf(callbackVerified[l], asked)
}

// cardMessage is the card's sentence for call c: who calls about what,
// and when asked is not "", that it is the callback asked for then.
func cardMessage(c Call, asked string, l Language) string {
	who := c.DisplayName
	if who == "" {
		who = cardWho[l]
	}
	if c.AgentName != "" {
		who = fmt.Sprintf(cardWhoAgent[l], who, c.AgentName)
	}
	about := ReasonLabel(c.Reason, l)
	if l == LangEn {
		about = "your " + strings.ToLower(about)
	}
	if asked != "" {
		return fmt.Sprintf(cardCallback[l], asked, who, about)
	}
	return fmt.Sprintf(cardCalling[l], who, about)
}
