package swrtoken

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// These tests attack the middleware with hostile tokens, headers and
// renewal results.

// signWithHeader returns a token with the issuer's usual claims for sid,
// signed with its current key, with extra header parameters.
func signWithHeader(t *testing.T, issuer *swrtokentest.Issuer, sid string, header map[string]any) string {
	t.Helper()
	kid, signer := issuer.SigningKey()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"sid": sid,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Minute).Unix(),
		"iss": swrtokentest.UnstartedURL,
		"azp": swrtokentest.DefaultAuthorizedParty,
	})
	tok.Header["kid"] = kid
	for name, value := range header {
		tok.Header[name] = value
	}
	s, err := tok.SignedString(signer)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// RFC 7515, section 4.1.11: a recipient that does not understand an
// extension listed in "crit" must reject the JWS. The middleware
// understands none, so any crit header must give 401.
func TestAttackCritHeaderRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name   string
		header map[string]any
	}{
		{"unknown extension", map[string]any{
			"crit": []string{"urn:example:bound-to-device"}, "urn:example:bound-to-device": "d1"}},
		{"b64 false", map[string]any{"crit": []string{"b64"}, "b64": false}},
		{"empty list", map[string]any{"crit": []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signWithHeader(t, e.issuer, "sess_crit", tt.header)
			if got := statusOf(e.mw, token); got != http.StatusUnauthorized {
				t.Errorf("status = %d, want %d", got, http.StatusUnauthorized)
			}
		})
	}
}

// The control for TestAttackCritHeaderRejected: the same token without
// crit is accepted, so the test fails only because of crit.
func TestAttackSignWithHeaderControl(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := signWithHeader(t, e.issuer, "sess_control", nil)
	if got := statusOf(e.mw, token); got != http.StatusOK {
		t.Errorf("status = %d, want %d", got, http.StatusOK)
	}
}

// A renewal cache whose Fetcher returns a token that does not verify, or
// that belongs to another session, must never put that token into the
// session cookie. The expired-token path checks both, and the background
// renewal path must check them too.
func TestAttackRenewalCookieVerified(t *testing.T) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	t.Cleanup(issuer.Close)
	stranger := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	t.Cleanup(stranger.Close)

	tests := []struct {
		name       string
		renewed    func() string // what the renewal Fetcher returns
		wantCookie bool
	}{
		{"newer token of the same session", func() string { return issuer.Mint("sess_victim") }, true},
		{"token of another session", func() string { return issuer.Mint("sess_other") }, false},
		{"token signed by a key outside the JWKS", func() string { return stranger.Mint("sess_victim") }, false},
		{"token with a foreign azp", func() string {
			return issuer.MintWith(swrtokentest.MintOptions{
				SessionID: "sess_victim", AuthorizedParty: "https://evil.example"})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			renewed := tt.renewed()
			cache := newTestCache(t, FetcherFunc(func(context.Context, string) (Token, error) {
				return Token{Value: renewed}, nil
			}), Options{})
			mw, err := NewMiddleware(MiddlewareOptions{
				JWKS:              jwksOf(issuer),
				AuthorizedParties: []string{swrtokentest.DefaultAuthorizedParty},
				RenewalCache:      cache,
			})
			if err != nil {
				t.Fatalf("NewMiddleware: %v", err)
			}
			t.Cleanup(func() { mw.Close() })
			// The cache already holds the renewal result, as it does after
			// a background refresh started by an earlier request.
			if _, err := cache.Token(context.Background(), "sess_victim"); err != nil {
				t.Fatalf("fill the renewal cache: %v", err)
			}

			stale := issuer.MintWith(swrtokentest.MintOptions{
				SessionID: "sess_victim", IssuedAt: time.Now().Add(-50 * time.Second)})
			var res result
			rec := httptest.NewRecorder()
			mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, cookieRequest(stale))
			resp := rec.Result()

			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want %d", resp.StatusCode, http.StatusOK)
			}
			cookies := sessionCookies(resp)
			gotCookie := len(cookies) == 1 && cookies[0].Value == renewed
			if gotCookie != tt.wantCookie {
				t.Errorf("cookie with the renewed token %s = %v, want %v",
					Fingerprint(renewed), gotCookie, tt.wantCookie)
			}
		})
	}
}

// hostileTokens returns tokens that must all be rejected, built to show
// up in an error text if one repeated its input.
func hostileTokens(t *testing.T, issuer *swrtokentest.Issuer) map[string]string {
	t.Helper()
	valid := issuer.Mint("sess_hostile")
	parts := strings.Split(valid, ".")
	return map[string]string{
		"bad signature":            parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"unknown kid":              forgedToken(t, issuer, "kid-"+strings.Repeat("x", 200)),
		"non-ASCII payload":        parts[0] + ".ÿÿÿÿ" + parts[1] + "." + parts[2],
		"duplicate alg, none last": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwiYWxnIjoibm9uZSJ9." + parts[1] + ".",
		"JWE compact":              parts[0] + "." + parts[1] + "." + parts[2] + ".AAAA.BBBB",
		"expired": issuer.MintWith(swrtokentest.MintOptions{
			SessionID: "sess_hostile", IssuedAt: time.Now().Add(-time.Hour)}),
		"wrong issuer": issuer.MintWith(swrtokentest.MintOptions{
			SessionID: "sess_hostile", Issuer: "https://evil.example/" + strings.Repeat("i", 100)}),
		"exp a word": signWithClaims(t, issuer, jwt.MapClaims{
			"sid": "sess_hostile", "iss": swrtokentest.UnstartedURL, "exp": "soon"}),
		"exp far past the year 9999": signWithClaims(t, issuer, jwt.MapClaims{
			"sid": "sess_hostile", "iss": swrtokentest.UnstartedURL, "exp": 1e300}),
		"nbf far in the future": signWithClaims(t, issuer, jwt.MapClaims{
			"sid": "sess_hostile", "iss": swrtokentest.UnstartedURL,
			"exp": time.Now().Add(time.Minute).Unix(), "nbf": time.Now().Add(time.Hour).Unix()}),
	}
}

// signWithClaims returns a token with exactly claims, signed with the
// issuer's current key.
func signWithClaims(t *testing.T, issuer *swrtokentest.Issuer, claims jwt.MapClaims) string {
	t.Helper()
	kid, signer := issuer.SigningKey()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(signer)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// No rejected token, nor any of its three parts, may appear in the
// response or in the debug log, whatever its fault.
func TestAttackRejectionsLeakNoToken(t *testing.T) {
	e := newEnv(t, envOptions{
		renewal: true,
		mw: MiddlewareOptions{
			Issuer:             swrtokentest.UnstartedURL,
			RenewExpiredWithin: time.Minute,
		},
	})
	for name, token := range hostileTokens(t, e.issuer) {
		for _, source := range []string{"bearer", "cookie"} {
			t.Run(name+" in "+source, func(t *testing.T) {
				r := bearerRequest(token)
				if source == "cookie" {
					r = httptest.NewRequest(http.MethodGet, "/", nil)
					r.Header.Set("Cookie", DefaultCookieName+"="+token)
				}
				var res result
				rec := httptest.NewRecorder()
				e.mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, r)
				resp := rec.Result()

				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusUnauthorized)
				}
				if n := len(sessionCookies(resp)); n != 0 {
					t.Errorf("session cookies = %d, want 0", n)
				}
				out := rec.Body.String() + resp.Header.Get("WWW-Authenticate") + e.logs.String()
				checkNoSecrets(t, "response or log", out, token)
				for i, part := range strings.Split(token, ".") {
					if len(part) >= 24 && strings.Contains(out, part) {
						t.Errorf("response or log repeats part %d (%d bytes) of the token", i, len(part))
					}
				}
			})
		}
	}
}

// Authorization header forms: which are read and which are rejected. A
// bad bearer header never falls back to the cookie.
func TestAttackAuthorizationHeaderForms(t *testing.T) {
	e := newEnv(t, envOptions{})
	valid := e.issuer.Mint("sess_forms")
	other := e.issuer.Mint("sess_forms_other")
	tests := []struct {
		name    string
		headers []string
		cookie  string
		want    int
	}{
		{"lower-case scheme", []string{"bearer " + valid}, "", http.StatusOK},
		{"upper-case scheme", []string{"BEARER " + valid}, "", http.StatusOK},
		{"two spaces and trailing space", []string{"Bearer  " + valid + " "}, "", http.StatusOK},
		{"two bearer headers", []string{"Bearer " + valid, "Bearer " + other}, "", http.StatusUnauthorized},
		{"same token twice", []string{"Bearer " + valid, "Bearer " + valid}, "", http.StatusUnauthorized},
		{"basic and bearer", []string{"Basic dXNlcjpwYXNz", "Bearer " + valid}, "", http.StatusOK},
		{"empty bearer with a valid cookie", []string{"Bearer"}, valid, http.StatusUnauthorized},
		{"bad bearer with a valid cookie", []string{"Bearer x.y.z"}, valid, http.StatusUnauthorized},
		{"token with an inner space", []string{"Bearer " + valid[:10] + " " + valid[10:]}, "", http.StatusUnauthorized},
		{"quoted cookie", nil, `"` + valid + `"`, http.StatusOK},
		{"cookie with a trailing dot", nil, valid + ".", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = tt.headers
			if tt.cookie != "" {
				r.Header.Set("Cookie", DefaultCookieName+"="+tt.cookie)
			}
			rec := httptest.NewRecorder()
			e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

// A token that failed verification is never stored, so it fails again.
// A token verified by one middleware is not trusted by another whose
// options reject it.
func TestAttackVerifiedCacheNeverServesRejected(t *testing.T) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{Audience: []string{"api-a"}})
	t.Cleanup(issuer.Close)
	jwks := jwksOf(issuer)
	newMW := func(audience string) *Middleware {
		mw, err := NewMiddleware(MiddlewareOptions{JWKS: jwks, Audience: []string{audience}})
		if err != nil {
			t.Fatalf("NewMiddleware: %v", err)
		}
		t.Cleanup(func() { mw.Close() })
		return mw
	}
	mwA, mwB := newMW("api-a"), newMW("api-b")

	token := issuer.Mint("sess_cache")
	if got := statusOf(mwA, token); got != http.StatusOK {
		t.Fatalf("audience api-a: status %d, want 200", got)
	}
	for i := range 2 {
		if got := statusOf(mwB, token); got != http.StatusUnauthorized {
			t.Errorf("audience api-b, request %d: status %d, want 401", i+1, got)
		}
	}
	if n := mwB.verifier.cache.len(); n != 0 {
		t.Errorf("entries in the cache of api-b = %d, want 0", n)
	}

	// A token whose signature breaks after it was cached is another
	// token: its hash differs, so it is verified in full.
	tampered := token[:len(token)-2] + "AA"
	if tampered == token {
		tampered = token[:len(token)-2] + "BB"
	}
	if got := statusOf(mwA, tampered); got != http.StatusUnauthorized {
		t.Errorf("tampered signature after a cached success: status %d, want 401", got)
	}
}

// A flood of distinct valid tokens keeps the verified cache within its
// bound.
func TestAttackVerifiedCacheFloodBounded(t *testing.T) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	t.Cleanup(issuer.Close)
	const size = 32
	mw, err := NewMiddleware(MiddlewareOptions{JWKS: jwksOf(issuer), VerifiedCacheSize: size})
	if err != nil {
		t.Fatalf("NewMiddleware: %v", err)
	}
	t.Cleanup(func() { mw.Close() })

	for i := range 300 {
		if got := statusOf(mw, issuer.Mint("sess_flood")); got != http.StatusOK {
			t.Fatalf("token %d: status %d, want 200", i, got)
		}
		if n := mw.verifier.cache.len(); n > size {
			t.Fatalf("after token %d: cache entries = %d, want at most %d", i, n, size)
		}
	}
}

// The debug log of the renewal path names tokens only by fingerprint.
func TestAttackRenewalLogsOmitTokens(t *testing.T) {
	e := newEnv(t, envOptions{renewal: true})
	stale := e.mintAged("sess_log", 50*time.Second)
	fresh := e.issuer.Mint("sess_log")
	if _, err := e.cache.Token(context.Background(), "sess_log"); err != nil {
		t.Fatalf("fill the renewal cache: %v", err)
	}
	renewed, _ := e.cache.Lookup("sess_log")

	rec := httptest.NewRecorder()
	e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, cookieRequest(stale))
	if n := len(sessionCookies(rec.Result())); n != 1 {
		t.Fatalf("session cookies = %d, want 1", n)
	}
	logs := e.logs.String()
	checkNoSecrets(t, "log", logs, stale, fresh, renewed.Token.Value, e.issuer.SecretKey)
	if !strings.Contains(logs, Fingerprint(renewed.Token.Value)) {
		t.Errorf("log lacks the fingerprint %s of the renewed token", Fingerprint(renewed.Token.Value))
	}
}

// Many requests that carry the same expired cookie, which may be
// renewed, share one issuer call, and each gets the new token in one
// cookie.
func TestAttackRenewExpiredStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, envOptions{renewal: true, mw: MiddlewareOptions{RenewExpiredWithin: time.Minute}})
		e.issuer.SetLatency(300 * time.Millisecond)
		expired := e.mintAged("sess_storm", 70*time.Second)

		const requests = 50
		var wg sync.WaitGroup
		recs := make([]*httptest.ResponseRecorder, requests)
		for i := range recs {
			recs[i] = httptest.NewRecorder()
			wg.Go(func() {
				e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(recs[i], cookieRequest(expired))
			})
		}
		wg.Wait()

		if n := e.issuer.TokenRequests(); n != 1 {
			t.Errorf("token requests = %d, want 1", n)
		}
		var first string
		for i, rec := range recs {
			resp := rec.Result()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("request %d: status = %d, want 200", i, resp.StatusCode)
				continue
			}
			cookies := sessionCookies(resp)
			if len(cookies) != 1 {
				t.Errorf("request %d: session cookies = %d, want 1", i, len(cookies))
				continue
			}
			if first == "" {
				first = cookies[0].Value
			}
			if cookies[0].Value != first || first == expired {
				t.Errorf("request %d: cookie token %s, want the one new token %s",
					i, Fingerprint(cookies[0].Value), Fingerprint(first))
			}
		}
	})
}
