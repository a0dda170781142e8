package swrtoken

import "context"

// contextKey is the type of this package's context keys. A pointer to it
// cannot collide with keys of other packages.
type contextKey struct{ name string }

var (
	cacheKeyContextKey = &contextKey{"cache key"}
	verifiedContextKey = &contextKey{"verified token"}
)

// WithKey returns a copy of ctx that carries a cache key. A Transport
// without a KeyFunc sends the token of this key with a request made with
// that context, so that one client can act for many sessions.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, cacheKeyContextKey, key)
}

// KeyFromContext returns the cache key stored in ctx by WithKey.
func KeyFromContext(ctx context.Context) (string, bool) {
	key, ok := ctx.Value(cacheKeyContextKey).(string)
	return key, ok
}

// verifiedToken is what the middleware stores in a request's context.
type verifiedToken struct {
	raw    string
	claims *Claims

	// checkedBy is the Middleware that stored the value, and err why it
	// rejected the request, so that a RequireAuth inside an Optional of
	// the same Middleware neither verifies again nor loses the reason.
	checkedBy *Middleware
	err       error
}

// NewContext returns a copy of ctx that carries a verified token and its
// claims, as the middleware stores them for a handler. Tests of handlers
// that sit behind the middleware can use it to supply claims directly.
func NewContext(ctx context.Context, token string, claims *Claims) context.Context {
	return context.WithValue(ctx, verifiedContextKey, &verifiedToken{raw: token, claims: claims})
}

// ClaimsFromContext returns the verified claims of the request whose
// context is ctx. It returns false when the request carried no valid token.
// The middleware shares one Claims value between the requests that carry
// the same token, so handlers must not modify it.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	v, ok := ctx.Value(verifiedContextKey).(*verifiedToken)
	if !ok || v.claims == nil {
		return nil, false
	}
	return v.claims, true
}

// TokenFromContext returns the verified token text of the request whose
// context is ctx, to forward it to another service for example. After
// the middleware renewed an expired token, it is the new token. It
// returns false when the request carried no valid token.
func TokenFromContext(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(verifiedContextKey).(*verifiedToken)
	if !ok || v.raw == "" {
		return "", false
	}
	return v.raw, true
}
