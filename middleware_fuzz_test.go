package swrtoken

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

// FuzzMiddleware sends arbitrary Authorization and Cookie headers
// through the middleware, with renewal on. Whatever the input, the
// response is 200 with claims or 401 without calling the handler, it
// sets at most one session cookie, and it never repeats a token-sized
// part of the input. The seeds include valid tokens minted at the start,
// and testdata/fuzz/FuzzMiddleware holds more inputs.
func FuzzMiddleware(f *testing.F) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	f.Cleanup(issuer.Close)
	cache := NewCache(&SessionTokenFetcher{
		BaseURL:   issuer.BaseURL(),
		SecretKey: issuer.SecretKey,
		Client:    issuer.Client(),
	}, Options{})
	f.Cleanup(func() { cache.Close() })
	mw, err := NewMiddleware(MiddlewareOptions{
		JWKS:               jwksOf(issuer),
		RenewalCache:       cache,
		RenewExpiredWithin: time.Minute,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { mw.Close() })

	valid := issuer.Mint("sess_fuzz")
	stale := issuer.MintWith(swrtokentest.MintOptions{
		SessionID: "sess_fuzz_stale", IssuedAt: time.Now().Add(-50 * time.Second)})
	expired := issuer.MintWith(swrtokentest.MintOptions{
		SessionID: "sess_fuzz_expired", IssuedAt: time.Now().Add(-70 * time.Second)})
	f.Add("Bearer "+valid, "")
	f.Add("", DefaultCookieName+"="+valid)
	f.Add("", DefaultCookieName+"="+stale)
	f.Add("", DefaultCookieName+"="+expired)
	f.Add("", DefaultCookieName+"="+valid+"; "+DefaultCookieName+"="+valid)
	f.Add("Bearer "+valid[:len(valid)-3], "")
	f.Add("Basic dXNlcjpwYXNz", DefaultCookieName+`="`+valid+`"`)

	f.Fuzz(func(t *testing.T, authorization, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		var res result
		rec := httptest.NewRecorder()
		mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, r)
		resp := rec.Result()

		switch resp.StatusCode {
		case http.StatusOK:
			if res.claims == nil {
				t.Error("status 200 without claims in the handler's context")
			}
		case http.StatusUnauthorized:
			if res.called {
				t.Error("status 401 but the handler was called")
			}
		default:
			t.Errorf("status = %d, want 200 or 401", resp.StatusCode)
		}
		if n := len(sessionCookies(resp)); n > 1 {
			t.Errorf("session cookies = %d, want at most 1", n)
		}

		out := rec.Body.String() + resp.Header.Get("WWW-Authenticate")
		inputs := strings.Fields(authorization)
		for _, c := range r.Cookies() {
			inputs = append(inputs, c.Value)
		}
		for _, in := range inputs {
			// Shorter inputs may match the fixed texts by chance.
			if len(in) >= 64 && strings.Contains(out, in) {
				t.Errorf("response repeats an input of %d bytes", len(in))
			}
		}
	})
}
