package blocklist

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Config is what a Service needs.
type Config struct {
	Store Store
	Audit *audit.Recorder
	Phone *phone.Parser
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is the numbers domain. It is safe for concurrent use.
type Service struct {
	store Store
	audit *audit.Recorder
	phone *phone.Parser
	now   func() time.Time
}

// NewService returns a Service over cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil || cfg.Phone == nil {
		return nil, errors.New("blocklist: Store, Audit and Phone are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, audit: cfg.Audit, phone: cfg.Phone, now: cfg.Now}, nil
}

// Page tokens are opaque to clients; they carry the last key of a page.
func encodeToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || len(b) > 256 {
		return "", fault.Invalid("page_token", "is not a page token this service issued")
	}
	return string(b), nil
}
