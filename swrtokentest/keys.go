package swrtokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// rsaKeyBits is the size of generated RSA keys: the smallest size that
// RFC 7518, section 3.3 allows for RS256.
const rsaKeyBits = 2048

// signingKey is a private key of the issuer with its key id.
type signingKey struct {
	id     string
	signer crypto.Signer
	method jwt.SigningMethod

	// published reports whether the key is in the JWKS. RemoveKey clears
	// it; the key is kept so that MintWith can still sign with it.
	published bool
}

// newSigningKey generates a key for alg, ES256 or RS256, with the given
// kid.
func newSigningKey(id, alg string) (*signingKey, error) {
	var (
		signer crypto.Signer
		method jwt.SigningMethod
		err    error
	)
	switch alg {
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		method = jwt.SigningMethodES256
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
		method = jwt.SigningMethodRS256
	default:
		return nil, fmt.Errorf("swrtokentest: unsupported algorithm %q: want ES256 or RS256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("swrtokentest: generate %s key: %w", alg, err)
	}
	return &signingKey{id: id, signer: signer, method: method, published: true}, nil
}

// sign returns the compact serialization of a JWT with claims, signed by
// k, with k's id as the kid header.
func (k *signingKey) sign(claims jwt.Claims) string {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.id
	s, err := t.SignedString(k.signer)
	if err != nil {
		// Signing with a key this package generated fails on a claim
		// that cannot be encoded as JSON, such as a channel in
		// MintOptions.Extra, or on a broken random source.
		panic(fmt.Sprintf("swrtokentest: sign token with key %q: %v", k.id, err))
	}
	return s
}

// jwk is a public key as a JSON Web Key (RFC 7517), with the members of
// RFC 7518, section 6 for EC and RSA keys.
type jwk struct {
	KeyType   string `json:"kty"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg,omitempty"`

	// RSA public key members.
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`

	// EC public key members.
	Curve string `json:"crv,omitempty"`
	X     string `json:"x,omitempty"`
	Y     string `json:"y,omitempty"`
}

// jwkSet is a JWK Set document.
type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// publicJWK returns k's public key as a JWK, without the alg member
// when omitAlg is set.
func (k *signingKey) publicJWK(omitAlg bool) jwk {
	key := jwk{KeyID: k.id, Use: "sig"}
	if !omitAlg {
		key.Algorithm = k.method.Alg()
	}
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		// The uncompressed point is 0x04 || X || Y, each coordinate of
		// the curve's fixed size, as RFC 7518, section 6.2.1 requires.
		point, err := pub.Bytes()
		if err != nil {
			panic(fmt.Sprintf("swrtokentest: encode EC key %q: %v", k.id, err))
		}
		size := (len(point) - 1) / 2
		key.KeyType = "EC"
		key.Curve = pub.Curve.Params().Name
		key.X = b64(point[1 : 1+size])
		key.Y = b64(point[1+size:])
	case *rsa.PublicKey:
		key.KeyType = "RSA"
		key.N = b64(pub.N.Bytes())
		key.E = b64(big.NewInt(int64(pub.E)).Bytes())
	}
	return key
}
