package swrtoken

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

func TestMiddlewareTokenSources(t *testing.T) {
	e := newEnv(t, envOptions{})
	fromHeader := e.issuer.Mint("sess_header")
	fromCookie := e.issuer.Mint("sess_cookie")

	tests := []struct {
		name       string
		request    func() *http.Request
		optional   bool
		wantStatus int
		wantCalled bool
		wantSID    string // "" means no claims
	}{
		{"header wins over cookie", func() *http.Request {
			r := bearerRequest(fromHeader)
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: fromCookie})
			return r
		}, false, http.StatusOK, true, "sess_header"},
		{"header wins over invalid cookie", func() *http.Request {
			r := bearerRequest(fromHeader)
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: "not-a-token"})
			return r
		}, false, http.StatusOK, true, "sess_header"},
		{"cookie alone", func() *http.Request {
			return cookieRequest(fromCookie)
		}, false, http.StatusOK, true, "sess_cookie"},
		{"lowercase bearer scheme", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "bearer "+fromHeader)
			return r
		}, false, http.StatusOK, true, "sess_header"},
		{"basic header falls back to cookie", func() *http.Request {
			r := cookieRequest(fromCookie)
			r.SetBasicAuth("user", "password")
			return r
		}, false, http.StatusOK, true, "sess_cookie"},
		{"both missing", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/", nil)
		}, false, http.StatusUnauthorized, false, ""},
		{"both missing, optional", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/", nil)
		}, true, http.StatusOK, true, ""},
		{"invalid cookie, optional", func() *http.Request {
			return cookieRequest("not-a-token")
		}, true, http.StatusOK, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res result
			h := e.mw.RequireAuth(recordingHandler(&res))
			if tt.optional {
				h = e.mw.Optional(recordingHandler(&res))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.request())

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if res.called != tt.wantCalled {
				t.Errorf("handler called = %v, want %v", res.called, tt.wantCalled)
			}
			gotSID := ""
			if res.claims != nil {
				gotSID = res.claims.SessionID
			}
			if gotSID != tt.wantSID {
				t.Errorf("sid in context = %q, want %q", gotSID, tt.wantSID)
			}
			if tt.wantSID == "" && res.token != "" {
				t.Errorf("TokenFromContext = %s, want none", Fingerprint(res.token))
			}
		})
	}
}

func TestMiddlewareMissingTokenChallenge(t *testing.T) {
	e := newEnv(t, envOptions{})
	rec := httptest.NewRecorder()
	e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))

	if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want %q", got, "Bearer")
	}
}

func TestMiddlewareClockSkew(t *testing.T) {
	tests := []struct {
		name       string
		ahead      time.Duration
		wantStatus int
	}{
		{"issuer 20s ahead", 20 * time.Second, http.StatusOK},
		{"issuer 120s ahead", 120 * time.Second, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{
				renewal: true,
				mw:      MiddlewareOptions{Leeway: 30 * time.Second, RenewExpiredWithin: time.Minute},
			})
			// iat = nbf = now + ahead, exp = now + ahead + 60s.
			token := e.issuer.MintWith(swrtokentest.MintOptions{
				SessionID: "sess_skew",
				IssuedAt:  time.Now().Add(tt.ahead),
			})
			for range 3 {
				rec := httptest.NewRecorder()
				e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, cookieRequest(token))
				if rec.Code != tt.wantStatus {
					t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
				}
			}
			if n := e.issuer.TokenRequests(); n > 1 {
				t.Errorf("token requests = %d, want at most 1", n)
			}
		})
	}
}

// confusedTokens returns tokens with kid k1 for the RSA key of issuer
// that a verifier must reject: HS256 with the public key as the HMAC
// secret, alg none, and RS384 signed with the right private key.
func confusedTokens(t *testing.T, issuer *swrtokentest.Issuer) map[string]string {
	t.Helper()
	kid, signer := issuer.SigningKey()
	pub := issuer.PublicKey(kid).(*rsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	claims := jwt.MapClaims{
		"sid": "sess_confused",
		"iat": time.Now().Unix(),
		"exp": time.Now().Add(time.Minute).Unix(),
		"iss": swrtokentest.UnstartedURL,
		"azp": swrtokentest.DefaultAuthorizedParty,
	}
	sign := func(method jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(method, claims)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatalf("sign %s: %v", method.Alg(), err)
		}
		return s
	}
	return map[string]string{
		"HS256 with the DER public key": sign(jwt.SigningMethodHS256, der),
		"HS256 with the PEM public key": sign(jwt.SigningMethodHS256, pemBytes),
		"none":                          sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		"RS384":                         sign(jwt.SigningMethodRS384, signer.(*rsa.PrivateKey)),
	}
}

func TestMiddlewareAlgorithmConfusion(t *testing.T) {
	for _, omitAlg := range []bool{false, true} {
		e := newEnv(t, envOptions{
			issuer:  swrtokentest.Options{Algorithm: "RS256", OmitJWKAlg: omitAlg},
			renewal: true,
			mw:      MiddlewareOptions{RenewalWindow: time.Hour},
		})
		tokens := confusedTokens(t, e.issuer)
		tokens["RS256 control"] = e.issuer.Mint("sess_control")
		for name, token := range tokens {
			t.Run(name+" omitAlg="+map[bool]string{false: "no", true: "yes"}[omitAlg], func(t *testing.T) {
				rec := httptest.NewRecorder()
				e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, cookieRequest(token))
				resp := rec.Result()

				wantStatus := http.StatusUnauthorized
				if name == "RS256 control" {
					wantStatus = http.StatusOK
				}
				if resp.StatusCode != wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, wantStatus)
				}
				if wantStatus == http.StatusUnauthorized && len(sessionCookies(resp)) != 0 {
					t.Errorf("rejected token got a session cookie")
				}
			})
		}
		// Only the control token may have caused a renewal.
		if n := e.issuer.TokenRequests(); n > 1 {
			t.Errorf("token requests = %d, want at most 1, for the control token", n)
		}
	}
}

func TestMiddlewareRejections(t *testing.T) {
	const issuerName = "https://issuer.test"
	e := newEnv(t, envOptions{
		issuer:  swrtokentest.Options{Issuer: issuerName, Audience: []string{"api"}},
		renewal: true,
		mw: MiddlewareOptions{
			Issuer:            issuerName,
			Audience:          []string{"api"},
			AuthorizedParties: []string{swrtokentest.DefaultAuthorizedParty},
			RenewalWindow:     time.Hour,
		},
	})
	now := time.Now()
	mint := func(c swrtokentest.MintOptions) string {
		c.SessionID = "sess_reject"
		return e.issuer.MintWith(c)
	}
	good := mint(swrtokentest.MintOptions{})
	other := mint(swrtokentest.MintOptions{Subject: "user_other"})
	goodParts := strings.Split(good, ".")
	otherParts := strings.Split(other, ".")

	tests := []struct {
		name     string
		request  *http.Request
		wantDesc string
	}{
		{"wrong issuer", cookieRequest(mint(swrtokentest.MintOptions{Issuer: "https://evil.test"})),
			"issuer is not accepted"},
		{"wrong audience", cookieRequest(mint(swrtokentest.MintOptions{Audience: []string{"other"}})),
			"audience is not accepted"},
		{"azp not allowed", cookieRequest(mint(swrtokentest.MintOptions{AuthorizedParty: "https://evil.test"})),
			"authorized party is not accepted"},
		{"nbf beyond leeway", cookieRequest(mint(swrtokentest.MintOptions{NotBefore: now.Add(time.Minute)})),
			"not valid yet"},
		{"iat beyond leeway", cookieRequest(mint(swrtokentest.MintOptions{
			IssuedAt: now.Add(time.Minute), NotBefore: now})),
			"not valid yet"},
		{"expired", cookieRequest(mint(swrtokentest.MintOptions{IssuedAt: now.Add(-2 * time.Minute)})),
			"expired"},
		{"no exp", cookieRequest(mint(swrtokentest.MintOptions{Extra: map[string]any{"exp": nil}})),
			"lacks a required claim"},
		{"bad signature", cookieRequest(goodParts[0] + "." + goodParts[1] + "." + otherParts[2]),
			"signature"},
		{"malformed base64", cookieRequest("eyJ!!!." + goodParts[1] + "." + goodParts[2]),
			"malformed"},
		{"two segments", cookieRequest(goodParts[0] + "." + goodParts[1]),
			"malformed"},
		{"8 KiB token", cookieRequest(strings.Repeat("a", 8<<10)),
			"too long"},
		{"two session cookies", func() *http.Request {
			r := cookieRequest(good)
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: good})
			return r
		}(), "more than one token"},
		{"two bearer headers", func() *http.Request {
			r := bearerRequest(good)
			r.Header.Add("Authorization", "Bearer "+good)
			return r
		}(), "more than one token"},
		{"empty bearer token", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer ")
			return r
		}(), "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res result
			rec := httptest.NewRecorder()
			e.mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, tt.request)
			resp := rec.Result()

			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if res.called {
				t.Error("handler called, want it not called")
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, `Bearer error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate = %q, want a Bearer invalid_token challenge", challenge)
			}
			if !strings.Contains(challenge, tt.wantDesc) {
				t.Errorf("WWW-Authenticate = %q, want a description containing %q", challenge, tt.wantDesc)
			}
			if len(sessionCookies(resp)) != 0 {
				t.Error("rejected request got a session cookie")
			}
			body := rec.Body.String()
			for _, c := range tt.request.Cookies() {
				checkNoSecrets(t, "response", challenge+body, c.Value)
				checkNoSecrets(t, "log", e.logs.String(), c.Value)
			}
			checkNoSecrets(t, "response", challenge+body, good)
		})
	}
	if n := e.issuer.TokenRequests(); n != 0 {
		t.Errorf("token requests = %d, want 0: rejected tokens must not be renewed", n)
	}
	checkNoSecrets(t, "log", e.logs.String(), good, other)
}

func TestMiddlewareOptionalThenRequireAuth(t *testing.T) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	defer issuer.Close()
	verifications := 0
	mw, err := NewMiddleware(MiddlewareOptions{
		Keyfunc: func(t *jwt.Token) (any, error) {
			verifications++
			kid, _ := t.Header["kid"].(string)
			return issuer.PublicKey(kid), nil
		},
		VerifiedCacheSize: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	h := mw.Optional(mw.RequireAuth(recordingHandler(new(result))))

	tests := []struct {
		name          string
		request       *http.Request
		wantStatus    int
		wantChallenge string
	}{
		{"valid", cookieRequest(issuer.Mint("sess_1")), http.StatusOK, ""},
		{"missing", httptest.NewRequest(http.MethodGet, "/", nil), http.StatusUnauthorized, "Bearer"},
		{"invalid", cookieRequest("a.b.c"), http.StatusUnauthorized, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifications = 0
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.request)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got, tt.wantChallenge)
			}
			if tt.name == "valid" && verifications != 1 {
				t.Errorf("signature verifications = %d, want 1", verifications)
			}
		})
	}
}

func TestMiddlewareVerifiedCache(t *testing.T) {
	tests := []struct {
		name      string
		cacheSize int
		want      int
	}{
		{"cache on", 0, 1},
		{"cache off", -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
			defer issuer.Close()
			verifications := 0
			mw, err := NewMiddleware(MiddlewareOptions{
				Keyfunc: func(t *jwt.Token) (any, error) {
					verifications++
					return issuer.PublicKey("k1"), nil
				},
				VerifiedCacheSize: tt.cacheSize,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer mw.Close()
			token := issuer.Mint("sess_cached")
			for range 3 {
				rec := httptest.NewRecorder()
				mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, bearerRequest(token))
				if rec.Code != http.StatusOK {
					t.Fatalf("status = %d, want 200", rec.Code)
				}
			}
			if verifications != tt.want {
				t.Errorf("signature verifications = %d, want %d", verifications, tt.want)
			}
		})
	}
}

func TestMiddlewareHMAC(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	mw, err := NewMiddleware(MiddlewareOptions{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	sign := func(method jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(method, jwt.MapClaims{
			"sid": "sess_hmac",
			"exp": time.Now().Add(time.Minute).Unix(),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"HS256 with the secret", sign(jwt.SigningMethodHS256, secret), http.StatusOK},
		{"HS256 with another secret", sign(jwt.SigningMethodHS256, []byte("another secret")), http.StatusUnauthorized},
		{"HS384 not allowed", sign(jwt.SigningMethodHS384, secret), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, bearerRequest(tt.token))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
		})
	}
}

func TestMiddlewareStaticJWKS(t *testing.T) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	defer issuer.Close()
	mw, err := NewMiddleware(MiddlewareOptions{JWKS: jwksOf(issuer)})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()

	var res result
	rec := httptest.NewRecorder()
	mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, bearerRequest(issuer.Mint("sess_static")))
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", rec.Code)
	}
	if res.claims == nil || res.claims.SessionID != "sess_static" {
		t.Errorf("claims = %+v, want sid sess_static", res.claims)
	}
}

func TestNewMiddlewareRejectsOptions(t *testing.T) {
	tests := []struct {
		name string
		opts MiddlewareOptions
	}{
		{"zero value", MiddlewareOptions{}},
		{"two key sources", MiddlewareOptions{JWKSURL: "http://127.0.0.1:1/jwks", JWKS: []byte(`{"keys":[]}`)}},
		{"alg none", MiddlewareOptions{JWKS: []byte(`{"keys":[]}`), Algorithms: []string{"none"}}},
		{"HMAC without secret", MiddlewareOptions{JWKS: []byte(`{"keys":[]}`), Algorithms: []string{"HS256"}}},
		{"unknown algorithm", MiddlewareOptions{JWKS: []byte(`{"keys":[]}`), Algorithms: []string{"XX999"}}},
		{"empty algorithm list", MiddlewareOptions{JWKS: []byte(`{"keys":[]}`), Algorithms: []string{}}},
		{"bad cookie name", MiddlewareOptions{JWKS: []byte(`{"keys":[]}`), CookieName: "a b"}},
		{"bad JWKS", MiddlewareOptions{JWKS: []byte(`{"keys":`)}},
		{"bad JWKS URL", MiddlewareOptions{JWKSURL: "::"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := NewMiddleware(tt.opts)
			if err == nil {
				mw.Close()
				t.Fatal("NewMiddleware error = nil, want an error")
			}
			if !strings.HasPrefix(err.Error(), "swrtoken: ") {
				t.Errorf("error = %q, want the prefix %q", err, "swrtoken: ")
			}
		})
	}
}

func TestDefaultErrorHandlerDescriptions(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no token", ErrNoToken, "Bearer"},
		{"expired", invalidToken("x", jwt.ErrTokenExpired),
			`Bearer error="invalid_token", error_description="the token expired"`},
		{"renewal failed", invalidToken("x", errors.Join(errRenewalFailed, jwt.ErrTokenExpired)),
			`Bearer error="invalid_token", error_description="the token expired and could not be renewed"`},
		{"unknown cause", invalidToken("x", errors.New("other")),
			`Bearer error="invalid_token", error_description="the token is invalid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			DefaultErrorHandler(rec, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescriptionsAreQuotable(t *testing.T) {
	for _, d := range descriptions {
		for _, c := range d.text {
			// RFC 6750, section 3: %x20-21 / %x23-5B / %x5D-7E.
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Errorf("description %q contains %q, which error_description does not allow", d.text, c)
			}
		}
	}
}
