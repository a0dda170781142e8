package swrtokentest

import (
	"crypto/rand"
	"time"
)

// Defaults of Options fields.
const (
	DefaultLifetime        = 60 * time.Second
	DefaultAlgorithm       = "ES256"
	DefaultKeyID           = "k1"
	DefaultAuthorizedParty = "http://localhost:3000"
)

// UnstartedURL is the base URL of an issuer that is not listening. The
// client returned by Client reaches the issuer in-process at this URL, and
// tokens minted before Start carry it as their iss claim by default. The
// .invalid top-level domain (RFC 2606) never resolves, so a request sent
// there by another client fails instead of leaving the machine.
const UnstartedURL = "http://swrtokentest.invalid"

// Options configures an Issuer. The zero value is valid: each zero field
// takes the default named in its comment.
type Options struct {
	// Lifetime is the lifetime of the tokens the issuer mints, in whole
	// seconds. Zero means DefaultLifetime (60s).
	Lifetime time.Duration

	// Latency is how long the token endpoint waits before it responds.
	// The wait ends early when the client gives up or the issuer is
	// closed. Zero means no delay.
	Latency time.Duration

	// Algorithm is the signing algorithm: "ES256" (ECDSA P-256) or
	// "RS256" (RSA 2048). Empty means DefaultAlgorithm (ES256).
	Algorithm string

	// KeyID is the kid of the first signing key. Empty means
	// DefaultKeyID ("k1").
	KeyID string

	// OmitJWKAlg leaves the optional "alg" member out of the keys in the
	// JWKS, as some issuers do, so that verifiers must take the algorithm
	// from elsewhere.
	OmitJWKAlg bool

	// Issuer is the iss claim. Empty means the issuer's base URL: URL
	// once started, UnstartedURL before.
	Issuer string

	// AuthorizedParty is the azp claim. Empty means
	// DefaultAuthorizedParty ("http://localhost:3000").
	AuthorizedParty string

	// Audience is the aud claim. Nil means tokens have no aud claim.
	Audience []string

	// SecretKey is the bearer secret the token endpoint requires. Empty
	// means a random value of the form "sk_test_...".
	SecretKey string

	// Now is the issuer's clock. Nil means time.Now, which under
	// testing/synctest is the bubble's fake clock.
	Now func() time.Time
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Lifetime <= 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.Latency < 0 {
		o.Latency = 0
	}
	if o.Algorithm == "" {
		o.Algorithm = DefaultAlgorithm
	}
	if o.KeyID == "" {
		o.KeyID = DefaultKeyID
	}
	if o.AuthorizedParty == "" {
		o.AuthorizedParty = DefaultAuthorizedParty
	}
	if o.SecretKey == "" {
		o.SecretKey = "sk_test_" + rand.Text()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// MintOptions sets the claims and key of a token made by Issuer.MintWith.
// Each zero field takes the value the token endpoint would use.
type MintOptions struct {
	// SessionID is the sid claim. Empty means the token has no sid.
	SessionID string

	// Subject is the sub claim. Empty means the user id that the issuer
	// derives from the session id: "user_" followed by the session id
	// without its "sess_" prefix.
	Subject string

	// Issuer, AuthorizedParty and Audience are the iss, azp and aud
	// claims. Empty (nil for Audience) means the issuer's Options.
	Issuer          string
	AuthorizedParty string
	Audience        []string

	// IssuedAt is the iat claim. Zero means the issuer's clock, with its
	// offset.
	IssuedAt time.Time

	// NotBefore is the nbf claim. Zero means IssuedAt.
	NotBefore time.Time

	// Expiry is the exp claim. Zero means IssuedAt plus Lifetime.
	Expiry time.Time

	// Lifetime is the time from IssuedAt to Expiry when Expiry is zero.
	// Zero means the issuer's current lifetime.
	Lifetime time.Duration

	// Extra holds claims that are set last, over the ones above. A nil
	// value removes the claim, to make a token without exp for example.
	Extra map[string]any

	// KeyID names the key that signs the token; it may be a key that
	// RemoveKey dropped from the JWKS. Empty means the current key.
	KeyID string
}
