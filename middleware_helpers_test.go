package swrtoken

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

// env is a middleware in front of an in-process test issuer.
type env struct {
	issuer *swrtokentest.Issuer
	cache  *Cache // the renewal cache, nil without renewal
	mw     *Middleware
	logs   *lockedBuffer // debug log of the middleware and the cache
}

// envOptions configures newEnv.
type envOptions struct {
	issuer    swrtokentest.Options
	mw        MiddlewareOptions
	renewal   bool    // give the middleware a renewal cache
	cacheOpts Options // options of the renewal cache
}

// newEnv returns an issuer that is not listening and a middleware that
// reaches its JWKS through the issuer's in-process client, so that it
// works inside synctest bubbles. Everything is closed when the test ends.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{issuer: swrtokentest.NewUnstartedIssuer(o.issuer), logs: new(lockedBuffer)}
	t.Cleanup(e.issuer.Close)
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	if o.mw.JWKSURL == "" && o.mw.JWKS == nil && o.mw.Keyfunc == nil && o.mw.HMACSecret == nil {
		o.mw.JWKSURL = e.issuer.JWKSURL()
		o.mw.HTTPClient = e.issuer.Client()
	}
	if o.renewal {
		o.cacheOpts.Logger = logger
		e.cache = NewCache(&SessionTokenFetcher{
			BaseURL:   e.issuer.BaseURL(),
			SecretKey: e.issuer.SecretKey,
			Client:    e.issuer.Client(),
		}, o.cacheOpts)
		t.Cleanup(func() { e.cache.Close() })
		o.mw.RenewalCache = e.cache
	}
	if o.mw.Logger == nil {
		o.mw.Logger = logger
	}
	mw, err := NewMiddleware(o.mw)
	if err != nil {
		t.Fatalf("NewMiddleware: %v", err)
	}
	t.Cleanup(func() { mw.Close() })
	e.mw = mw
	return e
}

// mintAged returns a token for sid issued age ago, with the issuer's
// lifetime.
func (e *env) mintAged(sid string, age time.Duration) string {
	return e.issuer.MintWith(swrtokentest.MintOptions{
		SessionID: sid,
		IssuedAt:  time.Now().Add(-age),
	})
}

// jwksOf returns the JWKS document of issuer.
func jwksOf(issuer *swrtokentest.Issuer) []byte {
	rec := httptest.NewRecorder()
	issuer.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	return rec.Body.Bytes()
}

// result is what a handler behind the middleware saw.
type result struct {
	called bool
	claims *Claims
	token  string
}

// recordingHandler returns a handler that records what it saw in res
// and writes 200 "ok".
func recordingHandler(res *result) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.called = true
		res.claims, _ = ClaimsFromContext(r.Context())
		res.token, _ = TokenFromContext(r.Context())
		w.Write([]byte("ok"))
	})
}

// cookieRequest returns a GET request with the token in the session
// cookie.
func cookieRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: token})
	return r
}

// bearerRequest returns a GET request with the token as bearer token.
func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// sessionCookies returns the session cookies set by resp.
func sessionCookies(resp *http.Response) []*http.Cookie {
	var found []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == DefaultCookieName {
			found = append(found, c)
		}
	}
	return found
}

// checkNoSecrets fails the test if text contains any of tokens.
func checkNoSecrets(t *testing.T, where, text string, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if tok != "" && strings.Contains(text, tok) {
			t.Errorf("%s contains token %s, want only fingerprints", where, Fingerprint(tok))
		}
	}
}
