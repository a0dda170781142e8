package swrtoken

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// ErrNoToken is wrapped by the error of a request that carries no
	// session token: no bearer token and no session cookie.
	ErrNoToken = errors.New("swrtoken: request has no session token")

	// ErrInvalidToken is wrapped by the error of a request whose token the
	// middleware rejected. Where golang-jwt found the fault, errors.Is also
	// finds its error, jwt.ErrTokenExpired for example.
	ErrInvalidToken = errors.New("swrtoken: invalid session token")
)

var (
	errTokenTooLong  = errors.New("token too long")
	errManyTokens    = errors.New("request has more than one token")
	errEmptyToken    = errors.New("empty bearer token")
	errRenewalFailed = errors.New("renewal of the expired token failed")
)

// invalidToken returns the error of a rejected token, which names the
// token by its fingerprint.
func invalidToken(token string, cause error) error {
	return fmt.Errorf("%w (fingerprint %s): %w", ErrInvalidToken, Fingerprint(token), cause)
}

// DefaultErrorHandler writes the 401 Unauthorized response of a rejected
// request, as RFC 6750, section 3, describes it: a WWW-Authenticate
// header with the Bearer scheme and, when err wraps ErrInvalidToken,
// error="invalid_token" and a short error_description. The description
// and the body name the kind of fault, never the token.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	challenge := "Bearer"
	text := "a session token is required"
	if errors.Is(err, ErrInvalidToken) {
		text = describe(err)
		// The descriptions contain no quote or backslash, so they need no
		// escaping inside the quoted string.
		challenge = `Bearer error="invalid_token", error_description="` + text + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "401 Unauthorized: "+text, http.StatusUnauthorized)
}

// descriptions are the error_description texts of DefaultErrorHandler,
// first match first.
var descriptions = []struct {
	err  error
	text string
}{
	{errRenewalFailed, "the token expired and could not be renewed"},
	{errTokenTooLong, "the token is too long"},
	{errManyTokens, "the request carries more than one token"},
	{errEmptyToken, "the bearer token is empty"},
	{jwt.ErrTokenMalformed, "the token is malformed"},
	{jwt.ErrTokenSignatureInvalid, "the token signature or algorithm is invalid"},
	{jwt.ErrTokenUnverifiable, "the token signing key is unknown"},
	{jwt.ErrTokenExpired, "the token expired"},
	{jwt.ErrTokenNotValidYet, "the token is not valid yet"},
	{jwt.ErrTokenUsedBeforeIssued, "the token is not valid yet"},
	{jwt.ErrTokenInvalidIssuer, "the token issuer is not accepted"},
	{jwt.ErrTokenInvalidAudience, "the token audience is not accepted"},
	{errInvalidAuthorizedParty, "the token authorized party is not accepted"},
	{jwt.ErrTokenRequiredClaimMissing, "the token lacks a required claim"},
}

// describe returns the error_description for err.
func describe(err error) string {
	for _, d := range descriptions {
		if errors.Is(err, d.err) {
			return d.text
		}
	}
	return "the token is invalid"
}
