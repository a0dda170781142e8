package swrtoken

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/swrtoken/swrtoken/swrtokentest"
	"go.uber.org/goleak"
)

// statusOf returns the status of a request with token as bearer token.
func statusOf(mw *Middleware, token string) int {
	rec := httptest.NewRecorder()
	mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, bearerRequest(token))
	return rec.Code
}

func TestMiddlewareKeyRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, envOptions{mw: MiddlewareOptions{JWKSRefreshInterval: time.Minute}})
		oldKeyToken := e.issuer.Mint("sess_old")
		if got := statusOf(e.mw, oldKeyToken); got != http.StatusOK {
			t.Fatalf("token of k1 before rotation: status %d, want 200", got)
		}

		e.issuer.RotateKey()
		newKeyToken := e.issuer.Mint("sess_new")
		if got := statusOf(e.mw, newKeyToken); got != http.StatusOK {
			t.Errorf("token of the new key: status %d, want 200 after the unknown-kid fetch", got)
		}

		e.issuer.RemoveKey("k1")
		time.Sleep(time.Minute) // the periodic JWKS refresh
		synctest.Wait()
		if got := statusOf(e.mw, oldKeyToken); got != http.StatusUnauthorized {
			t.Errorf("cached token of the removed key: status %d, want 401", got)
		}
		removedKeyToken := e.issuer.MintWith(swrtokentest.MintOptions{SessionID: "sess_removed", KeyID: "k1"})
		if got := statusOf(e.mw, removedKeyToken); got != http.StatusUnauthorized {
			t.Errorf("new token of the removed key: status %d, want 401", got)
		}
		if got := statusOf(e.mw, newKeyToken); got != http.StatusOK {
			t.Errorf("token of the new key after removal: status %d, want 200", got)
		}
	})
}

// forgedToken returns a token signed by the issuer's key but naming the
// key ID kid, which the JWKS lacks.
func forgedToken(t *testing.T, issuer *swrtokentest.Issuer, kid string) string {
	t.Helper()
	_, signer := issuer.SigningKey()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"sid": "sess_forged",
		"exp": time.Now().Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMiddlewareUnknownKeyIDsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, envOptions{mw: MiddlewareOptions{JWKSUnknownKeyInterval: time.Minute}})
		if n := e.issuer.JWKSRequests(); n != 1 {
			t.Fatalf("JWKS requests after NewMiddleware = %d, want 1", n)
		}
		start := time.Now()
		for i := range 100 {
			if got := statusOf(e.mw, forgedToken(t, e.issuer, fmt.Sprintf("forged-%d", i))); got != http.StatusUnauthorized {
				t.Fatalf("token with an unknown kid: status %d, want 401", got)
			}
		}
		if n := e.issuer.JWKSRequests(); n != 2 {
			t.Errorf("JWKS requests after 100 unknown kids = %d, want 2", n)
		}
		if waited := time.Since(start); waited > 0 {
			t.Errorf("requests with unknown kids waited %v, want no wait", waited)
		}

		time.Sleep(time.Minute)
		statusOf(e.mw, forgedToken(t, e.issuer, "forged-later"))
		if n := e.issuer.JWKSRequests(); n != 3 {
			t.Errorf("JWKS requests an interval later = %d, want 3", n)
		}
	})
}

func TestMiddlewareCachedTokenExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, envOptions{})
		token := e.issuer.Mint("sess_exp") // 60s
		if got := statusOf(e.mw, token); got != http.StatusOK {
			t.Fatalf("status = %d, want 200", got)
		}
		time.Sleep(64 * time.Second) // within the 5s leeway
		if got := statusOf(e.mw, token); got != http.StatusOK {
			t.Errorf("status 4s after exp = %d, want 200 within the leeway", got)
		}
		time.Sleep(time.Second)
		if got := statusOf(e.mw, token); got != http.StatusUnauthorized {
			t.Errorf("status 5s after exp = %d, want 401", got)
		}
		if n := e.mw.verifier.cache.len(); n != 0 {
			t.Errorf("verified cache entries after expiry = %d, want 0", n)
		}
	})
}

func TestMiddlewareCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	issuer := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer issuer.Close()
	refreshed := make(chan struct{})
	cache := NewCache(&SessionTokenFetcher{
		BaseURL:   issuer.URL,
		SecretKey: issuer.SecretKey,
		Client:    issuer.Client(),
	}, Options{OnRefresh: func(string, Entry) { close(refreshed) }})
	defer cache.Close()
	mw, err := NewMiddleware(MiddlewareOptions{
		JWKSURL:             issuer.JWKSURL(),
		HTTPClient:          issuer.Client(),
		JWKSRefreshInterval: 5 * time.Millisecond,
		RenewalCache:        cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()

	token := issuer.MintWith(swrtokentest.MintOptions{SessionID: "sess_leak", IssuedAt: time.Now().Add(-50 * time.Second)})
	rec := httptest.NewRecorder()
	mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, cookieRequest(token))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	waitFor(t, refreshed, "the background refresh")
}

func TestMiddlewareLogsOnlyToItsLogger(t *testing.T) {
	// The test swaps the process's default loggers, so it must not run
	// in parallel with others.
	var global syncBuffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))
	defer log.SetOutput(log.Writer())
	log.SetOutput(&global)

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	for _, withLogger := range []bool{false, true} {
		var own syncBuffer
		opts := MiddlewareOptions{JWKSURL: broken.URL, HTTPClient: broken.Client()}
		if withLogger {
			opts.Logger = slog.New(slog.NewTextHandler(&own, nil))
		}
		mw, err := NewMiddleware(opts)
		if err != nil {
			t.Fatalf("NewMiddleware with a failing JWKS URL: %v, want nil", err)
		}
		statusOf(mw, "a.b.c")
		mw.Close()
		if withLogger && !strings.Contains(own.String(), "JWKS fetch failed") {
			t.Errorf("own logger output = %q, want the failed JWKS fetch", own.String())
		}
	}
	if global.String() != "" {
		t.Errorf("default logger output = %q, want none", global.String())
	}
}
