package verify

import (
	"context"
	"time"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/phone"
)

// Callbacks is the calls domain's view of the callbacks domain
// (callback.Service): which request of the customer's a call answers.
type Callbacks interface {
	// AnsweredBy returns the request callID answers when it is customer's
	// own request, CALLED with exactly that call; ok false otherwise.
	AnsweredBy(ctx context.Context, customer phone.Number, callID, requestID string) (callback.Request, bool, error)
}

// DefaultTimeZone is where "the callback you asked for at 14:02" tells the
// time when Config.Location is nil.
const DefaultTimeZone = "Asia/Shanghai"

// msgNotYourCallback refuses a stamp for a callback request alike whether
// the request is unknown, claimed by somebody else or not at all, lapsed,
// answered already, or another customer's: a dialer learns nothing more.
const msgNotYourCallback = "callback_request_id is not a callback request you hold a claim on for this callee_number (claim it first, and call the number the claim gave you)"

// answeredRequest is the callback request call c answers for customer,
// nil for none: the only way an answer says "your callback". A call
// without a request id, or whose request is not the customer's own,
// CALLED with this very call, is no callback, whatever it claims.
func (s *Service) answeredRequest(ctx context.Context, customer phone.Number, c Call) (*callback.Request, error) {
	if c.CallbackRequestID == "" || s.callbacks == nil {
		return nil, nil
	}
	r, ok, err := s.callbacks.AnsweredBy(ctx, customer, c.ID, c.CallbackRequestID)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// askedAt is when the customer asked for the callback, as the customer
// reads it in the service's time zone: "14:02" the same day, with the date
// otherwise.
func (s *Service) askedAt(r *callback.Request, l Language, now time.Time) string {
	t, today := r.CreateTime.In(s.loc), now.In(s.loc)
	if t.Year() == today.Year() && t.YearDay() == today.YearDay() {
		return t.Format("15:04")
	}
	if l == LangEn {
		return t.Format("Jan 2, 15:04")
	}
	return t.Format("1月2日 15:04")
}
