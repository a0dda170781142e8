package swrtokentest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

// getJWKS returns the JWKS document the issuer serves.
func getJWKS(t *testing.T, iss *Issuer) []byte {
	t.Helper()
	resp, err := iss.Client().Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET JWKS status = %d, want 200", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// jwksKeys returns the keys of a JWKS document as maps of members.
func jwksKeys(t *testing.T, doc []byte) []map[string]string {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("decode JWKS %s: %v", doc, err)
	}
	return set.Keys
}

// kids returns the kid of each key in a JWKS document.
func kids(t *testing.T, doc []byte) []string {
	t.Helper()
	var ids []string
	for _, k := range jwksKeys(t, doc) {
		ids = append(ids, k["kid"])
	}
	return ids
}

// verifyWithJWKS verifies token with keyfunc on a JWKS document, as a
// server that fetched the document would.
func verifyWithJWKS(doc []byte, token string) error {
	kf, err := keyfunc.NewJWKSetJSON(doc)
	if err != nil {
		return err
	}
	_, err = jwt.Parse(token, kf.Keyfunc,
		jwt.WithValidMethods([]string{"ES256", "RS256"}), jwt.WithoutClaimsValidation())
	return err
}

func TestJWKS(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		wantMember map[string]string // "" means the member must be absent
	}{
		{"ES256", Options{}, map[string]string{
			"kty": "EC", "kid": "k1", "use": "sig", "alg": "ES256", "crv": "P-256", "n": "", "e": ""}},
		{"RS256", Options{Algorithm: "RS256", KeyID: "rsa-1"}, map[string]string{
			"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "e": "AQAB", "crv": "", "x": ""}},
		{"ES256 without alg", Options{OmitJWKAlg: true}, map[string]string{"kty": "EC", "alg": ""}},
		{"RS256 without alg", Options{Algorithm: "RS256", OmitJWKAlg: true},
			map[string]string{"kty": "RSA", "alg": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newTestIssuer(t, newFakeClock(), tt.opts)
			doc := getJWKS(t, iss)
			keys := jwksKeys(t, doc)
			if len(keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1: %s", len(keys), doc)
			}
			for name, want := range tt.wantMember {
				got, ok := keys[0][name]
				if want == "" && ok {
					t.Errorf("member %s = %q, want absent", name, got)
				}
				if want != "" && got != want {
					t.Errorf("member %s = %q, want %q", name, got, want)
				}
			}
			if strings.Contains(string(doc), "=") {
				t.Errorf("JWKS %s contains base64 padding, want unpadded base64url", doc)
			}
			if err := verifyWithJWKS(doc, iss.Mint("sess_1")); err != nil {
				t.Errorf("keyfunc verification: %v", err)
			}
		})
	}
}

func TestJWKSPublicKeyParameters(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			iss := newTestIssuer(t, newFakeClock(), Options{Algorithm: alg})
			key := jwksKeys(t, getJWKS(t, iss))[0]
			b64 := base64.RawURLEncoding.DecodeString
			switch pub := iss.PublicKey("k1").(type) {
			case *ecdsa.PublicKey:
				x, _ := b64(key["x"])
				y, _ := b64(key["y"])
				point, _ := pub.Bytes()
				if want := point[1:]; string(append(x, y...)) != string(want) {
					t.Errorf("x || y = %x, want %x", append(x, y...), want)
				}
				if len(x) != 32 || len(y) != 32 {
					t.Errorf("len(x), len(y) = %d, %d, want 32, 32", len(x), len(y))
				}
			case *rsa.PublicKey:
				n, _ := b64(key["n"])
				if string(n) != string(pub.N.Bytes()) {
					t.Error("n does not match the public key's modulus")
				}
				if pub.N.BitLen() != 2048 {
					t.Errorf("modulus has %d bits, want 2048", pub.N.BitLen())
				}
			default:
				t.Fatalf("PublicKey(k1) is %T, want an ECDSA or RSA key", pub)
			}
		})
	}
}

func TestUnsupportedAlgorithmPanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), `"HS256"`) {
			t.Errorf("recover() = %v, want a panic naming the algorithm", r)
		}
	}()
	NewUnstartedIssuer(Options{Algorithm: "HS256"})
}

func TestRotateAndRemoveKey(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			iss := newTestIssuer(t, newFakeClock(), Options{Algorithm: alg})
			oldToken := iss.Mint("sess_1")

			if got := iss.RotateKey(); got != "k2" {
				t.Errorf("RotateKey() = %q, want k2", got)
			}
			doc := getJWKS(t, iss)
			if got := kids(t, doc); !slices.Equal(got, []string{"k1", "k2"}) {
				t.Errorf("kids after rotation = %v, want [k1 k2]", got)
			}
			newToken := fetchToken(t, iss, "sess_1")
			if _, header := verify(t, iss, newToken); header["kid"] != "k2" {
				t.Errorf("kid of a new token = %v, want k2", header["kid"])
			}
			if kid, _ := iss.SigningKey(); kid != "k2" {
				t.Errorf("SigningKey() kid = %q, want k2", kid)
			}
			if err := verifyWithJWKS(doc, oldToken); err != nil {
				t.Errorf("token of the previous key before RemoveKey: %v, want valid", err)
			}

			iss.RemoveKey("k1")
			doc = getJWKS(t, iss)
			if got := kids(t, doc); !slices.Equal(got, []string{"k2"}) {
				t.Errorf("kids after RemoveKey(k1) = %v, want [k2]", got)
			}
			if iss.PublicKey("k1") != nil {
				t.Error("PublicKey(k1) after RemoveKey is not nil")
			}
			if err := verifyWithJWKS(doc, oldToken); err == nil {
				t.Error("token of a removed key verified, want an error")
			}
			if err := verifyWithJWKS(doc, newToken); err != nil {
				t.Errorf("token of the current key: %v, want valid", err)
			}
			removed := iss.MintWith(MintOptions{SessionID: "sess_1", KeyID: "k1"})
			if err := verifyWithJWKS(doc, removed); err == nil {
				t.Error("token minted with a removed key verified, want an error")
			}
		})
	}
}

func TestRemoveCurrentKey(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	iss.RotateKey()
	iss.RemoveKey("k2")
	if kid, _ := iss.SigningKey(); kid != "k1" {
		t.Errorf("SigningKey() kid after removing the current key = %q, want k1", kid)
	}

	iss.RemoveKey("k1")
	kid, _ := iss.SigningKey()
	if kid != "k3" {
		t.Errorf("SigningKey() kid after removing every key = %q, want a new key k3", kid)
	}
	if got := kids(t, getJWKS(t, iss)); !slices.Equal(got, []string{"k3"}) {
		t.Errorf("kids = %v, want [k3]", got)
	}
	iss.RemoveKey("unknown") // ignored
	if _, header := verify(t, iss, iss.Mint("sess_1")); header["kid"] != "k3" {
		t.Errorf("kid of a new token = %v, want k3", header["kid"])
	}
}

func TestRotateKeySkipsTakenID(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{KeyID: "k2"})
	if got := iss.RotateKey(); got != "k3" {
		t.Errorf("RotateKey() = %q, want k3 because k2 is taken", got)
	}
}

// TestKeyfuncRemoteJWKS verifies tokens with keyfunc loading the JWKS over
// HTTP, including the refresh keyfunc makes for an unknown kid.
func TestKeyfuncRemoteJWKS(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := NewIssuer(Options{})
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	// keyfunc's default storage uses http.DefaultClient, so its idle
	// connections must be closed for goleak.
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	defer cancel()

	kf, err := keyfunc.NewDefaultCtx(ctx, []string{iss.JWKSURL()})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(token string) error {
		_, err := jwt.Parse(token, kf.Keyfunc, jwt.WithValidMethods([]string{"ES256"}))
		return err
	}

	if err := parse(fetchToken(t, iss, "sess_1")); err != nil {
		t.Errorf("token of the first key: %v, want valid", err)
	}
	iss.RotateKey()
	if err := parse(fetchToken(t, iss, "sess_1")); err != nil {
		t.Errorf("token of a rotated key: %v, want valid after the JWKS refresh", err)
	}
	if got := iss.JWKSRequests(); got != 2 {
		t.Errorf("JWKSRequests() = %d, want 2: the first load and one refresh", got)
	}
	parts := strings.Split(iss.Mint("sess_1"), ".")
	parts[2] = base64.RawURLEncoding.EncodeToString([]byte("bad signature"))
	err = parse(strings.Join(parts, "."))
	if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("token with a bad signature: error %v, want %v", err, jwt.ErrTokenSignatureInvalid)
	}
}
