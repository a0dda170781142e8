package swrtoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Default values of MiddlewareOptions fields.
const (
	DefaultCookieName             = "__session"
	DefaultLeeway                 = 5 * time.Second
	DefaultMaxTokenLength         = 4096
	DefaultVerifiedCacheSize      = 10000
	DefaultJWKSRefreshInterval    = time.Hour
	DefaultJWKSUnknownKeyInterval = time.Minute
	DefaultJWKSTimeout            = 10 * time.Second
)

// MiddlewareOptions configures a Middleware. The zero value is safe but
// not usable: NewMiddleware requires a source of verification keys
// (JWKSURL, JWKS, Keyfunc or HMACSecret) and rejects options that would
// accept unsigned or HMAC tokens by accident. Each other zero field takes
// the default named in its comment.
type MiddlewareOptions struct {
	// JWKSURL is the URL of the issuer's JSON Web Key Set. NewMiddleware
	// fetches it once, waiting up to JWKSTimeout. Later the set is
	// fetched every JWKSRefreshInterval, and also when a token names a
	// key ID that the set lacks, at most once per JWKSUnknownKeyInterval.
	// A failed first fetch is not an error, because the keys are fetched
	// again for the first token. At most one of JWKSURL, JWKS and Keyfunc
	// may be set.
	JWKSURL string

	// JWKS is a fixed JSON Web Key Set document, for tests or for keys
	// configured by hand. It is never refreshed.
	JWKS json.RawMessage

	// Keyfunc, if not nil, returns the key that verifies a token, as for
	// jwt.Parse. It is called only for the asymmetric algorithms in
	// Algorithms: HMAC tokens are verified with HMACSecret alone.
	Keyfunc jwt.Keyfunc

	// HMACSecret, if not empty, is the secret that verifies HMAC tokens
	// (HS256, HS384, HS512). HMAC tokens are rejected without it, so that
	// a public key can never serve as an HMAC secret.
	HMACSecret []byte

	// Algorithms lists the accepted values of the token's alg header.
	// Nil means RS256 and ES256, plus HS256 when HMACSecret is set.
	// "none" is never accepted, and HMAC algorithms only with HMACSecret.
	Algorithms []string

	// HTTPClient sends the JWKS requests. Nil means http.DefaultClient.
	HTTPClient *http.Client

	// JWKSRefreshInterval is the time between two fetches of JWKSURL.
	// Zero means DefaultJWKSRefreshInterval (1h).
	JWKSRefreshInterval time.Duration

	// JWKSUnknownKeyInterval is the least time between two fetches of
	// JWKSURL caused by tokens with an unknown key ID, so that a flood of
	// forged key IDs cannot flood the issuer. A token with an unknown key
	// ID that arrives within the interval is rejected at once, except
	// that one such request may wait, up to JWKSTimeout, for the end of
	// the interval. Zero means DefaultJWKSUnknownKeyInterval (1m).
	JWKSUnknownKeyInterval time.Duration

	// JWKSTimeout bounds each fetch of JWKSURL. Zero means
	// DefaultJWKSTimeout (10s).
	JWKSTimeout time.Duration

	// Leeway is the clock skew allowed when checking the exp, nbf and iat
	// claims. Zero means DefaultLeeway (5s); a negative value means none.
	Leeway time.Duration

	// Issuer, if not empty, is the required value of the iss claim.
	Issuer string

	// Audience, if not empty, lists accepted values of the aud claim: the
	// token must name at least one of them.
	Audience []string

	// AuthorizedParties, if not empty, lists the accepted values of the
	// azp claim, the origins of the frontends allowed to use the tokens.
	// A token without azp is then rejected.
	AuthorizedParties []string

	// CookieName is the name of the session cookie that carries the token
	// when the request has no bearer token. Zero means DefaultCookieName
	// ("__session").
	CookieName string

	// Header is the request header that carries "Bearer <token>". A token
	// there wins over the cookie; a header with another scheme is
	// ignored. Zero means "Authorization".
	Header string

	// Extract, if not nil, replaces the header and cookie lookups: it
	// returns the request's token, "" when there is none, or an error for
	// a request it rejects. Tokens it returns are never renewed, because
	// the middleware cannot tell how the client stores them.
	Extract func(r *http.Request) (string, error)

	// MaxTokenLength is the longest token accepted, in bytes. Zero means
	// DefaultMaxTokenLength (4096): browsers keep at most about 4096
	// bytes per cookie, so a longer session token cannot come from one.
	MaxTokenLength int

	// ErrorHandler writes the response to a request that is rejected.
	// The error wraps ErrNoToken or ErrInvalidToken. Nil means
	// DefaultErrorHandler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// VerifiedCacheSize is the number of verified tokens remembered, so
	// that a token seen again costs only its time checks instead of a
	// signature verification. Zero means DefaultVerifiedCacheSize
	// (10000); a negative value turns the cache off.
	VerifiedCacheSize int

	// RenewalCache, if not nil, renews session cookies: its Fetcher
	// returns a new token for a renewal key, a session id by default. A
	// request whose cookie token is within RenewalWindow of its end gets
	// a renewed cookie as soon as the cache holds a newer token. The
	// owner creates and closes the cache; Middleware.Close leaves it
	// open. Nil means cookies are never renewed.
	RenewalCache *Cache

	// RenewalKey returns the renewal key of verified claims. Nil means
	// the session id (the sid claim). Claims with an empty key are not
	// renewed.
	RenewalKey func(c *Claims) string

	// RenewalWindow is how long before its exp claim a cookie token is
	// renewed, at most half the token's lifetime (exp - iat). Zero means
	// the RefreshLeeway of RenewalCache.
	RenewalWindow time.Duration

	// RenewExpiredWithin, if positive, allows renewing a cookie token for
	// this long after it expired, counting from exp plus Leeway. Its
	// signature and its other claims must still be valid, and the request
	// waits for the new token, bounded by its context. Zero means expired
	// tokens are rejected. Renewed cookies then outlive their token by
	// this much more, so that the browser still sends an expired token.
	RenewExpiredWithin time.Duration

	// CookieDomain is the Domain attribute of renewed cookies. Empty
	// means none: the cookie goes only to the host that set it.
	CookieDomain string

	// InsecureCookie turns off the Secure attribute of renewed cookies,
	// for development over plain HTTP. Keep it false in production.
	InsecureCookie bool

	// Logger, if not nil, receives a debug record for each rejected token
	// and renewed cookie and a warning for each failed JWKS fetch. Records
	// name tokens by Fingerprint, never by their text. Nil means no
	// logging.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field set to its default.
func (o MiddlewareOptions) withDefaults() MiddlewareOptions {
	if o.Algorithms == nil {
		o.Algorithms = []string{"RS256", "ES256"}
		if len(o.HMACSecret) > 0 {
			o.Algorithms = append(o.Algorithms, "HS256")
		}
	}
	if o.JWKSRefreshInterval <= 0 {
		o.JWKSRefreshInterval = DefaultJWKSRefreshInterval
	}
	if o.JWKSUnknownKeyInterval <= 0 {
		o.JWKSUnknownKeyInterval = DefaultJWKSUnknownKeyInterval
	}
	if o.JWKSTimeout <= 0 {
		o.JWKSTimeout = DefaultJWKSTimeout
	}

	switch {
	case o.Leeway == 0:
		o.Leeway = DefaultLeeway
	case o.Leeway < 0:
		o.Leeway = 0
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.Header == "" {
		o.Header = "Authorization"
	}
	if o.MaxTokenLength <= 0 {
		o.MaxTokenLength = DefaultMaxTokenLength
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = DefaultErrorHandler
	}
	if o.VerifiedCacheSize == 0 {
		o.VerifiedCacheSize = DefaultVerifiedCacheSize
	}

	if o.RenewalKey == nil {
		o.RenewalKey = func(c *Claims) string { return c.SessionID }
	}
	if o.RenewalWindow <= 0 && o.RenewalCache != nil {
		o.RenewalWindow = o.RenewalCache.opts.RefreshLeeway
	}
	return o
}

// validate reports options that NewMiddleware must reject. It runs on
// options with defaults filled in.
func (o MiddlewareOptions) validate() error {
	sources := 0
	for _, set := range []bool{o.JWKSURL != "", len(o.JWKS) > 0, o.Keyfunc != nil} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("swrtoken: set only one of MiddlewareOptions.JWKSURL, JWKS and Keyfunc")
	}
	if sources == 0 && len(o.HMACSecret) == 0 {
		return errors.New("swrtoken: MiddlewareOptions has no verification keys: " +
			"set JWKSURL, JWKS, Keyfunc or HMACSecret")
	}
	if len(o.Algorithms) == 0 {
		return errors.New("swrtoken: MiddlewareOptions.Algorithms is empty: no token could be accepted")
	}
	for _, alg := range o.Algorithms {
		if err := o.checkAlgorithm(alg); err != nil {
			return err
		}
	}
	probe := &http.Cookie{Name: o.CookieName, Value: "x", Domain: o.CookieDomain}
	if err := probe.Valid(); err != nil {
		return fmt.Errorf("swrtoken: MiddlewareOptions.CookieName %q or CookieDomain %q: %w",
			o.CookieName, o.CookieDomain, err)
	}
	return nil
}

// checkAlgorithm reports an algorithm that the options cannot accept.
func (o MiddlewareOptions) checkAlgorithm(alg string) error {
	if strings.EqualFold(alg, "none") {
		return errors.New(`swrtoken: MiddlewareOptions.Algorithms contains "none": unsigned tokens are never accepted`)
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return fmt.Errorf("swrtoken: MiddlewareOptions.Algorithms contains %q, which is not a JWS algorithm of golang-jwt", alg)
	}
	if _, ok := method.(*jwt.SigningMethodHMAC); ok && len(o.HMACSecret) == 0 {
		return fmt.Errorf("swrtoken: MiddlewareOptions.Algorithms contains %q but HMACSecret is empty", alg)
	}
	return nil
}
