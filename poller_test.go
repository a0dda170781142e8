package swrtoken

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestPollerRenewsBeforeStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var fetchedAt []time.Duration
		fetcher := FetcherFunc(func(context.Context, string) (Token, error) {
			mu.Lock()
			defer mu.Unlock()
			fetchedAt = append(fetchedAt, time.Since(start))
			n := len(fetchedAt)
			return Token{Value: "token-" + strconv.Itoa(n), Lifetime: 60 * time.Second}, nil
		})
		cache := NewCache(fetcher, Options{})
		defer cache.Close()
		poller := StartPoller(cache, PollerOptions{})
		defer poller.Stop()

		// A reader that reads once a second for two token lifetimes.
		for range 120 {
			_, err := cache.Token(context.Background(), "api")
			require.NoError(t, err)
			time.Sleep(time.Second)
		}

		stats := cache.Stats()
		assert.Zero(t, stats.StaleHits, "stale reads")
		assert.Equal(t, uint64(1), stats.Misses, "misses: only the first read")
		mu.Lock()
		defer mu.Unlock()
		require.GreaterOrEqual(t, len(fetchedAt), 2, "fetches")
		renewal := fetchedAt[1] - fetchedAt[0]
		assert.GreaterOrEqual(t, renewal, 40*time.Second, "renewal after issue")
		assert.Less(t, renewal, 45*time.Second, "renewal after issue")
	})
}

func TestPollerSkipsIdleKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fetcher := &sequenceFetcher{lifetime: 60 * time.Second}
		cache := NewCache(fetcher, Options{IdleTimeout: 30 * time.Second})
		defer cache.Close()
		poller := StartPoller(cache, PollerOptions{})
		defer poller.Stop()

		_, err := cache.Token(context.Background(), "api")
		require.NoError(t, err)
		time.Sleep(50 * time.Second) // idle since 30 s, stale since 45 s
		assert.Equal(t, int64(1), fetcher.calls.Load(), "fetches of an idle key")
		assert.Equal(t, 1, cache.Len(), "keys while the token is usable")

		time.Sleep(10 * time.Second) // unusable since 55 s
		assert.Equal(t, 0, cache.Len(), "keys after the token became unusable")
		assert.Equal(t, uint64(1), cache.Stats().Evictions)
	})
}

func TestPollerLimitsConcurrentFetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, peak atomic.Int64
		var calls atomic.Int64
		fetcher := FetcherFunc(func(context.Context, string) (Token, error) {
			calls.Add(1)
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
			return Token{Value: "token", Lifetime: 60 * time.Second}, nil
		})
		cache := NewCache(fetcher, Options{})
		defer cache.Close()
		for i := range 20 {
			_, err := cache.Token(context.Background(), "key-"+strconv.Itoa(i))
			require.NoError(t, err)
		}
		peak.Store(0)
		poller := StartPoller(cache, PollerOptions{MaxConcurrent: 3})
		defer poller.Stop()

		time.Sleep(41 * time.Second) // past the pass at 40 s
		assert.Equal(t, int64(40), calls.Load(), "fetches: 20 first ones and 20 renewals")
		assert.Equal(t, int64(3), peak.Load(), "most renewals at once")
	})
}

func TestPollerStopIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := NewCache(&sequenceFetcher{lifetime: time.Minute}, Options{})
		defer cache.Close()
		poller := StartPoller(cache, PollerOptions{})
		poller.Stop()
		poller.Stop()
	})
}

func TestPollerStartStopCycles(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		fetcher := &sequenceFetcher{lifetime: 2 * time.Second, delay: 20 * time.Millisecond}
		for i := range 1000 {
			cache := NewCache(fetcher, Options{MinRemaining: 500 * time.Millisecond})
			poller := StartPoller(cache, PollerOptions{Interval: 100 * time.Millisecond})
			_, err := cache.Token(context.Background(), "api")
			require.NoError(t, err)
			// Stop at varied points: between passes, during a renewal.
			time.Sleep(time.Duration(i%17) * 100 * time.Millisecond)
			poller.Stop()
			require.NoError(t, cache.Close())
		}
		calls := fetcher.calls.Load()
		time.Sleep(time.Minute)
		assert.Equal(t, calls, fetcher.calls.Load(), "fetches after every poller stopped")
		assert.Greater(t, calls, int64(1000), "renewals happened before the stops")
	})
}
