package swrtoken

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// errUnavailable is the error of an issuer that is down.
var errUnavailable = errors.New("issuer: 503 Service Unavailable")

// testIssuer is a Fetcher that mints JWTs on the current clock (the fake
// clock of the synctest bubble in these tests) and records its calls.
type testIssuer struct {
	lifetime time.Duration // exp - iat of each token, or one minute when zero
	skew     time.Duration // the issuer's clock minus the local clock

	// before, if not nil, runs at the start of each call with the key and
	// the number of the call, counted from 1. It may sleep, block or
	// panic, and an error from it fails the call.
	before func(ctx context.Context, key string, call int64) error

	calls atomic.Int64

	mu     sync.Mutex      // guards minted
	minted map[string]mint // by token text
}

// mint records which call minted a token, and for which key.
type mint struct {
	call int64
	key  string
}

func (is *testIssuer) Fetch(ctx context.Context, key string) (Token, error) {
	n := is.calls.Add(1)
	if is.before != nil {
		if err := is.before(ctx, key, n); err != nil {
			return Token{}, err
		}
	}
	iat := time.Now().Add(is.skew)
	exp := iat.Add(cmp.Or(is.lifetime, time.Minute))
	value := testJWT(map[string]any{
		"iat": iat.Unix(), "exp": exp.Unix(), "sub": key, "jti": n,
	})

	is.mu.Lock()
	defer is.mu.Unlock()
	if is.minted == nil {
		is.minted = make(map[string]mint)
	}
	is.minted[value] = mint{call: n, key: key}
	return Token{Value: value}, nil
}

// callOf returns the number of the call that minted value, or 0 if the
// issuer did not mint it. Tests compare call numbers instead of tokens so
// that no failure message prints a token.
func (is *testIssuer) callOf(value string) int64 {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.minted[value].call
}

// keyOf returns the key that value was minted for.
func (is *testIssuer) keyOf(value string) string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.minted[value].key
}

// startCache returns a cache that is closed when the test ends.
func startCache(t *testing.T, f Fetcher, opts Options) *Cache {
	t.Helper()
	c := NewCache(f, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// mustToken reads key from c and fails the test on an error.
func mustToken(t *testing.T, c *Cache, key string) string {
	t.Helper()
	value, err := c.Token(context.Background(), key)
	require.NoError(t, err, "Token(%q)", key)
	return value
}

// sleepUntil sleeps until elapsed has passed since start.
func sleepUntil(start time.Time, elapsed time.Duration) {
	time.Sleep(time.Until(start.Add(elapsed)))
}

// sleepCtx sleeps for d or until ctx ends, and returns ctx.Err() if ctx
// ended first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// latency returns a testIssuer.before function that makes each call take d.
func latency(d time.Duration) func(context.Context, string, int64) error {
	return func(ctx context.Context, _ string, _ int64) error {
		return sleepCtx(ctx, d)
	}
}

// requireFetchError checks that err is a *FetchError for key that wraps
// target, and returns it.
func requireFetchError(t *testing.T, err error, key string, target error) *FetchError {
	t.Helper()
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, key, fe.Key, "FetchError.Key")
	assert.ErrorIs(t, err, target)
	return fe
}

// readConcurrently calls c.Token for each key on a goroutine of its own
// and returns the tokens and errors, by position, once all calls returned.
func readConcurrently(c *Cache, keys ...string) ([]string, []error) {
	var wg sync.WaitGroup
	got := make([]string, len(keys))
	errs := make([]error, len(keys))
	for i, key := range keys {
		wg.Go(func() { got[i], errs[i] = c.Token(context.Background(), key) })
	}
	wg.Wait()
	return got, errs
}

// cacheKeys returns the keys in c, sorted.
func cacheKeys(c *Cache) []string {
	var keys []string
	c.entries.Range(func(k, _ any) bool {
		keys = append(keys, k.(string))
		return true
	})
	slices.Sort(keys)
	return keys
}

// lockedBuffer is a bytes.Buffer that a slog handler on several
// goroutines can write to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// debugLogger returns a logger that writes text records of every level
// to a new buffer.
func debugLogger() (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(slog.NewTextHandler(buf, opts)), buf
}

func TestOptionsDefaults(t *testing.T) {
	defaults := Options{
		RefreshLeeway: DefaultRefreshLeeway,
		MinRemaining:  DefaultMinRemaining,
		FetchTimeout:  DefaultFetchTimeout,
		MinBackoff:    DefaultMinBackoff,
		MaxBackoff:    DefaultMaxBackoff,
		IdleTimeout:   DefaultIdleTimeout,
	}
	tests := []struct {
		name string
		in   Options
		want func(o *Options) // changes from defaults; nil for none
	}{
		{name: "zero value"},
		{
			name: "negative durations",
			in:   Options{RefreshLeeway: -1, MinRemaining: -1, FetchTimeout: -1, MinBackoff: -1, MaxBackoff: -1},
		},
		{
			name: "MaxBackoff raised to MinBackoff",
			in:   Options{MinBackoff: time.Minute, MaxBackoff: time.Second},
			want: func(o *Options) { o.MinBackoff, o.MaxBackoff = time.Minute, time.Minute },
		},
		{
			name: "negative IdleTimeout kept",
			in:   Options{IdleTimeout: -1},
			want: func(o *Options) { o.IdleTimeout = -1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := defaults
			if tt.want != nil {
				tt.want(&want)
			}
			assert.Equal(t, want, tt.in.withDefaults())
		})
	}
}

func TestNewCacheNilFetcher(t *testing.T) {
	assert.Panics(t, func() { NewCache(nil, Options{}) })
}

func TestCacheStates(t *testing.T) {
	// Each case fetches a 60 s token at 0 s, reads it once at elapsed and
	// checks the state and what the read did.
	tests := []struct {
		name         string
		leeway       time.Duration
		minRemaining time.Duration
		elapsed      time.Duration
		want         State
	}{
		{name: "0s fresh", elapsed: 0, want: Fresh},
		{name: "44s fresh", elapsed: 44 * time.Second, want: Fresh},
		{name: "45s stale", elapsed: 45 * time.Second, want: Stale},
		{name: "46s stale", elapsed: 46 * time.Second, want: Stale},
		{name: "54s stale", elapsed: 54 * time.Second, want: Stale},
		{name: "55s unusable", elapsed: 55 * time.Second, want: Unusable},
		{name: "56s unusable", elapsed: 56 * time.Second, want: Unusable},
		{name: "60s unusable", elapsed: 60 * time.Second, want: Unusable},
		{name: "leeway 30s at 29s fresh", leeway: 30 * time.Second, elapsed: 29 * time.Second, want: Fresh},
		{name: "leeway 30s at 31s stale", leeway: 30 * time.Second, elapsed: 31 * time.Second, want: Stale},
		{name: "leeway 10s at 49s fresh", leeway: 10 * time.Second, elapsed: 49 * time.Second, want: Fresh},
		{name: "leeway 10s at 52s stale", leeway: 10 * time.Second, elapsed: 52 * time.Second, want: Stale},
		{name: "leeway 45s halved at 29s fresh", leeway: 45 * time.Second, elapsed: 29 * time.Second, want: Fresh},
		{name: "leeway 45s halved at 31s stale", leeway: 45 * time.Second, elapsed: 31 * time.Second, want: Stale},
		{name: "leeway 3s raised at 54s fresh", leeway: 3 * time.Second, elapsed: 54 * time.Second, want: Fresh},
		{name: "leeway 3s raised at 55s unusable", leeway: 3 * time.Second, elapsed: 55 * time.Second, want: Unusable},
		{name: "MinRemaining 3s at 56s stale", minRemaining: 3 * time.Second, elapsed: 56 * time.Second, want: Stale},
		{name: "MinRemaining 3s at 57s unusable", minRemaining: 3 * time.Second, elapsed: 57 * time.Second, want: Unusable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := &testIssuer{}
				c := startCache(t, is, Options{RefreshLeeway: tt.leeway, MinRemaining: tt.minRemaining})
				start := time.Now()
				mustToken(t, c, "k")
				sleepUntil(start, tt.elapsed)

				_, state := c.Lookup("k")
				assert.Equal(t, tt.want, state, "state before the read")
				got := mustToken(t, c, "k")
				synctest.Wait()

				wantCall, wantCalls := int64(1), int64(1)
				switch tt.want {
				case Stale:
					wantCalls = 2 // one background refresh
				case Unusable:
					wantCall, wantCalls = 2, 2
				}
				assert.Equal(t, wantCall, is.callOf(got), "token returned: minted by call")
				assert.Equal(t, wantCalls, is.calls.Load(), "issuer calls")
			})
		})
	}
}

func TestCacheLifetimes(t *testing.T) {
	tests := []struct {
		lifetime    time.Duration
		wantStaleAt time.Duration // after the fetch
	}{
		{lifetime: 20 * time.Second, wantStaleAt: 10 * time.Second},
		{lifetime: 30 * time.Second, wantStaleAt: 15 * time.Second},
		{lifetime: 45 * time.Second, wantStaleAt: 30 * time.Second},
		{lifetime: 120 * time.Second, wantStaleAt: 105 * time.Second},
		{lifetime: 300 * time.Second, wantStaleAt: 285 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := &testIssuer{lifetime: tt.lifetime}
				c := startCache(t, is, Options{})
				start := time.Now()
				mustToken(t, c, "k")

				got := mustToken(t, c, "k")
				assert.Equal(t, int64(1), is.callOf(got), "read at 0s: minted by call")
				e, state := c.Lookup("k")
				assert.Equal(t, Fresh, state, "state at 0s")
				assert.Equal(t, tt.wantStaleAt, e.StaleAt.Sub(e.FetchedAt), "stale after")
				assert.Equal(t, tt.lifetime-DefaultMinRemaining, e.UnusableAt.Sub(e.FetchedAt), "unusable after")
				assert.Equal(t, tt.lifetime, e.Expires.Sub(e.FetchedAt), "expires after")

				sleepUntil(start, tt.lifetime-DefaultMinRemaining-time.Millisecond)
				_, state = c.Lookup("k")
				assert.Equal(t, Stale, state, "state 1ms before MinRemaining is left")

				sleepUntil(start, tt.lifetime)
				_, state = c.Lookup("k")
				assert.Equal(t, Unusable, state, "state at the end of the lifetime")
				got = mustToken(t, c, "k")
				assert.Equal(t, int64(2), is.callOf(got), "read at the end: minted by call")
			})
		})
	}
}

func TestCacheStaleReadsShareOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		is := &testIssuer{before: func(ctx context.Context, _ string, call int64) error {
			if call == 1 {
				return nil
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
		c := startCache(t, is, Options{})
		start := time.Now()
		mustToken(t, c, "k")

		// Two reads in a row at 51 s (9 s left) see the stale token and
		// start one refresh, which the issuer holds.
		sleepUntil(start, 51*time.Second)
		for i := range 2 {
			_, state := c.Lookup("k")
			assert.Equal(t, Stale, state, "state before read %d", i+1)
			got := mustToken(t, c, "k")
			assert.Equal(t, int64(1), is.callOf(got), "read %d: minted by call", i+1)
		}

		// Three concurrent readers get the old token at once.
		got, errs := readConcurrently(c, "k", "k", "k")
		for i := range got {
			assert.NoError(t, errs[i], "reader %d", i+1)
			assert.Equal(t, int64(1), is.callOf(got[i]), "reader %d: minted by call", i+1)
		}
		synctest.Wait()
		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls while the refresh is held")

		// At 56 s the token is unusable, and a caller waits for the same
		// refresh instead of starting another.
		sleepUntil(start, 56*time.Second)
		var wg sync.WaitGroup
		var late string
		var lateErr error
		wg.Go(func() { late, lateErr = c.Token(context.Background(), "k") })
		synctest.Wait()
		close(release)
		wg.Wait()
		require.NoError(t, lateErr)
		assert.Equal(t, int64(2), is.callOf(late), "caller at 56s: minted by call")
		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls")
		assert.Equal(t, uint64(1), c.Stats().SharedWaits, "shared waits")
	})
}

func TestCacheStaleRefreshFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: func(_ context.Context, _ string, call int64) error {
			if call == 2 {
				return errUnavailable
			}
			return nil
		}}
		c := startCache(t, is, Options{})
		start := time.Now()
		mustToken(t, c, "k")

		sleepUntil(start, 46*time.Second)
		got := mustToken(t, c, "k")
		assert.Equal(t, int64(1), is.callOf(got), "read at 46s: minted by call")
		synctest.Wait()
		require.Equal(t, int64(2), is.calls.Load(), "issuer calls after the stale read")
		require.Equal(t, uint64(1), c.Stats().FetchErrors, "fetch errors")

		// The first backoff is at least MinBackoff/2, so reads in the next
		// 400 ms keep the old token and do not fetch.
		for ms := 0; ms < 500; ms += 100 {
			at := 46*time.Second + time.Duration(ms)*time.Millisecond
			sleepUntil(start, at)
			got := mustToken(t, c, "k")
			assert.Equal(t, int64(1), is.callOf(got), "read at %v: minted by call", at)
		}
		synctest.Wait()
		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls during the backoff")

		// After the backoff a read starts the next refresh, which works.
		sleepUntil(start, 48*time.Second)
		got = mustToken(t, c, "k")
		assert.Equal(t, int64(1), is.callOf(got), "read at 48s: minted by call")
		synctest.Wait()
		assert.Equal(t, int64(3), is.calls.Load(), "issuer calls after the backoff")

		got = mustToken(t, c, "k")
		assert.Equal(t, int64(3), is.callOf(got), "read after the refresh: minted by call")
		assert.Equal(t, int64(3), is.calls.Load(), "issuer calls after the new token")
	})
}

func TestCacheKeysFetchSeparately(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(time.Second)}
		c := startCache(t, is, Options{})
		keys := []string{"a", "b", "c"}

		got, errs := readConcurrently(c, slices.Repeat(keys, 3)...)

		for i := range got {
			key := keys[i%len(keys)]
			assert.NoError(t, errs[i], "caller %d", i)
			assert.Equal(t, key, is.keyOf(got[i]), "caller %d: token minted for key", i)
		}
		assert.Equal(t, int64(len(keys)), is.calls.Load(), "issuer calls")
		stats := c.Stats()
		assert.Equal(t, uint64(len(got)), stats.Misses, "misses")
		assert.Equal(t, uint64(len(got)-len(keys)), stats.SharedWaits, "shared waits")
	})
}

func TestCacheThousandCallersOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(100 * time.Millisecond)}
		c := startCache(t, is, Options{})

		const callers = 1000
		var wg sync.WaitGroup
		var failed, other atomic.Int64
		for range callers {
			wg.Go(func() {
				value, err := c.Token(context.Background(), "k")
				if err != nil {
					failed.Add(1)
				} else if is.callOf(value) != 1 {
					other.Add(1)
				}
			})
		}
		wg.Wait()

		assert.Equal(t, int64(1), is.calls.Load(), "issuer calls")
		assert.Zero(t, failed.Load(), "callers with an error")
		assert.Zero(t, other.Load(), "callers with another token")
		assert.Equal(t, uint64(callers-1), c.Stats().SharedWaits, "shared waits")
	})
}

func TestCacheExpiredTokenHerd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(300 * time.Millisecond)}
		c := startCache(t, is, Options{})
		start := time.Now()
		mustToken(t, c, "k")
		sleepUntil(start, 61*time.Second)

		got, errs := readConcurrently(c, slices.Repeat([]string{"k"}, 50)...)

		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls")
		for i := range got {
			assert.NoError(t, errs[i], "caller %d", i)
			assert.Equal(t, int64(2), is.callOf(got[i]), "caller %d: minted by call", i)
		}
		assert.Equal(t, 61300*time.Millisecond, time.Since(start), "time the callers returned")
	})
}

func TestCacheIssuerOutage(t *testing.T) {
	// The token is issued at 0 s and expires at 60 s, RefreshLeeway is
	// 20 s, the issuer fails from 40 s until recoverAt, and a caller reads
	// once a second from 40 s to 59 s.
	tests := []struct {
		name         string
		minRemaining time.Duration
		recoverAt    time.Duration
		firstNew     time.Duration // the first read that gets the new token
	}{
		{
			name:      "recovers at 55s, MinRemaining 5s",
			recoverAt: 55 * time.Second,
			firstNew:  55 * time.Second,
		},
		{
			name:         "recovers at 56s, MinRemaining 3s",
			minRemaining: 3 * time.Second,
			recoverAt:    56 * time.Second,
			firstNew:     57 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				is := &testIssuer{before: func(context.Context, string, int64) error {
					if now := time.Since(start); now >= 40*time.Second && now < tt.recoverAt {
						return errUnavailable
					}
					return nil
				}}
				c := startCache(t, is, Options{RefreshLeeway: 20 * time.Second, MinRemaining: tt.minRemaining})
				mustToken(t, c, "k")

				calls := make(map[time.Duration]int64) // by read time: the call that minted the token read
				for at := 40 * time.Second; at < 60*time.Second; at += time.Second {
					sleepUntil(start, at)
					got, err := c.Token(context.Background(), "k")
					assert.NoError(t, err, "read at %v", at)
					calls[at] = is.callOf(got)
					synctest.Wait()
				}

				last := is.calls.Load()
				for at := 40 * time.Second; at < 60*time.Second; at += time.Second {
					want := int64(1)
					if at >= tt.firstNew {
						want = last
					}
					assert.Equal(t, want, calls[at], "read at %v: minted by call", at)
				}
				// Backoff steps of at least 0.5, 1, 2, 4 and 8 s leave room
				// for at most five failed attempts before the success.
				attempts := last - 1
				assert.GreaterOrEqual(t, attempts, int64(2), "issuer calls from 40s")
				assert.LessOrEqual(t, attempts, int64(6), "issuer calls from 40s")
			})
		})
	}
}

func TestCacheIssuerOutageUnrecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		is := &testIssuer{before: func(context.Context, string, int64) error {
			if time.Since(start) >= 40*time.Second {
				return errUnavailable
			}
			return nil
		}}
		c := startCache(t, is, Options{RefreshLeeway: 20 * time.Second})
		old := mustToken(t, c, "k")

		for at := 40 * time.Second; at < 120*time.Second; at += time.Second {
			sleepUntil(start, at)
			got, err := c.Token(context.Background(), "k")
			synctest.Wait()
			if at < 55*time.Second {
				assert.NoError(t, err, "read at %v", at)
				assert.Equal(t, int64(1), is.callOf(got), "read at %v: minted by call", at)
				continue
			}
			assert.Zero(t, len(got), "read at %v returned a token after the old one became unusable", at)
			requireFetchError(t, err, "k", errUnavailable)
			assertNoToken(t, err.Error(), old)
		}

		// Backoff steps of at least 0.5, 1, 2, 4 and 8 s, the attempt when
		// the token becomes unusable at 55 s, and then steps of at least
		// 15 s leave room for at most ten attempts in 80 reads.
		attempts := is.calls.Load() - 1
		assert.GreaterOrEqual(t, attempts, int64(4), "issuer calls from 40s")
		assert.LessOrEqual(t, attempts, int64(10), "issuer calls from 40s")
		_, state := c.Lookup("k")
		assert.Equal(t, Unusable, state, "state at the end")
	})
}

// callerKey is the context key of the caller's name in the cancel tests.
type callerKey struct{}

func TestCacheCallerCancelsStaleRead(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		var fetchCtxErr error
		var fetchCaller any
		is := &testIssuer{before: func(ctx context.Context, _ string, call int64) error {
			if call == 1 {
				return nil
			}
			err := sleepCtx(ctx, 500*time.Millisecond)
			fetchCtxErr, fetchCaller = ctx.Err(), ctx.Value(callerKey{})
			return err
		}}
		c := startCache(t, is, Options{})
		start := time.Now()
		mustToken(t, c, "k")
		sleepUntil(start, 46*time.Second)

		// Caller A reads the stale token, which starts the refresh, and
		// cancels its context right after the read.
		ctxA, cancelA := context.WithCancel(context.WithValue(context.Background(), callerKey{}, "A"))
		got, err := c.Token(ctxA, "k")
		cancelA()
		require.NoError(t, err)
		assert.Equal(t, int64(1), is.callOf(got), "caller A: minted by call")

		// Callers B and C arrive 100 ms later, while the refresh runs:
		// they get the stale token at once, then the new one once the
		// refresh completes at 46.5 s.
		time.Sleep(100 * time.Millisecond)
		for _, at := range []time.Duration{46100 * time.Millisecond, 46600 * time.Millisecond} {
			sleepUntil(start, at)
			want := int64(1)
			if at > 46500*time.Millisecond {
				want = 2
			}
			var wg sync.WaitGroup
			var gotB, gotC string
			var errB, errC error
			wg.Go(func() { gotB, errB = c.Token(context.Background(), "k") })
			wg.Go(func() { gotC, errC = c.Token(context.Background(), "k") })
			wg.Wait()
			require.NoError(t, errB, "caller B at %v", at)
			require.NoError(t, errC, "caller C at %v", at)
			assert.Equal(t, want, is.callOf(gotB), "caller B at %v: minted by call", at)
			assert.Equal(t, want, is.callOf(gotC), "caller C at %v: minted by call", at)
		}

		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls")
		assert.NoError(t, fetchCtxErr, "context of the refresh when it returned")
		assert.Equal(t, "A", fetchCaller, "value of caller A's context seen by the Fetcher")
	})
}

func TestCacheCallerDeadlineWhileExpired(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(500 * time.Millisecond)}
		c := startCache(t, is, Options{})
		start := time.Now()
		mustToken(t, c, "k")
		sleepUntil(start, 61*time.Second)

		var wg sync.WaitGroup
		var errA, errB error
		var gotB string
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, errA = c.Token(ctx, "k")
		})
		time.Sleep(150 * time.Millisecond)
		wg.Go(func() { gotB, errB = c.Token(context.Background(), "k") })
		wg.Wait()

		assert.ErrorIs(t, errA, context.DeadlineExceeded, "caller A")
		require.NoError(t, errB, "caller B")
		assert.Equal(t, int64(2), is.callOf(gotB), "caller B: minted by call")
		assert.Equal(t, int64(2), is.calls.Load(), "issuer calls")
		assert.Equal(t, uint64(1), c.Stats().SharedWaits, "shared waits")
		assert.Equal(t, 61500*time.Millisecond, time.Since(start), "time caller B returned")
	})
}

func TestCacheClockSkew(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration // the issuer's clock minus the local clock
	}{
		{name: "local clock 90s ahead", skew: -90 * time.Second},
		{name: "local clock 90s behind", skew: 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := &testIssuer{skew: tt.skew}
				c := startCache(t, is, Options{})
				start := time.Now()
				mustToken(t, c, "k")

				e, state := c.Lookup("k")
				assert.Equal(t, Fresh, state, "state after the fetch")
				assert.True(t, e.Token.IssuedAt.Equal(start.Add(tt.skew)),
					"IssuedAt: got %v, want %v", e.Token.IssuedAt, start.Add(tt.skew))
				assert.Equal(t, time.Minute, e.Expires.Sub(e.FetchedAt), "lifetime")

				for at := time.Second; at <= 10*time.Second; at += time.Second {
					sleepUntil(start, at)
					got := mustToken(t, c, "k")
					assert.Equal(t, int64(1), is.callOf(got), "read at %v: minted by call", at)
				}
				synctest.Wait()
				assert.Equal(t, int64(1), is.calls.Load(), "issuer calls over 10 reads")

				sleepUntil(start, 55*time.Second-time.Millisecond)
				_, state = c.Lookup("k")
				assert.Equal(t, Stale, state, "state 1ms before 55s")
				sleepUntil(start, 55*time.Second)
				_, state = c.Lookup("k")
				assert.Equal(t, Unusable, state, "state at 55s")
				got := mustToken(t, c, "k")
				assert.Equal(t, int64(2), is.callOf(got), "read at 55s: minted by call")
			})
		})
	}
}

func TestCacheLateFetchResult(t *testing.T) {
	// The first call ignores its context and returns at 5 s, long after
	// the 1 s FetchTimeout released its caller.
	tests := []struct {
		name     string
		readAt2s bool // whether a read at 2 s fetches a newer token
		wantCall int64
	}{
		{name: "newer token kept", readAt2s: true, wantCall: 2},
		{name: "late token cached", readAt2s: false, wantCall: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := &testIssuer{before: func(_ context.Context, _ string, call int64) error {
					if call == 1 {
						time.Sleep(5 * time.Second)
					}
					return nil
				}}
				c := startCache(t, is, Options{FetchTimeout: time.Second})
				start := time.Now()

				_, err := c.Token(context.Background(), "k")
				requireFetchError(t, err, "k", context.DeadlineExceeded)
				assert.Equal(t, time.Second, time.Since(start), "time the caller was released")

				if tt.readAt2s {
					sleepUntil(start, 2*time.Second)
					got := mustToken(t, c, "k")
					assert.Equal(t, int64(2), is.callOf(got), "read at 2s: minted by call")
				}

				sleepUntil(start, 6*time.Second)
				got := mustToken(t, c, "k")
				assert.Equal(t, tt.wantCall, is.callOf(got), "read at 6s: minted by call")
				e, _ := c.Lookup("k")
				assert.Equal(t, tt.wantCall, is.callOf(e.Token.Value), "cached token: minted by call")
				assert.Equal(t, tt.wantCall, is.calls.Load(), "issuer calls")
			})
		})
	}
}

func TestCacheFetcherPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: func(_ context.Context, _ string, call int64) error {
			if call == 1 {
				panic("issuer client bug")
			}
			return nil
		}}
		c := startCache(t, is, Options{})

		_, err := c.Token(context.Background(), "k")
		requireFetchError(t, err, "k", ErrFetchPanicked)
		assert.Contains(t, err.Error(), "issuer client bug", "error names the panic value")

		_, err = c.Token(context.Background(), "k")
		requireFetchError(t, err, "k", ErrFetchPanicked)
		assert.Equal(t, int64(1), is.calls.Load(), "issuer calls during the backoff")

		time.Sleep(DefaultMinBackoff)
		got := mustToken(t, c, "k")
		assert.Equal(t, int64(2), is.callOf(got), "read after the backoff: minted by call")
	})
}

func TestCacheLifetimeTooShort(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
	}{
		{name: "below MinRemaining", lifetime: 4 * time.Second},
		{name: "equal to MinRemaining", lifetime: DefaultMinRemaining},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := &testIssuer{lifetime: tt.lifetime}
				c := startCache(t, is, Options{})
				start := time.Now()

				// 100 reads over 10 s.
				for at := time.Duration(0); at < 10*time.Second; at += 100 * time.Millisecond {
					sleepUntil(start, at)
					got, err := c.Token(context.Background(), "k")
					assert.Zero(t, len(got), "read at %v returned a token", at)
					requireFetchError(t, err, "k", ErrLifetimeTooShort)
				}

				// Attempts at 0 s and after backoffs of at most 1, 2 and
				// 4 s (plus 100 ms to the next read) come before 10 s. With
				// backoffs of at least 0.5, 1, 2 and 4 s, a sixth cannot.
				calls := is.calls.Load()
				assert.GreaterOrEqual(t, calls, int64(4), "issuer calls in 10s")
				assert.LessOrEqual(t, calls, int64(5), "issuer calls in 10s")
			})
		})
	}
}

func TestCacheFetchOutlastsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A 15 s token is unusable 10 s after its fetch started, so a
		// fetch that takes 12 s returns a token no caller may use.
		is := &testIssuer{lifetime: 15 * time.Second, before: latency(12 * time.Second)}
		c := startCache(t, is, Options{})

		got, err := c.Token(context.Background(), "k")
		assert.Zero(t, len(got), "length of the returned token")
		fe := requireFetchError(t, err, "k", ErrLifetimeTooShort)
		assert.Positive(t, fe.RetryAfter, "backoff after the slow fetch")
		_, state := c.Lookup("k")
		assert.Equal(t, Unusable, state)

		_, err = c.Token(context.Background(), "k")
		requireFetchError(t, err, "k", ErrLifetimeTooShort)
		assert.Equal(t, int64(1), is.calls.Load(), "issuer calls during the backoff")
	})
}

func TestCacheWholeSecondClaims(t *testing.T) {
	tests := []struct {
		name         string
		minRemaining time.Duration
		wantMargin   time.Duration // UnusableAt before the real exp, at least
	}{
		{name: "MinRemaining below the claims' precision", minRemaining: 500 * time.Millisecond, wantMargin: 100 * time.Millisecond},
		{name: "default MinRemaining", minRemaining: 0, wantMargin: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// iat and exp are whole seconds, so a token minted 0.9 s
				// into a second has 0.9 s less to live than exp - iat.
				is := &testIssuer{lifetime: 10 * time.Second}
				c := startCache(t, is, Options{MinRemaining: tt.minRemaining, RefreshLeeway: 2 * time.Second})
				time.Sleep(900 * time.Millisecond)

				e, err := c.Entry(context.Background(), "k")
				require.NoError(t, err)
				margin := e.Token.Expiry.Sub(e.UnusableAt)
				assert.GreaterOrEqual(t, margin, tt.wantMargin, "time from UnusableAt to the real exp")
			})
		})
	}
}

func TestCacheOutageRetryLandsBeforeUnusable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each call takes 500 ms. Calls that arrive from 40 s until 53 s
		// fail, and the token fetched at 0 s is unusable from 55 s. A
		// retry due at 54 s, two fetches before that, therefore succeeds
		// whenever the last failure happened.
		start := time.Now()
		is := &testIssuer{lifetime: time.Minute}
		is.before = func(ctx context.Context, _ string, _ int64) error {
			arrived := time.Since(start)
			if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
				return err
			}
			if arrived >= 40*time.Second && arrived < 53*time.Second {
				return errUnavailable
			}
			return nil
		}
		c := startCache(t, is, Options{RefreshLeeway: 20 * time.Second})
		first := mustToken(t, c, "k")

		var renewedAt time.Duration
		for at := 40 * time.Second; at < 60*time.Second; at += 10 * time.Millisecond {
			sleepUntil(start, at)
			got, err := c.Token(context.Background(), "k")
			require.NoError(t, err, "read at %v", at)
			if renewedAt == 0 && got != first {
				renewedAt = at
			}
		}
		assert.Equal(t, uint64(1), c.Stats().Misses, "reads that waited for a fetch")
		assert.Positive(t, renewedAt, "time of the first read of the new token")
		assert.Less(t, renewedAt, 55*time.Second, "time of the first read of the new token")
	})
}

func TestCacheLookupHasNoSideEffects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{}
		c := startCache(t, is, Options{IdleTimeout: time.Minute})
		start := time.Now()

		e, state := c.Lookup("k")
		assert.Equal(t, Entry{}, e, "entry of a missing key")
		assert.Equal(t, Unusable, state, "state of a missing key")
		assert.Zero(t, c.Len(), "keys after a Lookup of a missing key")

		mustToken(t, c, "k")
		sleepUntil(start, 50*time.Second)
		for range 3 {
			_, state = c.Lookup("k")
			assert.Equal(t, Stale, state, "state at 50s")
		}
		synctest.Wait()
		assert.Equal(t, int64(1), is.calls.Load(), "issuer calls after Lookups of a stale token")

		sleepUntil(start, 56*time.Second)
		for range 2 {
			e, state = c.Lookup("k")
			assert.Equal(t, Unusable, state, "state at 56s")
			assert.Equal(t, int64(1), is.callOf(e.Token.Value), "entry at 56s: minted by call")
		}
		assert.Equal(t, Stats{Misses: 1, Fetches: 1}, c.Stats(), "stats after Lookups")

		// A Lookup at 100 s does not count as a read, so at 130 s "k" has
		// been idle for more than a minute and the sweep after the fetch
		// of another key removes it.
		sleepUntil(start, 100*time.Second)
		c.Lookup("k")
		sleepUntil(start, 130*time.Second)
		mustToken(t, c, "other")
		synctest.Wait()
		assert.Equal(t, []string{"other"}, cacheKeys(c), "keys after the sweep")
	})
}

func TestCacheInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(100 * time.Millisecond)}
		c := startCache(t, is, Options{})
		first := mustToken(t, c, "k")

		assert.False(t, c.Invalidate("missing", first), "Invalidate of a missing key")
		assert.False(t, c.Invalidate("k", "another token"), "Invalidate of another token")
		_, state := c.Lookup("k")
		assert.Equal(t, Fresh, state, "state after Invalidate of another token")

		assert.True(t, c.Invalidate("k", first), "Invalidate of the cached token")
		_, state = c.Lookup("k")
		assert.Equal(t, Unusable, state, "state after Invalidate")
		second := mustToken(t, c, "k")
		assert.Equal(t, int64(2), is.callOf(second), "read after Invalidate: minted by call")

		// A request that failed with the first token does not drop the
		// second one.
		assert.False(t, c.Invalidate("k", first), "Invalidate of the older token")
		e, state := c.Lookup("k")
		assert.Equal(t, Fresh, state, "state after Invalidate of the older token")
		assert.Equal(t, int64(2), is.callOf(e.Token.Value), "cached token: minted by call")

		// Ten requests rejected with the same token cause one fetch.
		var wg sync.WaitGroup
		var dropped, wrong atomic.Int64
		for range 10 {
			wg.Go(func() {
				if c.Invalidate("k", second) {
					dropped.Add(1)
				}
				value, err := c.Token(context.Background(), "k")
				if err != nil || is.callOf(value) != 3 {
					wrong.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(1), dropped.Load(), "Invalidate calls that dropped the token")
		assert.Zero(t, wrong.Load(), "callers without the third token")
		assert.Equal(t, int64(3), is.calls.Load(), "issuer calls")
	})
}

func TestCacheDeleteAndClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: func(ctx context.Context, key string, _ int64) error {
			if key == "slow" {
				return sleepCtx(ctx, time.Second)
			}
			return nil
		}}
		c := startCache(t, is, Options{})
		mustToken(t, c, "a")
		mustToken(t, c, "b")
		require.Equal(t, 2, c.Len(), "keys")

		c.Delete("a")
		assert.Equal(t, []string{"b"}, cacheKeys(c), "keys after Delete")
		e, state := c.Lookup("a")
		assert.Equal(t, Unusable, state, "state after Delete")
		assert.Equal(t, Entry{}, e, "entry after Delete")
		got := mustToken(t, c, "a")
		assert.Equal(t, int64(3), is.callOf(got), "read after Delete: minted by call")

		c.Clear()
		assert.Zero(t, c.Len(), "keys after Clear")
		_, state = c.Lookup("b")
		assert.Equal(t, Unusable, state, "state after Clear")

		// A fetch in progress during Delete still serves its caller, but
		// its token is not cached.
		var wg sync.WaitGroup
		var slow string
		var slowErr error
		wg.Go(func() { slow, slowErr = c.Token(context.Background(), "slow") })
		synctest.Wait()
		c.Delete("slow")
		wg.Wait()
		require.NoError(t, slowErr)
		assert.Equal(t, int64(4), is.callOf(slow), "caller during Delete: minted by call")
		_, state = c.Lookup("slow")
		assert.Equal(t, Unusable, state, "state of the deleted key after its fetch")
		assert.Zero(t, c.Len(), "keys after the fetch of a deleted key")
	})
}

func TestCacheRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: latency(time.Second)}
		c := startCache(t, is, Options{})
		start := time.Now()

		assert.True(t, c.Refresh(context.Background(), "k"), "Refresh of a new key")
		assert.False(t, c.Refresh(context.Background(), "k"), "Refresh while a fetch runs")
		sleepUntil(start, time.Second)
		synctest.Wait()
		e, state := c.Lookup("k")
		assert.Equal(t, Fresh, state, "state after Refresh")
		assert.Equal(t, int64(1), is.callOf(e.Token.Value), "cached token: minted by call")

		// MinBackoff is also the least time between two successful fetches.
		assert.False(t, c.Refresh(context.Background(), "k"), "Refresh right after a fetch")
		sleepUntil(start, 3*time.Second)
		assert.True(t, c.Refresh(context.Background(), "k"), "Refresh of a fresh token")
		sleepUntil(start, 4*time.Second)
		synctest.Wait()
		e, _ = c.Lookup("k")
		assert.Equal(t, int64(2), is.callOf(e.Token.Value), "token after the second Refresh: minted by call")
		assert.Equal(t, uint64(2), c.Stats().BackgroundFetches, "background fetches")
	})
}

func TestCacheClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		fetchCtxErr := make(chan error, 1)
		f := FetcherFunc(func(ctx context.Context, key string) (Token, error) {
			if key == "blocked" {
				<-ctx.Done()
				fetchCtxErr <- ctx.Err()
				return Token{}, ctx.Err()
			}
			return Token{Value: "opaque-" + key, Lifetime: time.Minute}, nil
		})
		c := NewCache(f, Options{})
		start := time.Now()
		mustToken(t, c, "stale")
		sleepUntil(start, 40*time.Second)
		mustToken(t, c, "fresh")
		sleepUntil(start, 50*time.Second)

		var wg sync.WaitGroup
		var blockedErr error
		wg.Go(func() { _, blockedErr = c.Token(context.Background(), "blocked") })
		synctest.Wait()
		fetchesBefore := c.Stats().Fetches

		require.NoError(t, c.Close())
		wg.Wait()
		requireFetchError(t, blockedErr, "blocked", ErrClosed)
		select {
		case err := <-fetchCtxErr:
			assert.ErrorIs(t, err, context.Canceled, "context of the fetch in progress")
		default:
			t.Error("Close returned before the Fetcher did")
		}

		_, err := c.Token(context.Background(), "new")
		assert.ErrorIs(t, err, ErrClosed, "Token of a new key")
		assert.False(t, c.Refresh(context.Background(), "fresh"), "Refresh after Close")
		got, err := c.Token(context.Background(), "fresh")
		assert.NoError(t, err, "Token of a fresh key")
		assert.Equal(t, "opaque-fresh", got, "Token of a fresh key")
		got, err = c.Token(context.Background(), "stale")
		assert.NoError(t, err, "Token of a stale key")
		assert.Equal(t, "opaque-stale", got, "Token of a stale key")
		synctest.Wait()
		assert.Equal(t, fetchesBefore, c.Stats().Fetches, "fetches after Close")
		assert.NoError(t, c.Close(), "second Close")
	})
}

func TestCacheCloseReportsErrClosed(t *testing.T) {
	// The Fetcher and the completion on cancellation race to complete the
	// fetch that Close cancels, so the test repeats the scenario.
	synctest.Test(t, func(t *testing.T) {
		f := FetcherFunc(func(ctx context.Context, _ string) (Token, error) {
			<-ctx.Done()
			return Token{}, ctx.Err()
		})
		for run := 1; run <= 100; run++ {
			c := NewCache(f, Options{})
			var wg sync.WaitGroup
			var err error
			wg.Go(func() { _, err = c.Token(context.Background(), "k") })
			synctest.Wait()
			c.Close()
			wg.Wait()
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("run %d: got error %v, want one that wraps ErrClosed", run, err)
			}
		}
	})
}

func TestCacheCloseWaitsForHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The Fetcher returns 10 ms after its context ends, so the flight
		// is completed with ErrClosed before the Fetcher returns.
		f := FetcherFunc(func(ctx context.Context, _ string) (Token, error) {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond)
			return Token{}, ctx.Err()
		})
		var hookDone atomic.Bool
		c := NewCache(f, Options{OnFetchError: func(string, error) {
			time.Sleep(time.Second)
			hookDone.Store(true)
		}})
		go c.Token(context.Background(), "k")
		synctest.Wait()

		c.Close()
		assert.True(t, hookDone.Load(), "OnFetchError still ran after Close returned")
	})
}

func TestCacheIdleEviction(t *testing.T) {
	tests := []struct {
		name        string
		idleTimeout time.Duration
		wantAt180s  []string // keys left after the sweep at 180 s
		wantAt400s  []string // keys left after the sweep at 400 s
	}{
		{
			name:        "idle timeout 1m",
			idleTimeout: time.Minute,
			wantAt180s:  []string{"failing", "long", "trigger1"},
			wantAt400s:  []string{"trigger2"},
		},
		{
			name:        "never idle",
			idleTimeout: -1,
			wantAt180s:  []string{"failing", "long", "short", "trigger1"},
			wantAt400s:  []string{"failing", "long", "short", "trigger1", "trigger2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := FetcherFunc(func(_ context.Context, key string) (Token, error) {
					switch key {
					case "failing":
						return Token{}, errUnavailable
					case "long":
						return Token{Value: "opaque-long", Lifetime: 5 * time.Minute}, nil
					}
					return Token{Value: "opaque-" + key, Lifetime: time.Minute}, nil
				})
				c := startCache(t, f, Options{IdleTimeout: tt.idleTimeout})
				start := time.Now()

				// "short" is unusable from 55 s and "long" from 295 s.
				// "failing" has no token and was read at 150 s.
				mustToken(t, c, "short")
				mustToken(t, c, "long")
				sleepUntil(start, 150*time.Second)
				_, err := c.Token(context.Background(), "failing")
				require.Error(t, err)

				// Each fetch ends with a sweep, at most once per half
				// IdleTimeout.
				sleepUntil(start, 180*time.Second)
				mustToken(t, c, "trigger1")
				synctest.Wait()
				assert.Equal(t, tt.wantAt180s, cacheKeys(c), "keys after the sweep at 180s")

				sleepUntil(start, 400*time.Second)
				mustToken(t, c, "trigger2")
				synctest.Wait()
				assert.Equal(t, tt.wantAt400s, cacheKeys(c), "keys after the sweep at 400s")

				wantEvictions := 5 - len(tt.wantAt400s)
				assert.Equal(t, uint64(wantEvictions), c.Stats().Evictions, "evictions")
			})
		})
	}
}

func TestCacheStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := &testIssuer{before: func(ctx context.Context, key string, _ int64) error {
			if err := sleepCtx(ctx, time.Second); err != nil {
				return err
			}
			if key == "bad" {
				return errUnavailable
			}
			return nil
		}}
		c := startCache(t, is, Options{})
		start := time.Now()

		// Two misses at 0 s share one fetch.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { c.Token(context.Background(), "a") })
		}
		wg.Wait()
		assert.Equal(t, Stats{Misses: 2, SharedWaits: 1, Fetches: 1}, c.Stats(), "after two misses")

		sleepUntil(start, 2*time.Second)
		mustToken(t, c, "a") // fresh

		// Two stale reads at 46 s start one background fetch.
		sleepUntil(start, 46*time.Second)
		mustToken(t, c, "a")
		mustToken(t, c, "a")
		sleepUntil(start, 48*time.Second)
		mustToken(t, c, "a") // fresh again

		// A failed fetch, then a read during its backoff.
		_, err := c.Token(context.Background(), "bad")
		require.Error(t, err)
		_, err = c.Token(context.Background(), "bad")
		require.Error(t, err)
		synctest.Wait()

		want := Stats{
			FreshHits:         2,
			StaleHits:         2,
			Misses:            4,
			SharedWaits:       1,
			Fetches:           3,
			BackgroundFetches: 1,
			FetchErrors:       1,
		}
		assert.Equal(t, want, c.Stats())
	})
}

func TestCacheHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var refreshKeys, errorKeys []string
		var refreshed []Entry
		var fetchErrs []error
		opts := Options{
			OnRefresh: func(key string, e Entry) {
				mu.Lock()
				defer mu.Unlock()
				refreshKeys = append(refreshKeys, key)
				refreshed = append(refreshed, e)
			},
			OnFetchError: func(key string, err error) {
				mu.Lock()
				defer mu.Unlock()
				errorKeys = append(errorKeys, key)
				fetchErrs = append(fetchErrs, err)
			},
		}
		is := &testIssuer{before: func(_ context.Context, key string, _ int64) error {
			if key == "bad" {
				return errUnavailable
			}
			return nil
		}}
		c := startCache(t, is, opts)
		start := time.Now()

		mustToken(t, c, "a")
		_, err := c.Token(context.Background(), "bad")
		require.Error(t, err)
		sleepUntil(start, 46*time.Second)
		mustToken(t, c, "a") // starts a background refresh
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"a", "a"}, refreshKeys, "OnRefresh keys")
		if assert.Len(t, refreshed, 2, "OnRefresh calls") {
			for i, e := range refreshed {
				assert.Equal(t, int64(2*i+1), is.callOf(e.Token.Value), "OnRefresh %d: minted by call", i+1)
				assert.Equal(t, time.Minute, e.Expires.Sub(e.FetchedAt), "OnRefresh %d: lifetime", i+1)
			}
			assert.True(t, refreshed[1].FetchedAt.Equal(start.Add(46*time.Second)),
				"FetchedAt of the refresh: got %v, want %v", refreshed[1].FetchedAt, start.Add(46*time.Second))
		}
		assert.Equal(t, []string{"bad"}, errorKeys, "OnFetchError keys")
		if assert.Len(t, fetchErrs, 1, "OnFetchError calls") {
			requireFetchError(t, fetchErrs[0], "bad", errUnavailable)
		}
	})
}

func TestCacheLoggerOmitsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, buf := debugLogger()
		is := &testIssuer{before: func(_ context.Context, key string, _ int64) error {
			if key == "bad" {
				return errUnavailable
			}
			return nil
		}}
		c := startCache(t, is, Options{Logger: logger})

		value := mustToken(t, c, "good")
		_, err := c.Token(context.Background(), "bad")
		require.Error(t, err)
		synctest.Wait()

		out := buf.String()
		assertNoToken(t, out, value)
		assert.Contains(t, out, "level=DEBUG msg=\"swrtoken: token fetched\" key=good fingerprint="+Fingerprint(value))
		assert.Contains(t, out, "level=WARN msg=\"swrtoken: token fetch failed\" key=bad")
		assert.Contains(t, out, errUnavailable.Error())
	})
}

func TestCacheErrorsOmitToken(t *testing.T) {
	tests := []struct {
		name    string
		tok     func(now time.Time) Token
		wantErr error
	}{
		{
			name: "lifetime equal to MinRemaining",
			tok: func(now time.Time) Token {
				return Token{Value: testJWT(map[string]any{
					"iat": now.Unix(), "exp": now.Add(DefaultMinRemaining).Unix(), "sub": "secret-subject",
				})}
			},
			wantErr: ErrLifetimeTooShort,
		},
		{
			name: "exp before iat",
			tok: func(now time.Time) Token {
				return Token{Value: testJWT(map[string]any{
					"iat": now.Unix(), "exp": now.Add(-time.Minute).Unix(), "sub": "secret-subject",
				})}
			},
			wantErr: ErrLifetimeTooShort,
		},
		{
			name:    "opaque without lifetime",
			tok:     func(time.Time) Token { return Token{Value: "opaque-secret-token-value"} },
			wantErr: ErrMalformedJWT,
		},
		{
			name: "JWT without exp",
			tok: func(now time.Time) Token {
				return Token{Value: testJWT(map[string]any{"iat": now.Unix(), "sub": "secret-subject"})}
			},
			wantErr: ErrMalformedJWT,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logger, buf := debugLogger()
				tok := tt.tok(time.Now())
				f := FetcherFunc(func(context.Context, string) (Token, error) { return tok, nil })
				c := startCache(t, f, Options{Logger: logger})

				// The second read fails from the backoff without a fetch.
				for i := range 2 {
					got, err := c.Token(context.Background(), "k")
					assert.Zero(t, len(got), "read %d returned a token", i+1)
					requireFetchError(t, err, "k", tt.wantErr)
					assertNoToken(t, err.Error(), tok.Value)
				}
				synctest.Wait()
				assertNoToken(t, buf.String(), tok.Value)
				assert.Contains(t, buf.String(), "level=WARN", "log of the rejected token")
			})
		})
	}
}
