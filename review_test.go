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

	"github.com/swrtoken/swrtoken/swrtokentest"
)

func TestRetryAfterFailureNearUnusable(t *testing.T) {
	// The first fetch takes firstFetch, so retryTime aims a retry after a
	// failure at 2*firstFetch before the token turns unusable at 55 s.
	// From failFrom on, the issuer fails at once, and a caller reads
	// every 10 ms until 55 s. Backoff steps of at least 0.5, 1, 2, 4 and
	// 8 s, plus one attempt at that aimed time, leave room for about
	// seven attempts, however often the caller reads.
	tests := []struct {
		name       string
		firstFetch time.Duration
		leeway     time.Duration
		failFrom   time.Duration
	}{
		{name: "fetch of 2s, failures in the last 4s", firstFetch: 2 * time.Second,
			leeway: 20 * time.Second, failFrom: 40 * time.Second},
		{name: "fetch slower than the stale window", firstFetch: 6 * time.Second,
			leeway: 15 * time.Second, failFrom: 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				is := &testIssuer{before: func(ctx context.Context, _ string, call int64) error {
					if call == 1 {
						return sleepCtx(ctx, tt.firstFetch)
					}
					if time.Since(start) >= tt.failFrom {
						return errUnavailable
					}
					return nil
				}}
				// The token is fetched from 0 s and counted from there:
				// it turns unusable at 55 s whatever the fetch took.
				c := startCache(t, is, Options{RefreshLeeway: tt.leeway})
				mustToken(t, c, "k")

				for at := tt.failFrom; at < 55*time.Second; at += 10 * time.Millisecond {
					sleepUntil(start, at)
					if _, err := c.Token(context.Background(), "k"); err != nil {
						t.Fatalf("read at %v: %v, want the old token", at, err)
					}
				}
				synctest.Wait()

				if got, want := is.calls.Load()-1, int64(8); got > want {
					t.Errorf("issuer calls after the first = %d, want at most %d", got, want)
				}
			})
		})
	}
}

// slowJWKS is an http.RoundTripper that delays each JWKS request after
// the first by delay, and sends every request on to next.
type slowJWKS struct {
	next  http.RoundTripper
	delay time.Duration

	mu       sync.Mutex // guards requests
	requests int
}

func (s *slowJWKS) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "jwks.json") {
		s.mu.Lock()
		s.requests++
		later := s.requests > 1
		s.mu.Unlock()
		if later {
			if err := sleepCtx(req.Context(), s.delay); err != nil {
				return nil, err
			}
		}
	}
	return s.next.RoundTrip(req)
}

func TestRenewalDoesNotDelayWriteHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The issuer rotates its key after the request's token was
		// minted, so the renewed token names a kid that the middleware
		// has not fetched yet, and the JWKS takes 5 s to respond.
		const jwksDelay = 5 * time.Second
		issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
		t.Cleanup(issuer.Close)
		refreshed := make(chan struct{})
		var once sync.Once
		cache := startCache(t, &SessionTokenFetcher{
			BaseURL:   issuer.BaseURL(),
			SecretKey: issuer.SecretKey,
			Client:    issuer.Client(),
		}, Options{OnRefresh: func(string, Entry) { once.Do(func() { close(refreshed) }) }})
		mw, err := NewMiddleware(MiddlewareOptions{
			JWKSURL:       issuer.JWKSURL(),
			HTTPClient:    &http.Client{Transport: &slowJWKS{next: issuer.Client().Transport, delay: jwksDelay}},
			RenewalCache:  cache,
			RenewalWindow: 30 * time.Second,
		})
		if err != nil {
			t.Fatalf("NewMiddleware: %v", err)
		}
		t.Cleanup(func() { mw.Close() })

		token := issuer.MintWith(swrtokentest.MintOptions{
			SessionID: "sess_rotate",
			IssuedAt:  time.Now().Add(-50 * time.Second), // 10 s left
		})
		issuer.RotateKey()

		var blocked time.Duration
		h := mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			waitFor(t, refreshed, "the background refresh")
			start := time.Now()
			w.WriteHeader(http.StatusOK)
			blocked = time.Since(start)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, cookieRequest(token))

		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", rec.Code)
		}
		if blocked >= jwksDelay {
			t.Errorf("WriteHeader took %v, want less than the JWKS fetch of %v", blocked, jwksDelay)
		}
		if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("first response sets %d cookies, want 0 before the new key is fetched", len(got))
		}

		// The verification off the response path fetches the new key, so
		// the next response carries the renewed cookie at once.
		time.Sleep(jwksDelay + time.Second)
		rec = httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, cookieRequest(token))
		if took := time.Since(start); took >= jwksDelay {
			t.Errorf("second request took %v, want less than %v", took, jwksDelay)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 || cookies[0].Name != DefaultCookieName {
			t.Fatalf("second response sets %d cookies, want one %s cookie", len(cookies), DefaultCookieName)
		}
		if cookies[0].Value == token {
			t.Errorf("renewed cookie carries the old token %s", Fingerprint(token))
		}
	})
}

func TestStripedCounterAcrossStackGrowth(t *testing.T) {
	// Each add runs at another depth of a recursion with large frames,
	// so the stack grows and moves between adds and goroutineCell
	// returns other cells. No add may be lost or counted twice.
	var c stripedCounter
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				addAtDepth(&c, i%32)
			}
		})
	}
	wg.Wait()
	if got, want := c.load(), uint64(800); got != want {
		t.Errorf("load() = %d, want %d", got, want)
	}
}

// addAtDepth adds one to c from depth nested calls, each with a 1 KiB
// frame.
func addAtDepth(c *stripedCounter, depth int) byte {
	var frame [1024]byte
	frame[depth%len(frame)] = byte(depth)
	if depth == 0 {
		c.add()
		return frame[0]
	}
	return addAtDepth(c, depth-1) + frame[depth%len(frame)]
}
