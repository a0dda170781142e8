package swrtokentest

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint returns a session token for sessionID signed with the current key,
// as the token endpoint would issue it at this moment. It does not count
// as a token request.
func (i *Issuer) Mint(sessionID string) string {
	return i.MintWith(MintOptions{SessionID: sessionID})
}

// MintWith returns a token whose claims and key are those of the token
// endpoint, except where c sets them. It panics if c.KeyID names a key the
// issuer never had, because that is a mistake in the test.
func (i *Issuer) MintWith(c MintOptions) string {
	i.mu.Lock()
	key := i.current
	if c.KeyID != "" {
		key = i.findKey(c.KeyID)
	}
	now := i.opts.Now().Add(i.clockOffset)
	lifetime := i.lifetime
	issuer := i.issuerClaim()
	i.mu.Unlock()

	if key == nil {
		panic(fmt.Sprintf("swrtokentest: MintWith: unknown key id %q", c.KeyID))
	}
	if c.Lifetime != 0 {
		lifetime = c.Lifetime
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	// Claims are whole seconds, so exp is computed from the truncated
	// iat to keep exp - iat equal to the lifetime.
	iat := c.IssuedAt.Unix()
	exp := iat + int64(lifetime/time.Second)
	if !c.Expiry.IsZero() {
		exp = c.Expiry.Unix()
	}

	claims := jwt.MapClaims{
		"iat": iat,
		"nbf": c.NotBefore.Unix(),
		"exp": exp,
		"iss": cmp.Or(c.Issuer, issuer),
		"azp": cmp.Or(c.AuthorizedParty, i.opts.AuthorizedParty),
		"jti": "jwt_" + strconv.FormatUint(i.minted.Add(1), 10),
	}
	if c.SessionID != "" {
		claims["sid"] = c.SessionID
	}
	if sub := cmp.Or(c.Subject, subjectOf(c.SessionID)); sub != "" {
		claims["sub"] = sub
	}
	if aud := audienceClaim(c.Audience, i.opts.Audience); aud != nil {
		claims["aud"] = aud
	}
	for name, value := range c.Extra {
		if value == nil {
			delete(claims, name)
		} else {
			claims[name] = value
		}
	}
	return key.sign(claims)
}

// subjectOf returns the user id the issuer assigns to a session:
// "user_abc" for "sess_abc", and "" for no session.
func subjectOf(sessionID string) string {
	if sessionID == "" {
		return ""
	}
	return "user_" + strings.TrimPrefix(sessionID, "sess_")
}

// audienceClaim returns the aud claim for aud, or for fallback when aud
// is nil: a string for one audience, as most issuers send it, an array
// for several, and nil for none.
func audienceClaim(aud, fallback []string) any {
	if aud == nil {
		aud = fallback
	}
	switch len(aud) {
	case 0:
		return nil
	case 1:
		return aud[0]
	default:
		return append([]string(nil), aud...)
	}
}
