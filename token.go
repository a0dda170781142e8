package swrtoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxJWTLength bounds the token text that ParseJWTTimes decodes. Session
// JWTs are a few hundred bytes; 64 KiB leaves room for large custom claims
// while keeping a hostile value from costing much.
const maxJWTLength = 64 << 10

// Token is a token as a Fetcher returns it and as a Cache stores it.
type Token struct {
	// Value is the token text that is sent to servers.
	Value string

	// Lifetime is how long the token is valid after it was issued. A
	// Fetcher of opaque tokens must set it, from an expires_in field for
	// example. When it is zero, the cache takes it from IssuedAt and
	// Expiry, or from the iat and exp claims when Value is a JWT.
	Lifetime time.Duration

	// IssuedAt and Expiry are the token's iat and exp, read on the
	// issuer's clock. A Fetcher may leave them zero; the cache then fills
	// them in from the JWT claims when it can.
	IssuedAt time.Time
	Expiry   time.Time
}

// ErrMalformedJWT is returned by ParseJWTTimes for a value that is not a
// JWT in compact serialization or whose payload has no usable exp claim.
var ErrMalformedJWT = errors.New("swrtoken: malformed JWT")

// ParseJWTTimes reads the iat and exp claims of a JWT in compact
// serialization without checking its signature: the cache only needs to
// know when the token ends, and the server that receives it verifies it.
// The iat claim is optional, so a zero issuedAt means the token has none.
// Errors wrap ErrMalformedJWT and never contain the token text.
func ParseJWTTimes(value string) (issuedAt, expiry time.Time, err error) {
	if len(value) > maxJWTLength {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %d bytes exceeds the %d byte limit",
			ErrMalformedJWT, len(value), maxJWTLength)
	}
	_, rest, ok := strings.Cut(value, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(signature, ".") {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: want three dot-separated parts", ErrMalformedJWT)
	}

	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: payload is not base64url", ErrMalformedJWT)
	}
	var claims struct {
		IssuedAt  *json.Number `json:"iat"`
		ExpiresAt *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: payload is not a JSON object", ErrMalformedJWT)
	}

	if claims.ExpiresAt == nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: exp claim missing", ErrMalformedJWT)
	}
	expiry, err = numericDate(*claims.ExpiresAt)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: exp claim: %v", ErrMalformedJWT, err)
	}
	if claims.IssuedAt != nil {
		issuedAt, err = numericDate(*claims.IssuedAt)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%w: iat claim: %v", ErrMalformedJWT, err)
		}
	}
	return issuedAt, expiry, nil
}

// numericDate converts a JWT NumericDate (RFC 7519, section 2: seconds
// since the Unix epoch, possibly fractional) to a time.
func numericDate(n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("invalid NumericDate")
	}
	// Dates past the year 10000 or before 1970 are not session tokens;
	// rejecting them also keeps the conversion below from overflowing.
	const maxSeconds = 253402300799
	if f < 0 || f > maxSeconds {
		return time.Time{}, fmt.Errorf("NumericDate out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// Fingerprint returns a short, stable name for a token that is safe to log:
// the first 12 hex digits of its SHA-256 sum.
func Fingerprint(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:6])
}

// lifetime returns how long tok is valid after it was issued, following
// the rule documented on Cache: an explicit Lifetime first, then
// Expiry - IssuedAt, then the JWT's exp - iat. It fills IssuedAt and
// Expiry from the JWT when the Fetcher left them zero. fetchStart is the
// local time at which the fetch began, used only for tokens with an expiry
// but no issue time.
func (tok *Token) lifetime(fetchStart time.Time) (time.Duration, error) {
	if tok.Value == "" {
		return 0, errors.New("fetcher returned an empty token")
	}
	if tok.Expiry.IsZero() {
		if iat, exp, err := ParseJWTTimes(tok.Value); err == nil {
			tok.Expiry = exp
			if tok.IssuedAt.IsZero() {
				tok.IssuedAt = iat
			}
		} else if tok.Lifetime <= 0 {
			return 0, fmt.Errorf("token has no Lifetime and is not a JWT with an exp claim: %w", err)
		}
	}
	switch {
	case tok.Lifetime > 0:
		return tok.Lifetime, nil
	case !tok.IssuedAt.IsZero():
		return tok.Expiry.Sub(tok.IssuedAt), nil
	default:
		// Without iat the only anchor is the local clock, so skew between
		// it and the issuer's clock shortens or lengthens the lifetime.
		return tok.Expiry.Sub(fetchStart.Round(0)), nil
	}
}
