package swrtokentest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

const tokenPath = "/v1/sessions/sess_1/tokens"

func TestFailureWindows(t *testing.T) {
	clock := newFakeClock()
	iss := newTestIssuer(t, clock, Options{})
	t0 := clock.Now()
	iss.FailFor(http.StatusServiceUnavailable, 10*time.Second)
	iss.FailBetween(http.StatusTooManyRequests, t0.Add(20*time.Second), t0.Add(25*time.Second))
	// Set last, so it decides the status where it overlaps the window above.
	iss.FailBetween(http.StatusInternalServerError, t0.Add(22*time.Second), t0.Add(23*time.Second))
	// The clock offset moves the claims, not the windows.
	iss.SetClockOffset(time.Hour)

	steps := []struct {
		at         time.Duration
		wantStatus int
		wantCode   string
	}{
		{0, 503, "service_unavailable"},
		{9999 * time.Millisecond, 503, "service_unavailable"},
		{10 * time.Second, 200, ""},
		{19 * time.Second, 200, ""},
		{20 * time.Second, 429, "too_many_requests"},
		{22 * time.Second, 500, "internal_server_error"},
		{23 * time.Second, 429, "too_many_requests"},
		{25 * time.Second, 200, ""},
	}
	for _, step := range steps {
		clock.Set(t0.Add(step.at))
		status, body := postToken(t, iss, tokenPath, iss.SecretKey)
		if status != step.wantStatus {
			t.Errorf("at %v: status = %d, want %d", step.at, status, step.wantStatus)
			continue
		}
		if step.wantCode == "" {
			continue
		}
		if got := errorCode(t, body); got != step.wantCode {
			t.Errorf("at %v: error code = %q, want %q", step.at, got, step.wantCode)
		}
	}
}

func TestFailureOverridesAuthAndRevocation(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	iss.RevokeSession("sess_1")
	iss.FailFor(http.StatusBadGateway, time.Minute)
	if status, _ := postToken(t, iss, tokenPath, "wrong"); status != http.StatusBadGateway {
		t.Errorf("status with a wrong secret during a failure = %d, want 502", status)
	}

	iss.ClearFailures()
	if status, _ := postToken(t, iss, tokenPath, iss.SecretKey); status != http.StatusNotFound {
		t.Errorf("status after ClearFailures = %d, want 404: the session stays revoked", status)
	}
	status, _ := postToken(t, iss, "/v1/sessions/sess_2/tokens", iss.SecretKey)
	if status != http.StatusOK {
		t.Errorf("status for another session after ClearFailures = %d, want 200", status)
	}
}

func TestEmptyFailureWindow(t *testing.T) {
	clock := newFakeClock()
	iss := newTestIssuer(t, clock, Options{})
	iss.FailFor(http.StatusServiceUnavailable, 0)
	iss.FailBetween(http.StatusServiceUnavailable, clock.Now(), clock.Now())
	if status, _ := postToken(t, iss, tokenPath, iss.SecretKey); status != http.StatusOK {
		t.Errorf("status = %d, want 200: empty windows fail nothing", status)
	}
}

func TestFailFraction(t *testing.T) {
	tests := []struct {
		fraction    float64
		calls       int
		wantFailing []int // 1-based call numbers
	}{
		{0.25, 8, []int{4, 8}},
		{0.5, 6, []int{2, 4, 6}},
		{0.3, 10, []int{4, 7, 10}},
		{1.0 / 3, 9, []int{3, 6, 9}},
		{0.29, 100, nil}, // checked by count below
		{1, 3, []int{1, 2, 3}},
		{2, 2, []int{1, 2}},
		{0, 3, nil},
		{-1, 3, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.fraction), func(t *testing.T) {
			iss := newTestIssuer(t, newFakeClock(), Options{})
			iss.FailFraction(http.StatusServiceUnavailable, tt.fraction)
			var failing []int
			for n := 1; n <= tt.calls; n++ {
				status, _ := postToken(t, iss, tokenPath, iss.SecretKey)
				if status == http.StatusServiceUnavailable {
					failing = append(failing, n)
				}
			}
			if tt.fraction == 0.29 {
				if len(failing) != 29 {
					t.Errorf("%d of 100 calls failed, want 29", len(failing))
				}
				return
			}
			if !slices.Equal(failing, tt.wantFailing) {
				t.Errorf("failing calls = %v, want %v", failing, tt.wantFailing)
			}
		})
	}
}

func TestFailFractionRestartsCount(t *testing.T) {
	clock := newFakeClock()
	iss := newTestIssuer(t, clock, Options{})
	iss.FailFraction(http.StatusTooManyRequests, 0.5)
	postToken(t, iss, tokenPath, iss.SecretKey) // call 1 succeeds

	iss.FailFraction(http.StatusTooManyRequests, 0.5)
	if status, _ := postToken(t, iss, tokenPath, iss.SecretKey); status != http.StatusOK {
		t.Errorf("first call after FailFraction again: status %d, want 200", status)
	}

	// A window takes precedence, and the call still counts.
	iss.FailFor(http.StatusServiceUnavailable, time.Second)
	status, _ := postToken(t, iss, tokenPath, iss.SecretKey)
	if status != http.StatusServiceUnavailable {
		t.Errorf("call 2 in a window: status %d, want 503", status)
	}
	clock.Advance(time.Second)
	if status, _ := postToken(t, iss, tokenPath, iss.SecretKey); status != http.StatusOK {
		t.Errorf("call 3: status %d, want 200", status)
	}
	if status, _ := postToken(t, iss, tokenPath, iss.SecretKey); status != http.StatusTooManyRequests {
		t.Errorf("call 4: status %d, want 429", status)
	}
}

func TestFailureStatusPanics(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), Options{})
	for _, status := range []int{0, 200, 302, 600} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("FailFor(%d) did not panic, want a panic", status)
				}
			}()
			iss.FailFor(status, time.Second)
		})
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := NewUnstartedIssuer(Options{Latency: 2 * time.Second})
		defer iss.Close()

		start := time.Now()
		fetchToken(t, iss, "sess_1")
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("response after %v, want 2s", got)
		}

		iss.SetLatency(0)
		start = time.Now()
		fetchToken(t, iss, "sess_1")
		if got := time.Since(start); got != 0 {
			t.Errorf("response without latency after %v, want 0", got)
		}
	})
}

func TestLatencyHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := NewUnstartedIssuer(Options{Latency: time.Hour})
		defer iss.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()

		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, iss.BaseURL()+tokenPath, nil)
		req.Header.Set("Authorization", "Bearer "+iss.SecretKey)
		_, err := iss.Client().Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want %v", err, context.DeadlineExceeded)
		}
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("request returned after %v, want 500ms", got)
		}
		if got := iss.TokenRequests(); got != 1 {
			t.Errorf("TokenRequests() = %d, want 1", got)
		}
	})
}

func TestLatencyEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := NewUnstartedIssuer(Options{Latency: time.Hour})
		var (
			status int
			err    error
		)
		done := make(chan struct{})
		go func() {
			defer close(done)
			status, _, err = tryPostToken(context.Background(), iss, tokenPath, iss.SecretKey)
		}()
		synctest.Wait() // the request waits out its latency
		start := time.Now()
		iss.Close()
		<-done
		if err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("status = %d, error %v, want 503", status, err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("request ended %v after Close, want at once", got)
		}
	})
}

func TestLatencyEndsOnCloseLoopback(t *testing.T) {
	defer goleak.VerifyNone(t)
	arrived := make(chan struct{})
	var once sync.Once
	iss := NewIssuer(Options{
		Latency: time.Hour,
		// The token endpoint reads the clock when a request arrives, and
		// nothing else reads it in this test.
		Now: func() time.Time {
			once.Do(func() { close(arrived) })
			return time.Now()
		},
	})
	type result struct {
		status int
		err    error
	}
	results := make(chan result, 1)
	go func() {
		status, _, err := tryPostToken(context.Background(), iss, tokenPath, iss.SecretKey)
		results <- result{status, err}
	}()

	<-arrived
	closed := make(chan struct{})
	go func() {
		iss.Close()
		close(closed)
	}()
	// A guard against a hang, not a wait for time to pass.
	select {
	case r := <-results:
		if r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Errorf("request during Close: status %d, error %v, want 503", r.status, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("request still waiting 30s after Close, want it ended by Close")
	}
	<-closed
}

// TestConcurrentUse runs requests, minting and every knob at once, for
// the race detector.
func TestConcurrentUse(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := NewIssuer(Options{})
	defer iss.Close()
	client := iss.Client()
	const workers, rounds = 4, 25

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			session := fmt.Sprintf("sess_%d", w)
			for range rounds {
				path := "/v1/sessions/" + session + "/tokens"
				if _, _, err := tryPostToken(context.Background(), iss, path, iss.SecretKey); err != nil {
					t.Error(err)
					return
				}
				iss.Mint(session)
				if resp, err := client.Get(iss.JWKSURL()); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Go(func() {
		for n := range rounds {
			kid := iss.RotateKey()
			iss.SetLifetime(time.Duration(n+1) * time.Second)
			iss.SetClockOffset(time.Duration(n) * time.Second)
			iss.SetLatency(0)
			iss.FailFraction(http.StatusServiceUnavailable, 0.1)
			iss.FailFor(http.StatusServiceUnavailable, time.Millisecond)
			iss.RevokeSession("sess_x")
			iss.SigningKey()
			iss.PublicKey(kid)
			if n%2 == 1 {
				iss.RemoveKey(kid)
			}
			iss.ClearFailures()
		}
	})
	wg.Wait()

	if got, want := iss.TokenRequests(), int64(workers*rounds); got != want {
		t.Errorf("TokenRequests() = %d, want %d", got, want)
	}
}
