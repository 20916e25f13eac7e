package auth

import (
	"fmt"
	"strings"
)

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>". The scheme is matched case-insensitively and
// surrounding whitespace is ignored. Any other shape (missing header, other
// scheme, empty token, token containing whitespace) is an error wrapping
// ErrUnauthenticated. The token itself is never included in the error.
func BearerToken(authorizationHeaderValue string) (string, error) {
	h := strings.TrimSpace(authorizationHeaderValue)
	if h == "" {
		return "", fmt.Errorf("%w: missing authorization header", ErrUnauthenticated)
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: authorization header does not use the Bearer scheme", ErrUnauthenticated)
	}
	token := strings.TrimLeft(rest, " ")
	if !found || token == "" {
		return "", fmt.Errorf("%w: authorization header has no bearer token", ErrUnauthenticated)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("%w: bearer token contains whitespace", ErrUnauthenticated)
	}
	return token, nil
}
