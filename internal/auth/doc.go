// Package auth authenticates callverify callers from the bearer JWT that
// every gRPC and REST request carries.
//
// A [Verifier] checks a token's signature against one configured key source
// (a JWKS file, a JWKS URL that is fetched and cached, or an HS256 shared
// secret file), enforces issuer, audience, expiry and the allowed signing
// algorithms and the token's age (iat is required; a token issued longer
// than Config.MaxTokenAge ago is refused whatever its exp), and turns the
// claims callverify relies on (sub, role and, for customers, phone_number)
// into a [Principal]. Every verification failure wraps [ErrUnauthenticated];
// the wrapped detail says why, for server logs, and the transport layer maps
// it to UNAUTHENTICATED. Logged with slog, the error shows the reason and the
// token's claims masked, never a claim value in plain.
//
// The package also carries a small development issuer ([EnsureDevSecret],
// [Mint]) so that a local instance started with --dev can run without an
// identity provider.
//
// Tokens are credentials. This package never logs, and never puts a token
// (or any part of one) into an error message; code that uses it must not
// log tokens or Authorization header values either.
package auth
