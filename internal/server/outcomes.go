package server

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// outcomes count what the service answered, beyond the status code of the
// RPC: the verdicts given, the code attempts, the call tokens checked and
// the bearer tokens refused. Every label value is an enum's name or a
// fixed word, never a number or an id, and each series is made at start
// (so a zero shows, and the hot path only increments a counter it holds).
type outcomes struct {
	verdicts      map[string]map[callverifyv1.Verdict]prometheus.Counter // by RPC name
	codes         map[string]prometheus.Counter
	callTokens    map[callverifyv1.TokenFailure]prometheus.Counter // UNSPECIFIED: valid
	bearerRefused map[string]prometheus.Counter
}

// Outcome label values.
const (
	codeMatch    = "match"
	codeMismatch = "mismatch"
	// codeNoAttempts: no attempt left on a live call of this customer's
	// (locked, used, ended, expired, unknown or another's: answered alike).
	codeNoAttempts = "no_attempts_left"

	bearerMissing = "missing"
	bearerExpired = "expired"
	bearerInvalid = "invalid"
)

// enumLabel is the label value of an enum name: "VERDICT_KNOWN_FRAUD" is
// "known_fraud".
func enumLabel(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

func newOutcomes(reg prometheus.Registerer) *outcomes {
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callverify_verdicts_total",
		Help: "Verdicts answered, by RPC (CheckCaller, LookupNumber) and verdict.",
	}, []string{"rpc", "verdict"})
	codes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callverify_code_attempts_total",
		Help: "ConfirmCode attempts answered, by outcome: match, mismatch, no_attempts_left (locked, used, ended, expired or unknown call, answered alike).",
	}, []string{"outcome"})
	tokens := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callverify_call_tokens_verified_total",
		Help: "Call tokens checked by VerifyToken, by result: valid, or the TokenFailure.",
	}, []string{"result"})
	bearer := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callverify_bearer_tokens_refused_total",
		Help: "Requests refused for their bearer token, by reason: missing (no usable Authorization), expired (a good token past its time), invalid (anything else).",
	}, []string{"reason"})
	reg.MustRegister(verdicts, codes, tokens, bearer)

	o := &outcomes{
		verdicts:      map[string]map[callverifyv1.Verdict]prometheus.Counter{},
		codes:         map[string]prometheus.Counter{},
		callTokens:    map[callverifyv1.TokenFailure]prometheus.Counter{},
		bearerRefused: map[string]prometheus.Counter{},
	}
	for _, rpc := range []string{"CheckCaller", "LookupNumber"} {
		o.verdicts[rpc] = map[callverifyv1.Verdict]prometheus.Counter{}
		for v, name := range callverifyv1.Verdict_name {
			if v != 0 {
				o.verdicts[rpc][callverifyv1.Verdict(v)] = verdicts.WithLabelValues(rpc, enumLabel(name, "VERDICT_"))
			}
		}
	}
	for _, c := range []string{codeMatch, codeMismatch, codeNoAttempts} {
		o.codes[c] = codes.WithLabelValues(c)
	}
	for f, name := range callverifyv1.TokenFailure_name {
		label := enumLabel(name, "TOKEN_FAILURE_")
		if f == 0 {
			label = "valid"
		}
		o.callTokens[callverifyv1.TokenFailure(f)] = tokens.WithLabelValues(label)
	}
	for _, r := range []string{bearerMissing, bearerExpired, bearerInvalid} {
		o.bearerRefused[r] = bearer.WithLabelValues(r)
	}
	return o
}

// verdict counts a verdict of rpc; an unknown value (an enum newer than
// this map cannot be: the map is built from the enum) is not counted.
func (o *outcomes) verdict(rpc string, v callverifyv1.Verdict) {
	if c := o.verdicts[rpc][v]; c != nil {
		c.Inc()
	}
}

func (o *outcomes) codeAttempt(match bool, remaining int32) {
	switch {
	case match:
		o.codes[codeMatch].Inc()
	case remaining > 0:
		o.codes[codeMismatch].Inc()
	default:
		o.codes[codeNoAttempts].Inc()
	}
}

func (o *outcomes) callToken(f callverifyv1.TokenFailure) {
	if c := o.callTokens[f]; c != nil {
		c.Inc()
	}
}
