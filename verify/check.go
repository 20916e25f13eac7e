package verify

import (
	"context"
	"errors"
	"time"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// maxListedCalls bounds how many calls to one customer are read at once.
const maxListedCalls = 100

// CheckResult is the answer to a customer asking about a caller.
type CheckResult struct {
	Verdict Verdict
	Caller  phone.Number
	// Call, Code and CodeExpiresAt are set only when VERIFIED.
	Call          *Call
	Code          string
	CodeExpiresAt time.Time
	// BlocklistCategory is set only when KNOWN_FRAUD, e.g. "CATEGORY_SCAM".
	BlocklistCategory string
	// Callback is set only when VERIFIED and the call answers the
	// customer's own callback request (the message then says so).
	Callback *callback.Request
	Message  string
	Advice   []string
}

// CheckCaller tells the customer whose number is customer (from their
// token, never from the request) whether rawCaller is calling them on the
// platform's behalf now. Verdict precedence, the first that holds:
// VERIFIED, SPOOFED_HOTLINE, KNOWN_FRAUD, OFFICIAL_NOT_CALLING, UNKNOWN.
// Any store or directory error is returned as it is: it never becomes a
// verdict.
//
// A number memory knows cannot verify (blocked, or official and not
// placing calls) is answered from the directory's memory when it has one
// (IndexedDirectory), with no store round trip; a number memory holds as a
// live official line, or does not know at all, is answered on the
// customer's calls and the number's registration read at the moment of
// asking.
func (s *Service) CheckCaller(ctx context.Context, customer phone.Number, rawCaller, language string) (CheckResult, error) {
	caller, err := s.parseNumber("caller_number", rawCaller)
	if err != nil {
		return CheckResult{}, err
	}
	lang := ParseLanguage(language)
	now := s.now()
	reg, err := s.indexedRegistrationOf(ctx, caller)
	if err != nil {
		return CheckResult{}, err
	}
	if reg.live() || reg.unknown() {
		// Memory may lag the store by a moment, both ways: a line deleted
		// on another instance an instant ago is still live here (and a
		// networked store marks its calls ended after the delete), and a
		// line registered there an instant ago, with a call stamped from
		// it, is not known here yet. So the answer is decided on the
		// registration read now, with the customer's calls: the two reads
		// do not depend on each other, and overlap. Only a blocked number
		// or a line that places no calls, which no call of theirs could
		// verify, is answered from memory alone.
		calls, fresh, err := s.callsAndRegistration(ctx, customer, caller, reg, now)
		if err != nil {
			return CheckResult{}, err
		}
		reg = fresh
		if res, ok, err := s.verifiedBy(ctx, customer, caller, reg, calls, now, lang); err != nil || ok {
			return res, err
		}
	}
	v, category := reg.verdict()
	res := CheckResult{Verdict: v, Caller: caller, BlocklistCategory: category}
	res.Message, res.Advice = wordsFor(&checkWords, v, lang)
	return res, nil
}

// callsAndRegistration reads the customer's calls and the caller's
// registration at the moment of asking: together when the store reads
// both (LineReader), else overlapped. mem is what memory says of the
// caller; its blocklist match stands.
func (s *Service) callsAndRegistration(ctx context.Context, customer, caller phone.Number, mem registration, now time.Time) ([]Call, registration, error) {
	if lr, ok := s.store.(LineReader); ok {
		calls, line, err := lr.ListCallsToWithLine(ctx, customer, caller, now, maxListedCalls)
		if err != nil {
			return nil, registration{}, err
		}
		r := registration{blocked: mem.blocked, category: mem.category, official: line.Registered}
		if line.Registered {
			r.off = Official{Number: caller, DisplayName: mem.off.DisplayName, PlacesCalls: line.PlacesCalls,
				InboundOnly: line.InboundOnly, Gen: line.Gen}
		}
		return calls, r, nil
	}
	var (
		calls    []Call
		callsErr error
		read     = make(chan struct{})
	)
	go func() {
		defer close(read)
		calls, callsErr = s.store.ListCallsTo(ctx, customer, now, maxListedCalls)
	}()
	reg, err := s.registrationOf(ctx, caller)
	<-read
	if err != nil {
		return nil, registration{}, err
	}
	return calls, reg, callsErr
}

// verifiedBy returns the VERIFIED answer when one of calls (newest first)
// verifies: from caller, active at now, and caller is live (reg, read at
// the moment of asking) under the registration the call was stamped under.
// ok is false when none does.
func (s *Service) verifiedBy(ctx context.Context, customer, caller phone.Number, reg registration, calls []Call, now time.Time, lang Language) (CheckResult, bool, error) {
	if !reg.live() {
		return CheckResult{}, false, nil
	}
	for i := range calls {
		c := calls[i]
		if c.Caller != caller || c.StateAt(now) != StateActive || !sameRegistration(c, reg.off) {
			continue
		}
		code, until, err := s.codeNow(ctx, c, now)
		if err != nil {
			return CheckResult{}, false, err
		}
		cb, err := s.answeredRequest(ctx, customer, c)
		if err != nil {
			return CheckResult{}, false, err
		}
		res := CheckResult{Verdict: VerdictVerified, Caller: caller, Call: &c, Code: code, CodeExpiresAt: until, Callback: cb}
		res.Message, res.Advice = wordsFor(&checkWords, VerdictVerified, lang)
		if cb != nil {
			res.Message = callbackVerifiedMessage(s.askedAt(cb, lang, now), lang)
		}
		return res, true, nil
	}
	return CheckResult{}, false, nil
}

// registration is what the directory says about a number now.
type registration struct {
	off      Official
	official bool // off is set
	blocked  bool
	category string // set when blocked
}

// registrationOf reads n's registration from the directory.
func (s *Service) registrationOf(ctx context.Context, n phone.Number) (registration, error) {
	return s.registration(ctx, n, func() (Official, error) { return s.dir.OfficialNumber(ctx, n) })
}

// indexedRegistrationOf is registrationOf from the directory's memory when
// it has one (IndexedDirectory): no store round trip, but it may lag the
// store by a moment, so it never decides a VERIFIED answer alone.
func (s *Service) indexedRegistrationOf(ctx context.Context, n phone.Number) (registration, error) {
	if s.idir == nil {
		return s.registrationOf(ctx, n)
	}
	return s.registration(ctx, n, func() (Official, error) { return s.idir.IndexedOfficialNumber(n) })
}

// registration is n's registration, its official record from official and
// its blocklist match from the directory.
func (s *Service) registration(ctx context.Context, n phone.Number, official func() (Official, error)) (registration, error) {
	var r registration
	off, err := official()
	switch {
	case err == nil:
		r.off, r.official = off, true
	case !errors.Is(err, fault.ErrNotFound):
		return registration{}, err
	}
	if r.category, r.blocked, err = s.dir.BlockedCategory(ctx, n); err != nil {
		return registration{}, err
	}
	return r, nil
}

// live reports whether calls from the number may verify: it is an
// official number that places calls and is not blocked.
func (r registration) live() bool {
	return r.official && r.off.PlacesCalls && !r.off.InboundOnly && !r.blocked
}

// unknown reports whether the number is neither official nor blocked.
func (r registration) unknown() bool { return !r.official && !r.blocked }

// verdict is the verdict about the number regardless of calls: every
// verdict but VERIFIED, in precedence order.
func (r registration) verdict() (Verdict, string) {
	switch {
	case r.official && (r.off.InboundOnly || !r.off.PlacesCalls):
		return VerdictSpoofedHotline, ""
	case r.blocked:
		return VerdictKnownFraud, r.category
	case r.official:
		return VerdictOfficialNotCalling, ""
	}
	return VerdictUnknown, ""
}

// LookupResult is the anonymous answer about a number: never VERIFIED,
// never anything about calls.
type LookupResult struct {
	Verdict           Verdict
	Number            phone.Number
	BlocklistCategory string
	Message           string
	Advice            []string
}

// LookupNumber answers about a number for somebody without the app (IVR,
// a web page). It knows no customer, so an official outbound number gets
// OFFICIAL_NOT_CALLING with words that say "we cannot confirm it here".
func (s *Service) LookupNumber(ctx context.Context, rawNumber, language string) (LookupResult, error) {
	n, err := s.parseNumber("number", rawNumber)
	if err != nil {
		return LookupResult{}, err
	}
	reg, err := s.indexedRegistrationOf(ctx, n)
	if err != nil {
		return LookupResult{}, err
	}
	v, category := reg.verdict()
	res := LookupResult{Verdict: v, Number: n, BlocklistCategory: category}
	res.Message, res.Advice = wordsFor(&lookupWords, v, ParseLanguage(language))
	return res, nil
}

// MyCall is an active call to the customer with the code to expect: the
// call card.
type MyCall struct {
	Call          Call
	Code          string
	CodeExpiresAt time.Time
	// Callback is set when the call answers the customer's own callback
	// request.
	Callback *callback.Request
	// Message is one sentence for the card in the customer's language.
	Message string
}

// Card returns the card of call c, live at now, for customer: the code the
// agent will say, the callback request it answers (when it is customer's
// own) and the card's sentence in lang. ListMyCalls builds its cards with
// it, and so should anything else that shows a call to its customer.
func (s *Service) Card(ctx context.Context, customer phone.Number, c Call, now time.Time, lang Language) (MyCall, error) {
	code, until, err := s.codeNow(ctx, c, now)
	if err != nil {
		return MyCall{}, err
	}
	cb, err := s.answeredRequest(ctx, customer, c)
	if err != nil {
		return MyCall{}, err
	}
	m := MyCall{Call: c, Code: code, CodeExpiresAt: until, Callback: cb}
	asked := ""
	if cb != nil {
		asked = s.askedAt(cb, lang, now)
	}
	m.Message = cardMessage(c, asked, lang)
	return m, nil
}

// ListMyCalls returns the active official calls to the customer's number,
// newest first, each as its card (Card) in language. A call whose caller
// is no longer an official number that places calls, is blocked, or was
// registered again since the call was stamped, is left out.
func (s *Service) ListMyCalls(ctx context.Context, customer phone.Number, language string) ([]MyCall, error) {
	lang := ParseLanguage(language)
	now := s.now()
	calls, err := s.store.ListCallsTo(ctx, customer, now, maxListedCalls)
	if err != nil {
		return nil, err
	}
	out := []MyCall{}
	live := liveCallers{}
	for _, c := range calls {
		mc, ok, err := s.myCall(ctx, customer, c, now, lang, live)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, mc)
		}
	}
	return out, nil
}

// liveCallers remembers, for one answer, what callerLive said of each
// caller, so that a customer's many calls from one line ask once.
type liveCallers map[phone.Number]callerState

type callerState struct {
	off Official
	ok  bool
}

// myCall makes the card of call c at now: the one way ListMyCalls and
// WatchMyCalls make a card, so that the stream never shows a card the list
// would not. ok is false when there is no card to show: the call is not
// active at now, or its caller is no longer live under the registration
// the call was stamped under.
func (s *Service) myCall(ctx context.Context, customer phone.Number, c Call, now time.Time, lang Language, live liveCallers) (MyCall, bool, error) {
	if c.StateAt(now) != StateActive {
		return MyCall{}, false, nil
	}
	st, seen := live[c.Caller]
	if !seen {
		var err error
		if st.off, st.ok, err = s.callerLive(ctx, c.Caller); err != nil {
			return MyCall{}, false, err
		}
		live[c.Caller] = st
	}
	if !st.ok || !sameRegistration(c, st.off) {
		return MyCall{}, false, nil
	}
	mc, err := s.Card(ctx, customer, c, now, lang)
	return mc, err == nil, err
}
