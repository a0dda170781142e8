package swrtokentest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMintClaims(t *testing.T) {
	clock := newFakeClock()
	iss := newTestIssuer(t, clock, Options{})

	claims, header := verify(t, iss, iss.Mint("sess_abc"))

	now := clock.Now().Unix()
	if got := unixClaim(t, claims, "iat"); got != now {
		t.Errorf("iat = %d, want %d", got, now)
	}
	if got := unixClaim(t, claims, "nbf"); got != now {
		t.Errorf("nbf = %d, want %d", got, now)
	}
	if got := unixClaim(t, claims, "exp"); got != now+60 {
		t.Errorf("exp = %d, want %d", got, now+60)
	}
	wantStrings := map[string]string{
		"sid": "sess_abc",
		"sub": "user_abc",
		"iss": UnstartedURL,
		"azp": "http://localhost:3000",
		"jti": "jwt_1",
	}
	for name, want := range wantStrings {
		if got := claims[name]; got != want {
			t.Errorf("claim %s = %#v, want %q", name, got, want)
		}
	}
	if aud, ok := claims["aud"]; ok {
		t.Errorf("aud = %#v, want no aud claim", aud)
	}
	if got := header["kid"]; got != "k1" {
		t.Errorf("kid header = %#v, want k1", got)
	}
	if got := header["alg"]; got != "ES256" {
		t.Errorf("alg header = %#v, want ES256", got)
	}
}

func TestMintWithOverrides(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	at := func(d time.Duration) time.Time { return now.Add(d) }
	unix := func(d time.Duration) float64 { return float64(now.Add(d).Unix()) }
	tests := []struct {
		name  string
		opts  MintOptions
		claim string
		want  any // nil means the claim is absent
	}{
		{"subject", MintOptions{SessionID: "s", Subject: "user_x"}, "sub", "user_x"},
		{"no session", MintOptions{}, "sid", nil},
		{"no session no subject", MintOptions{}, "sub", nil},
		{"issuer", MintOptions{Issuer: "https://other.test"}, "iss", "https://other.test"},
		{"azp", MintOptions{AuthorizedParty: "https://app.test"}, "azp", "https://app.test"},
		{"one audience", MintOptions{Audience: []string{"api"}}, "aud", "api"},
		{"two audiences", MintOptions{Audience: []string{"a", "b"}}, "aud", []any{"a", "b"}},
		{"issued at", MintOptions{IssuedAt: at(-time.Hour)}, "iat", unix(-time.Hour)},
		{"not before follows iat", MintOptions{IssuedAt: at(time.Minute)}, "nbf", unix(time.Minute)},
		{"not before", MintOptions{NotBefore: at(time.Hour)}, "nbf", unix(time.Hour)},
		{"expiry", MintOptions{Expiry: at(-time.Second)}, "exp", unix(-time.Second)},
		{"lifetime", MintOptions{Lifetime: 5 * time.Second}, "exp", unix(5 * time.Second)},
		{"extra claim", MintOptions{Extra: map[string]any{"org": "org_1"}}, "org", "org_1"},
		{"extra overrides", MintOptions{SessionID: "s", Extra: map[string]any{"sid": "t"}}, "sid", "t"},
		{"extra removes exp", MintOptions{Extra: map[string]any{"exp": nil}}, "exp", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newTestIssuer(t, clock, Options{})
			claims, _ := verify(t, iss, iss.MintWith(tt.opts))
			got, ok := claims[tt.claim]
			if tt.want == nil {
				if ok {
					t.Errorf("claim %s = %#v, want absent", tt.claim, got)
				}
				return
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("claim %s = %s, want %s", tt.claim, gotJSON, wantJSON)
			}
		})
	}
}

func TestMintWithOptionsAudience(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{
		Issuer:          "https://issuer.test",
		AuthorizedParty: "https://app.test",
		Audience:        []string{"api"},
	})
	claims, _ := verify(t, iss, iss.Mint("sess_1"))
	for name, want := range map[string]string{
		"iss": "https://issuer.test",
		"azp": "https://app.test",
		"aud": "api",
	} {
		if got := claims[name]; got != want {
			t.Errorf("claim %s = %#v, want %q", name, got, want)
		}
	}
}

func TestMintWithUnknownKeyPanics(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), `"nope"`) {
			t.Errorf("recover() = %v, want a panic naming the key id", r)
		}
	}()
	iss.MintWith(MintOptions{KeyID: "nope"})
}

func TestMintTokensDiffer(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{Algorithm: "RS256"})
	first, second := iss.Mint("sess_1"), iss.Mint("sess_1")
	if first == second {
		t.Error("two tokens minted at the same second are equal, want distinct tokens")
	}
}

func TestTokenEndpoint(t *testing.T) {
	iss := NewIssuer(Options{})
	defer iss.Close()
	iss.RevokeSession("sess_gone")
	const path, gone = "/v1/sessions/sess_1/tokens", "/v1/sessions/sess_gone/tokens"
	bearer := "Bearer " + iss.SecretKey

	tests := []struct {
		name       string
		path       string
		header     string
		wantStatus int
		wantCode   string // for errors
		wantTpl    any    // for success: the tpl claim, nil when absent
	}{
		{"token", path, bearer, 200, "", nil},
		{"template", path + "/api", bearer, 200, "", "api"},
		{"scheme case", path, "bearer " + iss.SecretKey, 200, "", nil},
		{"no header", path, "", 401, "authentication_invalid", nil},
		{"wrong secret", path, "Bearer sk_test_wrong", 401, "authentication_invalid", nil},
		{"basic scheme", path, "Basic " + iss.SecretKey, 401, "authentication_invalid", nil},
		{"revoked", gone, bearer, 404, "resource_not_found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, iss.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := iss.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}

			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if tt.wantCode != "" {
				if got := errorCode(t, body); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
				return
			}
			var tok tokenResponse
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if tok.Object != "token" {
				t.Errorf("object = %q, want token", tok.Object)
			}
			claims, _ := verify(t, iss, tok.JWT)
			if got := claims["sid"]; got != "sess_1" {
				t.Errorf("sid = %#v, want sess_1", got)
			}
			if got := claims["iss"]; got != iss.URL {
				t.Errorf("iss = %#v, want %q", got, iss.URL)
			}
			if got := claims["tpl"]; got != tt.wantTpl {
				t.Errorf("tpl = %#v, want %#v", got, tt.wantTpl)
			}
		})
	}
}

func TestTokenEndpointEscapedSessionID(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	token := fetchToken(t, iss, "sess%2Fa%20b")
	claims, _ := verify(t, iss, token)
	if got := claims["sid"]; got != "sess/a b" {
		t.Errorf("sid = %#v, want %q", got, "sess/a b")
	}
}

func TestTokenEndpointMethod(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	resp, err := iss.Client().Get(iss.BaseURL() + "/v1/sessions/sess_1/tokens")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET status = %d, want 405", resp.StatusCode)
	}
}

func TestLifetimeAndClockOffset(t *testing.T) {
	tests := []struct {
		name              string
		lifetime, offset  time.Duration
		wantIat, wantLife int64
	}{
		{"default", 0, 0, 0, 60},
		{"lifetime 30s", 30 * time.Second, 0, 0, 30},
		{"lifetime 300s", 300 * time.Second, 0, 0, 300},
		{"issuer ahead", 0, 20 * time.Second, 20, 60},
		{"issuer behind", 0, -90 * time.Second, -90, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			iss := newTestIssuer(t, clock, Options{})
			iss.SetLifetime(tt.lifetime)
			iss.SetClockOffset(tt.offset)

			claims, _ := verify(t, iss, fetchToken(t, iss, "sess_1"))
			iat := unixClaim(t, claims, "iat")
			if want := clock.Now().Unix() + tt.wantIat; iat != want {
				t.Errorf("iat = %d, want %d", iat, want)
			}
			if got := unixClaim(t, claims, "nbf"); got != iat {
				t.Errorf("nbf = %d, want iat %d", got, iat)
			}
			if got := unixClaim(t, claims, "exp") - iat; got != tt.wantLife {
				t.Errorf("exp - iat = %d, want %d", got, tt.wantLife)
			}
		})
	}
}

func TestLifetimeOption(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{Lifetime: 20 * time.Second})
	claims, _ := verify(t, iss, iss.Mint("sess_1"))
	if got := unixClaim(t, claims, "exp") - unixClaim(t, claims, "iat"); got != 20 {
		t.Errorf("exp - iat = %d, want 20", got)
	}
}

func TestSecretKey(t *testing.T) {
	generated := NewUnstartedIssuer(Options{})
	defer generated.Close()
	if !strings.HasPrefix(generated.SecretKey, "sk_test_") || len(generated.SecretKey) < 24 {
		t.Errorf("generated SecretKey has the form %.8s... and length %d, want sk_test_ and at least 24",
			generated.SecretKey, len(generated.SecretKey))
	}
	fixed := NewUnstartedIssuer(Options{SecretKey: "sk_test_fixed"})
	defer fixed.Close()
	if fixed.SecretKey != "sk_test_fixed" {
		t.Errorf("SecretKey = %q, want the one from Options", fixed.SecretKey)
	}
}

func TestCounters(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	fetchToken(t, iss, "sess_1")
	postToken(t, iss, "/v1/sessions/sess_1/tokens", "wrong")
	iss.FailFraction(http.StatusServiceUnavailable, 1)
	postToken(t, iss, "/v1/sessions/sess_1/tokens", iss.SecretKey)
	iss.Mint("sess_1") // not a request
	for range 2 {
		resp, err := iss.Client().Get(iss.JWKSURL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	if got := iss.TokenRequests(); got != 3 {
		t.Errorf("TokenRequests() = %d, want 3", got)
	}
	if got := iss.JWKSRequests(); got != 2 {
		t.Errorf("JWKSRequests() = %d, want 2", got)
	}
}

func TestInProcessClient(t *testing.T) {
	iss := NewUnstartedIssuer(Options{})
	if iss.URL != "" {
		t.Errorf("URL = %q before Start, want empty", iss.URL)
	}
	if got := iss.JWKSURL(); got != UnstartedURL+"/.well-known/jwks.json" {
		t.Errorf("JWKSURL() = %q, want it under UnstartedURL", got)
	}

	body := &closeRecorder{Reader: strings.NewReader("{}")}
	req, _ := http.NewRequest(http.MethodPost, "http://other.test/v1/sessions/s/tokens", body)
	_, err := iss.Client().Do(req)
	if err == nil || !strings.Contains(err.Error(), UnstartedURL) {
		t.Errorf("request to another host: error %v, want one naming %s", err, UnstartedURL)
	}
	if !body.closed {
		t.Error("request body not closed after a rejected request")
	}

	iss.Close()
	_, err = iss.Client().Get(iss.JWKSURL())
	if !errors.Is(err, errIssuerClosed) {
		t.Errorf("request after Close: error %v, want %v", err, errIssuerClosed)
	}
}

func TestStartSetsURL(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := NewUnstartedIssuer(Options{})
	before := iss.Mint("sess_1")
	iss.Start()
	defer iss.Close()

	loopback := strings.HasPrefix(iss.URL, "http://127.0.0.1:") ||
		strings.HasPrefix(iss.URL, "http://[::1]:")
	if !loopback {
		t.Errorf("URL = %q, want a loopback URL", iss.URL)
	}
	if got := iss.BaseURL(); got != iss.URL {
		t.Errorf("BaseURL() = %q, want URL %q", got, iss.URL)
	}
	beforeClaims, _ := verify(t, iss, before)
	if got := beforeClaims["iss"]; got != UnstartedURL {
		t.Errorf("iss of a token minted before Start = %#v, want %q", got, UnstartedURL)
	}
	afterClaims, _ := verify(t, iss, fetchToken(t, iss, "sess_1"))
	if got := afterClaims["iss"]; got != iss.URL {
		t.Errorf("iss after Start = %#v, want %q", got, iss.URL)
	}
}

func TestStartTwicePanics(t *testing.T) {
	iss := NewIssuer(Options{})
	defer iss.Close()
	defer func() {
		if recover() == nil {
			t.Error("second Start did not panic, want a panic")
		}
	}()
	iss.Start()
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := NewIssuer(Options{})
	fetchToken(t, iss, "sess_1")
	resp, err := iss.Client().Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	iss.Close()
	iss.Close() // a second Close does nothing
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}
