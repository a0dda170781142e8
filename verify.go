package swrtoken

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// errInvalidAuthorizedParty is wrapped by the error of a token whose
	// azp claim is missing or not in MiddlewareOptions.AuthorizedParties.
	errInvalidAuthorizedParty = errors.New("token has an authorized party that is not accepted")

	// errUnsupportedCrit is wrapped by the error of a token whose header
	// has a crit member. RFC 7515, section 4.1.11, requires rejecting a
	// token whose critical extensions the verifier does not understand,
	// and this verifier understands none. golang-jwt v5.3.1 does not
	// check crit itself.
	errUnsupportedCrit = errors.New("token header has critical extensions (crit), which are not supported")
)

// verification is a token whose signature and static claims (iss, aud,
// azp) were verified, with the times that are checked on each request.
// The verified cache shares it between requests, so it is never
// modified after it is stored.
type verification struct {
	claims     *Claims
	expiry     time.Time // the exp claim, always present
	notBefore  time.Time // the nbf claim, zero without one
	issuedAt   time.Time // the iat claim, zero without one
	generation uint64    // the key set generation it was verified under
	keepUntil  time.Time // when the verified cache drops it
}

// checkTimes checks the token's exp, nbf and iat claims at now, allowing
// leeway for clock skew, as jwt.Validator does.
func (v *verification) checkTimes(now time.Time, leeway time.Duration) error {
	if !now.Before(v.expiry.Add(leeway)) {
		return fmt.Errorf("%w: expired %v ago", jwt.ErrTokenExpired,
			now.Sub(v.expiry).Truncate(time.Second))
	}
	if !v.notBefore.IsZero() && now.Before(v.notBefore.Add(-leeway)) {
		return fmt.Errorf("%w: valid in %v", jwt.ErrTokenNotValidYet,
			v.notBefore.Sub(now).Truncate(time.Second))
	}
	if !v.issuedAt.IsZero() && now.Before(v.issuedAt.Add(-leeway)) {
		return fmt.Errorf("%w: issued %v in the future", jwt.ErrTokenUsedBeforeIssued,
			v.issuedAt.Sub(now).Truncate(time.Second))
	}
	return nil
}

// verifier verifies tokens and remembers the verified ones. It is safe
// for concurrent use.
type verifier struct {
	parser   *jwt.Parser
	keys     *keySet     // keys of asymmetric tokens from a JWKS, or nil
	custom   jwt.Keyfunc // MiddlewareOptions.Keyfunc, or nil
	secret   []byte      // the HMAC secret, or nil
	leeway   time.Duration
	keep     time.Duration // how long past exp the cache keeps a token
	issuer   string
	audience []string
	parties  []string
	cache    *verifiedCache // nil when turned off
}

func newVerifier(o MiddlewareOptions) (*verifier, error) {
	v := &verifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods(o.Algorithms),
			// The claims are checked below, in two steps, so that a token
			// found in the cache runs only the time checks.
			jwt.WithoutClaimsValidation(),
		),
		custom:   o.Keyfunc,
		secret:   o.HMACSecret,
		leeway:   o.Leeway,
		keep:     o.Leeway + max(o.RenewExpiredWithin, 0),
		issuer:   o.Issuer,
		audience: o.Audience,
		parties:  o.AuthorizedParties,
		cache:    newVerifiedCache(o.VerifiedCacheSize),
	}
	var err error
	switch {
	case o.JWKSURL != "":
		v.keys, err = newJWKSKeySet(o)
	case len(o.JWKS) > 0:
		v.keys, err = newStaticKeySet(o.JWKS)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// close stops the JWKS refresh, if any.
func (v *verifier) close() {
	if v.keys != nil && v.keys.stop != nil {
		v.keys.stop()
	}
}

func (v *verifier) generation() uint64 {
	if v.keys == nil {
		return 0
	}
	return v.keys.generation.Load()
}

// verify verifies token at now. A token found in the verified cache only
// runs the time checks. When only those fail, verify returns the
// verification along with the error, so that an expired token can be
// renewed. ctx bounds a JWKS fetch for an unknown key ID.
func (v *verifier) verify(ctx context.Context, token string, now time.Time) (*verification, error) {
	var key tokenHash
	gen := v.generation()
	var ver *verification
	if v.cache != nil {
		key = hashToken(token)
		ver = v.cache.get(key, gen, now)
	}
	if ver == nil {
		var err error
		if ver, err = v.verifyFully(ctx, token, gen); err != nil {
			return nil, err
		}
		if now.Before(ver.keepUntil) {
			v.cache.put(key, ver, now)
		}
	}
	return ver, ver.checkTimes(now, v.leeway)
}

// verifyFully checks the signature and the static claims of token.
func (v *verifier) verifyFully(ctx context.Context, token string, gen uint64) (*verification, error) {
	claims := new(Claims)
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyfunc(ctx)); err != nil {
		return nil, err
	}
	if claims.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: exp", jwt.ErrTokenRequiredClaimMissing)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, err
	}
	ver := &verification{
		claims:     claims,
		expiry:     claims.ExpiresAt.Time,
		generation: gen,
		keepUntil:  claims.ExpiresAt.Add(v.keep),
	}
	if claims.NotBefore != nil {
		ver.notBefore = claims.NotBefore.Time
	}
	if claims.IssuedAt != nil {
		ver.issuedAt = claims.IssuedAt.Time
	}
	return ver, nil
}

// keyfunc returns the jwt.Keyfunc for one verification. HMAC tokens get
// only the configured secret, never a key from the JWKS; the parser has
// already rejected algorithms outside the allow-list.
func (v *verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errUnsupportedCrit
		}
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			if len(v.secret) == 0 {
				return nil, fmt.Errorf("no HMAC secret for alg %s", t.Method.Alg())
			}
			return v.secret, nil
		}
		switch {
		case v.keys != nil:
			return v.keys.keyfunc.KeyfuncCtx(ctx)(t)
		case v.custom != nil:
			return v.custom(t)
		}
		return nil, fmt.Errorf("no verification keys for alg %s", t.Method.Alg())
	}
}

// checkClaims checks the claims that do not change with time.
func (v *verifier) checkClaims(c *Claims) error {
	if v.issuer != "" && c.Issuer != v.issuer {
		return fmt.Errorf("%w: iss %q, want %q", jwt.ErrTokenInvalidIssuer, c.Issuer, v.issuer)
	}
	if len(v.audience) > 0 && !slices.ContainsFunc(c.Audience, v.acceptsAudience) {
		return fmt.Errorf("%w: aud %q, want one of %q", jwt.ErrTokenInvalidAudience, c.Audience, v.audience)
	}
	if len(v.parties) > 0 && !slices.Contains(v.parties, c.AuthorizedParty) {
		return fmt.Errorf("%w: azp %q, want one of %q", errInvalidAuthorizedParty, c.AuthorizedParty, v.parties)
	}
	return nil
}

func (v *verifier) acceptsAudience(aud string) bool {
	return slices.Contains(v.audience, aud)
}
