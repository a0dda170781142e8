// Package serverside compares the swrtoken middleware with the way most
// Go services verify session JWTs: a full golang-jwt/jwt/v5 parse with a
// github.com/MicahParks/keyfunc/v3 key lookup on every request.
package serverside

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// SessionClaims are the claims that the baseline middleware decodes: the
// registered claims plus the session id and authorized party, as
// swrtoken.Claims has them.
type SessionClaims struct {
	jwt.RegisteredClaims
	SessionID       string `json:"sid,omitempty"`
	AuthorizedParty string `json:"azp,omitempty"`
}

// claimsKey is the context key of the baseline's verified claims.
type claimsKey struct{}

// ClaimsFromContext returns the claims that the baseline middleware
// verified for the request whose context is ctx.
func ClaimsFromContext(ctx context.Context) (*SessionClaims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*SessionClaims)
	return c, ok
}

// NewKeyfuncMiddleware returns a middleware that verifies the bearer token
// of every request against the keys of a JSON Web Key Set. It makes the
// checks that swrtoken's middleware makes by default: an allowed
// algorithm, a valid signature, exp required, nbf and iat, with 5s of
// leeway. It keeps no cache, so each request pays a signature
// verification. Requests without a valid token get 401.
func NewKeyfuncMiddleware(jwks json.RawMessage, algorithms []string) (func(http.Handler) http.Handler, error) {
	kf, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return nil, fmt.Errorf("serverside: parse JWKS: %w", err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				http.Error(w, "missing bearer token", http.StatusUnauthorized)
				return
			}
			claims := new(SessionClaims)
			if _, err := parser.ParseWithClaims(raw, claims, kf.Keyfunc); err != nil {
				http.Error(w, "invalid token", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}, nil
}
