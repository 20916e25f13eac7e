package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Confirmation codes are RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30 s steps,
// the parameters every authenticator app uses by default. A call's codes
// come from the secret of the customer's newest enrolled device when the
// call was stamped (so the authenticator shows the same code with no
// network), otherwise from a secret made for the call. Secrets are sealed
// with the KEK at rest.

var totpOpts = totp.ValidateOpts{
	Period:    uint(CodePeriod / time.Second),
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

const (
	secretSize = 20 // bytes, RFC 4226's recommended 160 bits
	codeLen    = 6
	qrSize     = 256 // pixels
	maxLabel   = 32
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newSecret() []byte {
	b := make([]byte, secretSize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// codeSecret returns the base32 TOTP secret of call c.
func (s *Service) codeSecret(ctx context.Context, c Call) (string, error) {
	if c.DeviceID != "" {
		d, err := s.store.GetDevice(ctx, c.Callee, c.DeviceID)
		switch {
		case err == nil:
			return s.openSecret(c, &d)
		case !errors.Is(err, fault.ErrNotFound):
			return "", err
		}
		// The device was deleted: the call's own secret takes over, which
		// the app shows online.
	}
	return s.openSecret(c, nil)
}

// openSecret opens the secret of device d, or the call's own when d is nil.
func (s *Service) openSecret(c Call, d *Device) (string, error) {
	var (
		raw []byte
		err error
	)
	if d != nil {
		raw, err = s.seal.Open(d.SealedSecret, aadDevice(d.ID))
	} else {
		raw, err = s.seal.Open(c.SealedSecret, aadCall(c.ID))
	}
	if err != nil {
		return "", err
	}
	return b32.EncodeToString(raw), nil
}

// codeNow returns the code of c at now and until when it is accepted.
func (s *Service) codeNow(ctx context.Context, c Call, now time.Time) (string, time.Time, error) {
	secret, err := s.codeSecret(ctx, c)
	if err != nil {
		return "", time.Time{}, err
	}
	return codeAt(secret, c, now)
}

// codeAt returns the code of secret at now and until when it is accepted:
// during its own step and the next, never after the call expires.
func codeAt(secret string, c Call, now time.Time) (string, time.Time, error) {
	code, err := totp.GenerateCodeCustom(secret, now, totpOpts)
	if err != nil {
		return "", time.Time{}, err
	}
	until := now.Truncate(CodePeriod).Add(2 * CodePeriod)
	if c.ExpireTime.Before(until) {
		until = c.ExpireTime
	}
	return code, until.UTC(), nil
}

// ConfirmResult is the outcome of ConfirmCode.
type ConfirmResult struct {
	Match             bool
	AttemptsRemaining int
	Call              *Call // set only on a match
}

// codeStep is the TOTP time step of t (RFC 6238's T).
func codeStep(t time.Time) int64 { return t.Unix() / int64(CodePeriod/time.Second) }

// ConfirmCode checks the code a caller said, for the customer whose number
// is customer. Only the current and the previous step's codes match, in
// constant time, and each code matches once: the store uses it up in the
// step that checks it, so a second use (or a race of two) counts as a wrong
// code. A match is audited as "call.confirm" in that step. Each wrong code
// counts; the MaxWrongAttempts-th locks the call (audited as "call.lock" by
// actor, in the same store step), after which no code matches. An unknown call, somebody else's call, an ended, expired or
// locked call, and a call whose caller is no longer an official number that
// places calls (or is blocked, or was registered again since the call was
// stamped) all answer {Match: false, AttemptsRemaining: 0}, so nothing can
// be probed.
func (s *Service) ConfirmCode(ctx context.Context, actor audit.Actor, customer phone.Number, callID, code string) (ConfirmResult, error) {
	code = strings.TrimSpace(code)
	if len(code) != codeLen || strings.IndexFunc(code, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return ConfirmResult{}, fault.Invalid("code", "must be the 6 digits the caller read out")
	}
	nothing := ConfirmResult{}
	now := s.now()
	c, live, err := s.getLiveCall(ctx, callID, "", func(c Call) bool { return c.Callee == customer && c.StateAt(now) == StateActive })
	if errors.Is(err, fault.ErrNotFound) {
		return nothing, nil
	}
	if err != nil {
		return ConfirmResult{}, err
	}
	if !live {
		return nothing, nil
	}
	secret, err := s.codeSecret(ctx, c)
	if err != nil {
		return ConfirmResult{}, err
	}
	cur, err := totp.GenerateCodeCustom(secret, now, totpOpts)
	if err != nil {
		return ConfirmResult{}, err
	}
	prev, err := totp.GenerateCodeCustom(secret, now.Add(-CodePeriod), totpOpts)
	if err != nil {
		return ConfirmResult{}, err
	}
	// Both comparisons and the choice of step always run, so timing says
	// nothing about which step (if any) matched.
	step := codeStep(now)
	mCur := subtle.ConstantTimeCompare([]byte(code), []byte(cur))
	mPrev := subtle.ConstantTimeCompare([]byte(code), []byte(prev))
	matched := int64(subtle.ConstantTimeSelect(mCur, int(step), subtle.ConstantTimeSelect(mPrev, int(step-1), 0)))

	// The decision is made by the store in one atomic step, so parallel
	// guesses cannot get past the limit and a right code is used up by the
	// first attempt that brings it: a later one counts as wrong.
	lock := s.audit.Event(actor, "call.lock", c.ID, map[string]any{"state": "ACTIVE"},
		map[string]any{"state": "LOCKED", "wrong_attempts": MaxWrongAttempts, "callee": c.Callee.Masked()})
	confirm := s.audit.Event(actor, "call.confirm", c.ID, nil,
		map[string]any{"callee": c.Callee.Masked(), "confirm_time": now.UTC().Format(time.RFC3339)})
	c, ok, err := s.store.RecordCodeAttempt(ctx, c.ID, matched, MaxWrongAttempts, now.UTC(), lock, confirm)
	if errors.Is(err, fault.ErrConflict) || errors.Is(err, fault.ErrNotFound) {
		return nothing, nil
	}
	if err != nil {
		return ConfirmResult{}, err
	}
	remaining := max(MaxWrongAttempts-c.WrongAttempts, 0)
	if ok {
		return ConfirmResult{Match: true, AttemptsRemaining: remaining, Call: &c}, nil
	}
	return ConfirmResult{AttemptsRemaining: remaining}, nil
}

// Enrollment is a newly enrolled device: the secret leaves the service
// only here, as the otpauth URI and its QR code.
type Enrollment struct {
	DeviceID   string
	OTPAuthURI string
	QRPNG      []byte
}

// EnrollDevice enrols an authenticator for the customer. From the next
// stamped call on, the customer's newest device makes the call's codes.
func (s *Service) EnrollDevice(ctx context.Context, actor audit.Actor, customer phone.Number, label string) (Enrollment, error) {
	label, err := checkText("label", label, maxLabel, false)
	if err != nil {
		return Enrollment{}, err
	}
	if strings.ContainsAny(label, ":/?#&=%") {
		return Enrollment{}, fault.Invalid("label", "must not contain : / ? # & = or %")
	}
	account := label
	if account == "" {
		account = customer.Masked()
	}
	secret := newSecret()
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      "callverify",
		AccountName: account,
		Period:      totpOpts.Period,
		Digits:      totpOpts.Digits,
		Algorithm:   totpOpts.Algorithm,
		Secret:      secret,
	})
	if err != nil {
		return Enrollment{}, err
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, err
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrollment{}, err
	}
	d := Device{
		ID:           newID(),
		Customer:     customer,
		Label:        label,
		SealedSecret: nil,
		CreateTime:   s.now().UTC(),
	}
	d.SealedSecret = s.seal.Seal(secret, aadDevice(d.ID))
	ev := s.audit.Event(actor, "device.enroll", customer.Masked(), nil, map[string]any{"device_id": d.ID})
	if err := s.store.CreateDevice(ctx, d, s.maxDevices, ev); err != nil {
		if errors.Is(err, fault.ErrResourceExhausted) {
			return Enrollment{}, fault.Wrap(fault.ErrResourceExhausted,
				"you have enrolled the most devices allowed; delete one first", err)
		}
		return Enrollment{}, err
	}
	return Enrollment{DeviceID: d.ID, OTPAuthURI: key.URL(), QRPNG: qr.Bytes()}, nil
}

// DeleteDevice removes one of the customer's devices. Calls whose codes
// came from it fall back to their own secret at once.
func (s *Service) DeleteDevice(ctx context.Context, actor audit.Actor, customer phone.Number, deviceID string) error {
	if !wellFormedID(deviceID) {
		return fault.NotFound("device not found")
	}
	ev := s.audit.Event(actor, "device.delete", customer.Masked(), map[string]any{"device_id": deviceID}, nil)
	err := s.store.DeleteDevice(ctx, customer, deviceID, ev)
	if errors.Is(err, fault.ErrNotFound) {
		return fault.Wrap(fault.ErrNotFound, "device not found", err)
	}
	return err
}

// ListDevices returns the customer's enrolled devices, newest first. Their
// secrets stay sealed: nothing here can show a code.
func (s *Service) ListDevices(ctx context.Context, customer phone.Number) ([]Device, error) {
	ds, err := s.store.ListDevices(ctx, customer)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		ds[i].SealedSecret = nil
	}
	return ds, nil
}

// UpdatePreferences sets the customer's marketing opt-out when
// marketingAllowed is not nil, and returns the preferences in force.
func (s *Service) UpdatePreferences(ctx context.Context, actor audit.Actor, customer phone.Number, marketingAllowed *bool) (Preferences, error) {
	if marketingAllowed == nil {
		return s.preferences(ctx, customer)
	}
	p := Preferences{MarketingCallsAllowed: *marketingAllowed, UpdateTime: s.now().UTC()}
	ev := s.audit.Event(actor, "preferences.update", customer.Masked(), nil,
		map[string]any{"marketing_calls_allowed": p.MarketingCallsAllowed})
	if err := s.store.PutPreferences(ctx, customer, p, ev); err != nil {
		return Preferences{}, err
	}
	return p, nil
}

func (s *Service) preferences(ctx context.Context, customer phone.Number) (Preferences, error) {
	p, err := s.store.GetPreferences(ctx, customer)
	if errors.Is(err, fault.ErrNotFound) {
		return defaultPreferences, nil
	}
	return p, err
}
