package swrtoken

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

// renewalEnv returns an env with renewal on and a channel that is closed
// when the first refresh of the cache has stored a token.
func renewalEnv(t *testing.T, o envOptions) (*env, <-chan struct{}) {
	t.Helper()
	refreshed := make(chan struct{})
	var once sync.Once
	o.renewal = true
	o.cacheOpts.OnRefresh = func(string, Entry) { once.Do(func() { close(refreshed) }) }
	return newEnv(t, o), refreshed
}

// waitFor waits until ch is closed, failing the test after a long
// timeout that only a broken refresh reaches. It may run on any
// goroutine, so it reports with Errorf.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not happen within 10s", what)
	}
}

// checkSessionCookie checks that resp sets exactly one session cookie,
// with value want and the attributes of a renewed cookie, for a token of
// 60s and a cookie that outlives it by extra.
func checkSessionCookie(t *testing.T, resp *http.Response, want string, extra time.Duration) {
	t.Helper()
	if n := len(resp.Header.Values("Set-Cookie")); n != 1 {
		t.Fatalf("Set-Cookie headers = %d, want 1", n)
	}
	cookies := sessionCookies(resp)
	if len(cookies) != 1 {
		t.Fatalf("session cookies = %d, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Value != want {
		t.Errorf("cookie value = %s, want %s", Fingerprint(c.Value), Fingerprint(want))
	}
	if c.Path != "/" {
		t.Errorf("cookie Path = %q, want %q", c.Path, "/")
	}
	if !c.HttpOnly {
		t.Error("cookie HttpOnly = false, want true")
	}
	if !c.Secure {
		t.Error("cookie Secure = false, want true")
	}
	if c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie SameSite = %v, want Lax", c.SameSite)
	}
	if c.Domain != "" {
		t.Errorf("cookie Domain = %q, want none", c.Domain)
	}
	if limit := int((time.Minute + extra) / time.Second); c.MaxAge <= limit-5 || c.MaxAge > limit {
		t.Errorf("cookie Max-Age = %d, want about %d: the token's 60s plus %v", c.MaxAge, limit, extra)
	}
	if got := resp.Header.Get("Vary"); !strings.Contains(got, "Cookie") {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "private") {
		t.Errorf("Cache-Control = %q, want private", got)
	}
}

func TestRenewalCookieOnWritePatterns(t *testing.T) {
	tests := []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"WriteHeader then Write", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("ok"))
		}},
		{"WriteHeader twice", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.WriteHeader(http.StatusOK)
		}},
		{"Write only", func(w http.ResponseWriter) {
			w.Write([]byte("ok"))
		}},
		{"nothing written", func(w http.ResponseWriter) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, refreshed := renewalEnv(t, envOptions{mw: MiddlewareOptions{RenewalWindow: 30 * time.Second}})
			token := e.mintAged("sess_write", 50*time.Second) // 10s left
			h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				waitFor(t, refreshed, "the background refresh")
				tt.write(w)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, cookieRequest(token))

			entry, _ := e.cache.Lookup("sess_write")
			checkSessionCookie(t, rec.Result(), entry.Token.Value, DefaultLeeway)
			if entry.Token.Value == token {
				t.Error("cache holds the request's token, want a new one")
			}
			if n := e.issuer.TokenRequests(); n != 1 {
				t.Errorf("token requests = %d, want 1", n)
			}
		})
	}
}

func TestRenewalCookieAttributes(t *testing.T) {
	e, refreshed := renewalEnv(t, envOptions{mw: MiddlewareOptions{
		InsecureCookie: true,
		CookieDomain:   "example.test",
	}})
	token := e.mintAged("sess_attr", 50*time.Second)
	h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waitFor(t, refreshed, "the background refresh")
		w.Header().Set("Cache-Control", "public, max-age=60, s-maxage=600")
		w.Header().Set("Vary", "Accept-Encoding")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, cookieRequest(token))
	resp := rec.Result()

	cookies := sessionCookies(resp)
	if len(cookies) != 1 {
		t.Fatalf("session cookies = %d, want 1", len(cookies))
	}
	if cookies[0].Secure {
		t.Error("cookie Secure = true, want false with InsecureCookie")
	}
	if cookies[0].Domain != "example.test" {
		t.Errorf("cookie Domain = %q, want %q", cookies[0].Domain, "example.test")
	}
	if got, want := resp.Header.Get("Cache-Control"), "max-age=60, private"; got != want {
		t.Errorf("Cache-Control = %q, want %q", got, want)
	}
	if got, want := resp.Header.Values("Vary"), []string{"Accept-Encoding", "Cookie"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Vary = %q, want %q", got, want)
	}
}

func TestRenewalHandlerCookieWins(t *testing.T) {
	e, refreshed := renewalEnv(t, envOptions{})
	token := e.mintAged("sess_signout", 50*time.Second)
	h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waitFor(t, refreshed, "the background refresh")
		http.SetCookie(w, &http.Cookie{Name: DefaultCookieName, Value: "", Path: "/", MaxAge: -1})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, cookieRequest(token))

	cookies := sessionCookies(rec.Result())
	if len(cookies) != 1 {
		t.Fatalf("session cookies = %d, want only the handler's", len(cookies))
	}
	if cookies[0].MaxAge >= 0 {
		t.Errorf("cookie Max-Age = %d, want the handler's deletion", cookies[0].MaxAge)
	}
}

func TestRenewalNotForFreshOrBearerTokens(t *testing.T) {
	tests := []struct {
		name    string
		request func(e *env) *http.Request
	}{
		{"fresh cookie token", func(e *env) *http.Request {
			return cookieRequest(e.mintAged("sess_fresh", 10*time.Second))
		}},
		{"stale bearer token", func(e *env) *http.Request {
			return bearerRequest(e.mintAged("sess_bearer", 50*time.Second))
		}},
		{"stale cookie token without sid", func(e *env) *http.Request {
			return cookieRequest(e.mintAged("", 50*time.Second))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, _ := renewalEnv(t, envOptions{})
				rec := httptest.NewRecorder()
				e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, tt.request(e))
				synctest.Wait()

				if rec.Code != http.StatusOK {
					t.Errorf("status = %d, want 200", rec.Code)
				}
				if n := e.issuer.TokenRequests(); n != 0 {
					t.Errorf("token requests = %d, want 0", n)
				}
				if len(sessionCookies(rec.Result())) != 0 {
					t.Error("response sets a session cookie, want none")
				}
			})
		})
	}
}

func TestRenewalShortLivedTokenWindow(t *testing.T) {
	// A 20s token with the default 15s window is renewed only in its
	// second half, not from its fifth second on.
	synctest.Test(t, func(t *testing.T) {
		e, _ := renewalEnv(t, envOptions{issuer: swrtokentest.Options{Lifetime: 20 * time.Second}})
		h := e.mw.RequireAuth(recordingHandler(new(result)))
		h.ServeHTTP(httptest.NewRecorder(), cookieRequest(e.mintAged("sess_short", 9*time.Second)))
		synctest.Wait()
		if n := e.issuer.TokenRequests(); n != 0 {
			t.Errorf("token requests for a 20s token at 9s = %d, want 0", n)
		}
		h.ServeHTTP(httptest.NewRecorder(), cookieRequest(e.mintAged("sess_short", 11*time.Second)))
		synctest.Wait()
		if n := e.issuer.TokenRequests(); n != 1 {
			t.Errorf("token requests for a 20s token at 11s = %d, want 1", n)
		}
	})
}

func TestRenewalConcurrentRequests(t *testing.T) {
	const requests = 200
	e, refreshed := renewalEnv(t, envOptions{
		mw: MiddlewareOptions{RenewalWindow: 30 * time.Second},
	})
	e.issuer.SetLatency(20 * time.Millisecond)
	token := e.mintAged("sess_many", 50*time.Second)

	var afterRefresh [requests]bool
	var served atomic.Int64
	h := e.mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := served.Add(1)
		if i%2 == 0 {
			waitFor(t, refreshed, "the background refresh")
		}
		select {
		case <-refreshed:
			afterRefresh[i-1] = true
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))

	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, requests)
	for i := range requests {
		recs[i] = httptest.NewRecorder()
		wg.Go(func() { h.ServeHTTP(recs[i], cookieRequest(token)) })
	}
	wg.Wait()

	entry, _ := e.cache.Lookup("sess_many")
	withCookie := 0
	for _, rec := range recs {
		if rec.Code != http.StatusOK {
			t.Errorf("status = %d, want 200", rec.Code)
		}
		if cookies := sessionCookies(rec.Result()); len(cookies) == 1 && cookies[0].Value == entry.Token.Value {
			withCookie++
		}
	}
	after := 0
	for _, a := range afterRefresh {
		if a {
			after++
		}
	}
	if withCookie < after {
		t.Errorf("responses with the new cookie = %d, want at least the %d written after the refresh",
			withCookie, after)
	}
	if after < requests/2 {
		t.Errorf("responses written after the refresh = %d, want at least %d", after, requests/2)
	}
	if n := e.issuer.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestRenewalRefreshFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := renewalEnv(t, envOptions{})
		e.issuer.FailFor(http.StatusServiceUnavailable, time.Hour)
		token := e.mintAged("sess_down", 45*time.Second) // 15s left

		serve := func() {
			t.Helper()
			var res result
			rec := httptest.NewRecorder()
			e.mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, cookieRequest(token))
			synctest.Wait()
			if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
				t.Fatalf("response = %d %q, want 200 %q", rec.Code, rec.Body.String(), "ok")
			}
			if res.token != token {
				t.Errorf("token in context = %s, want the request's %s", Fingerprint(res.token), Fingerprint(token))
			}
			if len(sessionCookies(rec.Result())) != 0 {
				t.Fatal("response sets a session cookie, want none while the issuer fails")
			}
		}
		for range 20 {
			serve()
		}
		if n := e.issuer.TokenRequests(); n != 1 {
			t.Errorf("token requests for 20 requests at once = %d, want 1", n)
		}
		// One request a second: the cache retries with a growing backoff
		// (1s, 2s, 4s, minus jitter), not once per request.
		for range 8 {
			time.Sleep(time.Second)
			serve()
		}
		if n := e.issuer.TokenRequests(); n < 2 || n > 5 {
			t.Errorf("token requests after 8 more seconds = %d, want 2 to 5", n)
		}
	})
}

func TestRenewExpired(t *testing.T) {
	tests := []struct {
		name         string
		age          time.Duration // of a 60s token
		bearer       bool
		fail         bool
		revoke       bool
		wantStatus   int
		wantRequests int64
	}{
		{"expired 10s ago", 70 * time.Second, false, false, false, http.StatusOK, 1},
		{"expired 10s ago, issuer down", 70 * time.Second, false, true, false, http.StatusUnauthorized, 1},
		{"expired 10s ago, session revoked", 70 * time.Second, false, false, true, http.StatusUnauthorized, 1},
		{"expired 10s ago, bearer", 70 * time.Second, true, false, false, http.StatusUnauthorized, 0},
		{"expired 2m ago", 3 * time.Minute, false, false, false, http.StatusUnauthorized, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := renewalEnv(t, envOptions{mw: MiddlewareOptions{RenewExpiredWithin: time.Minute}})
			if tt.fail {
				e.issuer.FailFor(http.StatusServiceUnavailable, time.Hour)
			}
			if tt.revoke {
				e.issuer.RevokeSession("sess_expired")
			}
			token := e.mintAged("sess_expired", tt.age)
			req := cookieRequest(token)
			if tt.bearer {
				req = bearerRequest(token)
			}
			var res result
			rec := httptest.NewRecorder()
			e.mw.RequireAuth(recordingHandler(&res)).ServeHTTP(rec, req)
			resp := rec.Result()

			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if n := e.issuer.TokenRequests(); n != tt.wantRequests {
				t.Errorf("token requests = %d, want %d", n, tt.wantRequests)
			}
			if tt.wantStatus != http.StatusOK {
				if len(sessionCookies(resp)) != 0 {
					t.Error("rejected request got a session cookie")
				}
				return
			}
			if res.claims == nil || res.claims.SessionID != "sess_expired" {
				t.Errorf("claims = %+v, want sid sess_expired", res.claims)
			}
			if res.token == token || res.token == "" {
				t.Errorf("token in context = %q, want the renewed token", Fingerprint(res.token))
			}
			checkSessionCookie(t, resp, res.token, DefaultLeeway+time.Minute)
		})
	}
}

func TestRenewExpiredFailureDescription(t *testing.T) {
	e, _ := renewalEnv(t, envOptions{mw: MiddlewareOptions{RenewExpiredWithin: time.Minute}})
	e.issuer.FailFor(http.StatusServiceUnavailable, time.Hour)
	rec := httptest.NewRecorder()
	e.mw.RequireAuth(recordingHandler(new(result))).ServeHTTP(rec, cookieRequest(e.mintAged("sess_x", 70*time.Second)))

	want := `Bearer error="invalid_token", error_description="the token expired and could not be renewed"`
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}
