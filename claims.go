package swrtoken

import (
	"encoding/json"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a verified session token: the registered
// claims of RFC 7519 plus the session id and the authorized party that
// session tokens carry. Decode reads any other claim.
type Claims struct {
	jwt.RegisteredClaims

	// SessionID is the sid claim: the session the token belongs to.
	SessionID string `json:"sid,omitempty"`

	// AuthorizedParty is the azp claim: the origin of the frontend the
	// token was issued to.
	AuthorizedParty string `json:"azp,omitempty"`

	raw json.RawMessage // the whole payload, for Decode
}

// UnmarshalJSON decodes the claims and keeps the payload for Decode.
func (c *Claims) UnmarshalJSON(data []byte) error {
	type fields Claims // without this method, to avoid recursion
	var f fields
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	*c = Claims(f)
	c.raw = append(json.RawMessage(nil), data...)
	return nil
}

// Decode decodes the whole token payload into v, a pointer to a struct or
// map, to read custom claims.
func (c *Claims) Decode(v any) error {
	if c.raw == nil {
		return errors.New("swrtoken: claims hold no payload to decode")
	}
	return json.Unmarshal(c.raw, v)
}
