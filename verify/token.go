package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// A call token is a PASSporT (RFC 8225) of the "shaken" extension
// (RFC 8588) carrying Rich Call Data claims (RFC 9795):
//
//	header  {"alg":"ES256","kid":<RFC 7638 thumbprint>,"ppt":"shaken","typ":"passport"[,"x5u":...]}
//	claims  {"attest":"A",                       RFC 8588: full attestation, the platform owns the caller
//	         "crn":<call reason>,                RFC 9795 call reason, a human-readable string
//	         "dest":{"tn":[<callee digits>]},    RFC 8225, canonical TN: E.164 digits without '+'
//	         "exp":<call expire time>,           RFC 7519
//	         "iat":<stamp time>,                 RFC 8225
//	         "iss":<issuer>,                     RFC 7519
//	         "jti":<call id>,                    RFC 7519
//	         "orig":{"tn":<caller digits>},      RFC 8225
//	         "origid":<UUID>,                    RFC 8588
//	         "rcd":{"nam":<display name>}}       RFC 9795 (omitted when the number has no display name)
//
// RFC 9795 lets "rcd" and "crn" be added to a "shaken" PASSporT. Members
// are serialised in lexicographic order without whitespace (RFC 8225
// section 9): the struct fields below are declared in that order.
type passportClaims struct {
	Attest string     `json:"attest"`
	CRN    string     `json:"crn,omitempty"`
	Dest   destClaim  `json:"dest"`
	Exp    int64      `json:"exp"`
	Iat    int64      `json:"iat"`
	Iss    string     `json:"iss"`
	JTI    string     `json:"jti"`
	Orig   origClaim  `json:"orig"`
	OrigID string     `json:"origid"`
	RCD    *rcdClaims `json:"rcd,omitempty"`
}

type destClaim struct {
	TN []string `json:"tn"`
}

type origClaim struct {
	TN string `json:"tn"`
}

type rcdClaims struct {
	Nam string `json:"nam"`
}

// sign returns the call token of c, signed with the current key.
func (s *Service) sign(ctx context.Context, c Call) (string, error) {
	r, err := s.ring(ctx, true)
	if err != nil {
		return "", err
	}
	return signWith(r.current, s.claimsOf(c))
}

func (s *Service) claimsOf(c Call) passportClaims {
	pc := passportClaims{
		Attest: "A",
		CRN:    callReasonText(c),
		Dest:   destClaim{TN: []string{c.Callee.Digits()}},
		Exp:    c.ExpireTime.Unix(),
		Iat:    c.CreateTime.Unix(),
		Iss:    s.issuer,
		JTI:    c.ID,
		Orig:   origClaim{TN: c.Caller.Digits()},
		OrigID: c.OrigID,
	}
	if c.DisplayName != "" {
		pc.RCD = &rcdClaims{Nam: c.DisplayName}
	}
	return pc
}

func signWith(k *ringKey, pc passportClaims) (string, error) {
	payload, err := canonicalJSON(pc)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(64))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.method.Sign(string(buf), k.priv)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// canonicalJSON serialises a PASSporT header or claims object as RFC 8225
// section 9 asks, so that a verifier that rebuilds the canonical form gets
// the bytes that were signed: members in lexicographic order (struct fields
// are declared in that order, map keys are sorted), no whitespace, and
// strings as RFC 8785 section 3.2.2.2 writes them: only '"', '\\' and
// control characters escaped. encoding/json alone would write "&", "<" and
// ">" as \u0026, \u003c, \u003e and the line and paragraph separators as
// \u2028 and \u2029; those appear here as they are. Numbers are integers
// (NumericDate seconds), which both write alike.
func canonicalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if !bytes.Contains(out, []byte(`\u202`)) {
		return out, nil
	}
	// Every backslash in encoder output starts an escape inside a string,
	// so reading escapes pairwise never mistakes an escaped backslash
	// followed by "u2028" for the escape itself.
	res := make([]byte, 0, len(out))
	for i := 0; i < len(out); i++ {
		if out[i] != '\\' {
			res = append(res, out[i])
			continue
		}
		if i+5 < len(out) && out[i+1] == 'u' {
			switch string(out[i+2 : i+6]) {
			case "2028":
				res, i = utf8.AppendRune(res, '\u2028'), i+5
				continue
			case "2029":
				res, i = utf8.AppendRune(res, '\u2029'), i+5
				continue
			}
		}
		res = append(res, out[i], out[i+1])
		i++
	}
	return res, nil
}

// TokenFailure says why a call token is not valid. The values are those of
// the API's TokenFailure.
type TokenFailure int

const (
	TokenValid TokenFailure = iota
	TokenMalformed
	TokenAlgNotAllowed
	TokenUnknownKey
	TokenBadSignature
	TokenExpired
	TokenNotYetValid
	TokenCallerMismatch
	TokenCalleeMismatch
	TokenCallEnded
)

func (f TokenFailure) String() string {
	return [...]string{"VALID", "MALFORMED", "ALG_NOT_ALLOWED", "UNKNOWN_KEY", "BAD_SIGNATURE", "EXPIRED",
		"NOT_YET_VALID", "CALLER_MISMATCH", "CALLEE_MISMATCH", "CALL_ENDED"}[f]
}

// VerifyTokenRequest is a token to check, with the numbers it should be
// for when the checker knows them.
type VerifyTokenRequest struct {
	Token        string
	CallerNumber string // optional, any written form: must be orig.tn
	CalleeNumber string // optional, any written form: must be one of dest.tn
}

// TokenResult is the outcome of VerifyToken. CallID, CallState and Claims
// are set only once the signature has been verified, so nothing an
// attacker wrote is echoed back as if it were ours.
type TokenResult struct {
	Valid     bool
	Failure   TokenFailure
	CallID    string
	CallState State
	Claims    map[string]any
}

// maxTokenLen bounds what is parsed at all; our tokens are well under 1 KiB.
const maxTokenLen = 4096

var (
	errUnknownKey   = errors.New("unknown key id")
	errKeyAlg       = errors.New("the key id names a key of another algorithm")
	errHeaderFields = errors.New("not a shaken PASSporT header")
	validMethods    = []string{AlgES256, AlgEdDSA}
	tokenParser     = jwt.NewParser(jwt.WithValidMethods(validMethods), jwt.WithoutClaimsValidation())
)

// VerifyToken checks a call token: allowed algorithm, a published key by
// kid, the signature, exp (required) and iat (at most IatSkew ahead), the
// optional caller and callee, and that the call is still active. A token
// that fails is not an error: the failure says why. Errors are invalid
// request numbers and store failures (never turned into a verdict).
func (s *Service) VerifyToken(ctx context.Context, req VerifyTokenRequest) (TokenResult, error) {
	// Parse the request's numbers first: a bad request is the client's
	// mistake whatever the token says.
	var caller, callee string
	if req.CallerNumber != "" {
		n, err := s.parseNumber("caller_number", req.CallerNumber)
		if err != nil {
			return TokenResult{}, err
		}
		caller = n.Digits()
	}
	if req.CalleeNumber != "" {
		n, err := s.parseNumber("callee_number", req.CalleeNumber)
		if err != nil {
			return TokenResult{}, err
		}
		callee = n.Digits()
	}
	if req.Token == "" {
		return TokenResult{}, fault.Invalid("token", "is required")
	}
	fail := func(f TokenFailure) (TokenResult, error) { return TokenResult{Failure: f}, nil }
	if len(req.Token) > maxTokenLen {
		return fail(TokenMalformed)
	}

	claims, f, ok, err := s.parseOurs(ctx, req.Token)
	if err != nil {
		return TokenResult{}, err
	}
	if !ok {
		claims, f, err = s.parseAny(ctx, req.Token)
		if err != nil {
			return TokenResult{}, err
		}
	}
	if f != TokenValid {
		return fail(f)
	}

	// The signature is ours: from here on the claims can be trusted to be
	// what we signed, but a forged-then-signed shape is still checked.
	pc, ok := s.readClaims(claims)
	if !ok {
		return fail(TokenMalformed)
	}
	res := TokenResult{Failure: TokenValid, CallID: pc.JTI, Claims: claims}
	now := s.now()
	if !now.Before(time.Unix(pc.Exp, 0)) {
		res.Failure = TokenExpired
		return res, nil
	}
	if time.Unix(pc.Iat, 0).After(now.Add(IatSkew)) {
		res.Failure = TokenNotYetValid
		return res, nil
	}
	if nbf, ok := numericClaim(claims["nbf"]); ok && time.Unix(nbf, 0).After(now.Add(IatSkew)) {
		res.Failure = TokenNotYetValid
		return res, nil
	}

	// A call stops verifying when its caller stops being an official
	// number that places calls, is blocked, or is registered again (a new
	// generation) after the call. The token names the caller, so a
	// networked store reads the call and the caller's record at once.
	c, callerLive, err := s.getLiveCall(ctx, pc.JTI, tnNumber(pc.Orig.TN), func(c Call) bool { return c.StateAt(now) == StateActive })
	switch {
	case errors.Is(err, fault.ErrNotFound):
		res.CallState = StateUnspecified
	case err != nil:
		return TokenResult{}, err
	default:
		res.CallState = c.StateAt(now)
	}
	switch {
	case caller != "" && caller != pc.Orig.TN:
		res.Failure = TokenCallerMismatch
	case callee != "" && !slices.Contains(pc.Dest.TN, callee):
		res.Failure = TokenCalleeMismatch
	case res.CallState != StateActive || !callerLive:
		res.Failure = TokenCallEnded
	default:
		res.Valid = true
	}
	return res, nil
}

// tnNumber is the number a claim's tn (E.164 digits, no '+') names, or ""
// when tn is not 1 to 15 ASCII digits. It is only a hint (getLiveCall):
// a tn that is not a real number costs a store read, never an answer.
func tnNumber(tn string) phone.Number {
	if len(tn) < 1 || len(tn) > 15 {
		return ""
	}
	for i := 0; i < len(tn); i++ {
		if tn[i] < '0' || tn[i] > '9' {
			return ""
		}
	}
	return phone.Number("+" + tn)
}

// parseOurs checks a token whose header is, byte for byte, the header a
// published key of ours writes: the header then says nothing the keyring
// does not already know (alg, kid, ppt "shaken", typ "passport"), so it is
// not decoded, and the key is found without a lookup by kid. It answers
// exactly as parseAny would: it runs the same steps in the same order
// (every segment decoded, then the signature with the same method), and
// leaves every token it does not recognise, and every step that does not
// succeed short of the signature itself, to parseAny (ok false).
func (s *Service) parseOurs(ctx context.Context, token string) (claims jwt.MapClaims, f TokenFailure, ok bool, err error) {
	header, rest, _ := strings.Cut(token, ".")
	payload, sig, found := strings.Cut(rest, ".")
	if !found || strings.Contains(sig, ".") {
		return nil, 0, false, nil
	}
	r, err := s.ring(ctx, false)
	if err != nil {
		return nil, 0, false, err
	}
	k := r.byHeader[header]
	if k == nil || !k.meta.PublishedAt(s.now()) {
		return nil, 0, false, nil
	}
	enc := base64.RawURLEncoding
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return nil, 0, false, nil
	}
	// As the jwt parser decodes claims (json.Unmarshal into a MapClaims).
	if m, ok := decodeClaims(raw); ok {
		claims = m
	} else if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, 0, false, nil
	}
	signature, err := enc.DecodeString(sig)
	if err != nil {
		return nil, 0, false, nil
	}
	if err := k.method.Verify(token[:len(header)+1+len(payload)], signature, k.pub); err != nil {
		return nil, TokenBadSignature, true, nil
	}
	return claims, TokenValid, true, nil
}

// parseAny checks any token with the jwt parser: an allowed algorithm, a
// PASSporT header, a published key by kid, and the signature.
func (s *Service) parseAny(ctx context.Context, token string) (jwt.MapClaims, TokenFailure, error) {
	var storeErr error
	claims := jwt.MapClaims{}
	tok, err := tokenParser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != "passport" {
			return nil, errHeaderFields
		}
		if ppt, _ := t.Header["ppt"].(string); ppt != "shaken" {
			return nil, errHeaderFields
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errUnknownKey
		}
		k, err := s.verificationKey(ctx, kid)
		if err != nil {
			storeErr = err
			return nil, err
		}
		if k == nil {
			return nil, errUnknownKey
		}
		if k.meta.Algorithm != t.Method.Alg() {
			return nil, errKeyAlg
		}
		return k.pub, nil
	})
	if storeErr != nil {
		return nil, 0, storeErr
	}
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, TokenMalformed, nil
		case tok == nil:
			return nil, TokenMalformed, nil
		case !allowedAlg(tok.Header["alg"]):
			return nil, TokenAlgNotAllowed, nil
		case errors.Is(err, errHeaderFields):
			return nil, TokenMalformed, nil
		case errors.Is(err, errUnknownKey):
			return nil, TokenUnknownKey, nil
		case errors.Is(err, errKeyAlg), errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return nil, TokenBadSignature, nil
		}
		return nil, TokenMalformed, nil
	}
	return claims, TokenValid, nil
}

func allowedAlg(v any) bool {
	a, _ := v.(string)
	return a == AlgES256 || a == AlgEdDSA
}

// readClaims checks the shape of the claims a call token must carry.
func (s *Service) readClaims(m jwt.MapClaims) (passportClaims, bool) {
	var pc passportClaims
	var ok bool
	if pc.Exp, ok = numericClaim(m["exp"]); !ok {
		return pc, false
	}
	if pc.Iat, ok = numericClaim(m["iat"]); !ok {
		return pc, false
	}
	if pc.JTI, ok = m["jti"].(string); !ok || pc.JTI == "" {
		return pc, false
	}
	if pc.Iss, ok = m["iss"].(string); !ok || pc.Iss != s.issuer {
		return pc, false
	}
	orig, ok := m["orig"].(map[string]any)
	if !ok {
		return pc, false
	}
	if pc.Orig.TN, ok = orig["tn"].(string); !ok {
		return pc, false
	}
	dest, ok := m["dest"].(map[string]any)
	if !ok {
		return pc, false
	}
	tns, ok := dest["tn"].([]any)
	if !ok || len(tns) == 0 {
		return pc, false
	}
	for _, v := range tns {
		tn, ok := v.(string)
		if !ok {
			return pc, false
		}
		pc.Dest.TN = append(pc.Dest.TN, tn)
	}
	return pc, true
}

// numericClaim reads a JSON number (RFC 7519 NumericDate) in seconds.
func numericClaim(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return 0, false
	}
	return int64(f), true
}
