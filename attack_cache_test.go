package swrtoken

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// unsignedJWT returns a JWT with the given payload and no valid
// signature, which is all the cache reads.
func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
}

// A token whose lifetime does not fit in a time.Duration once added to
// the cache's clock must stay usable, not overflow into "too short" or
// into an end before its start.
func TestAttackCacheHugeLifetime(t *testing.T) {
	tests := []struct {
		name  string
		token func() Token
	}{
		{"opaque, maximum Lifetime", func() Token {
			return Token{Value: "opaque-forever", Lifetime: math.MaxInt64}
		}},
		{"JWT expiring in the year 9999", func() Token {
			return Token{Value: unsignedJWT(fmt.Sprintf(`{"iat":%d,"exp":253402300799}`, time.Now().Unix()))}
		}},
	}
	for _, tt := range tests {
		for _, wait := range []time.Duration{0, 10 * time.Second} {
			t.Run(fmt.Sprintf("%s, fetched %v after NewCache", tt.name, wait), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := NewCache(FetcherFunc(func(context.Context, string) (Token, error) {
						return tt.token(), nil
					}), Options{})
					defer c.Close()
					time.Sleep(wait)

					e, err := c.Entry(context.Background(), "k")
					if err != nil {
						t.Fatalf("Entry: error %v, want none", err)
					}
					if !e.Expires.After(e.FetchedAt) {
						t.Errorf("Expires = %v, want after FetchedAt %v", e.Expires, e.FetchedAt)
					}
					if !e.StaleAt.After(e.FetchedAt) {
						t.Errorf("StaleAt = %v, want after FetchedAt %v", e.StaleAt, e.FetchedAt)
					}
				})
			})
		}
	}
}

// Tokens that end before they start, or are already expired, are fetch
// errors with a backoff, not a fetch per read.
func TestAttackCacheBackwardsToken(t *testing.T) {
	tests := []struct {
		name  string
		token Token
	}{
		{"exp before iat", Token{Value: unsignedJWT(`{"iat":2000000000,"exp":1000000000}`)}},
		{"negative Lifetime and no exp", Token{Value: "opaque", Lifetime: -time.Hour}},
		{"exp without iat, in the past", Token{Value: unsignedJWT(`{"exp":1}`)}},
		{"exp a word", Token{Value: unsignedJWT(`{"exp":"soon"}`)}},
		{"exp beyond float64", Token{Value: unsignedJWT(`{"exp":1e999}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var fetches atomic.Int32
				c := NewCache(FetcherFunc(func(context.Context, string) (Token, error) {
					fetches.Add(1)
					return tt.token, nil
				}), Options{})
				defer c.Close()

				for range 20 {
					if _, err := c.Token(context.Background(), "k"); err == nil {
						t.Fatal("Token: error = nil, want a fetch error")
					}
				}
				if got := fetches.Load(); got != 1 {
					t.Errorf("fetches after 20 reads = %d, want 1", got)
				}
			})
		})
	}
}

// A Fetcher that ignores its context still releases its callers at
// FetchTimeout. Close then waits for it, as documented.
func TestAttackCacheFetcherIgnoresContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := NewCache(FetcherFunc(func(context.Context, string) (Token, error) {
			<-release
			return Token{Value: "late", Lifetime: time.Hour}, nil
		}), Options{FetchTimeout: time.Second})

		start := time.Now()
		_, err := c.Token(context.Background(), "k")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Token: error %v, want one wrapping context.DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("Token waited %v, want %v", waited, time.Second)
		}

		closed := make(chan struct{})
		go func() {
			c.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Error("Close returned while the Fetcher still ran")
		default:
		}
		close(release)
		<-closed
	})
}

// Every method of the cache runs at once from many goroutines, then
// Close: no race, no panic, no goroutine left, and no call after Close
// starts a fetch.
func TestAttackCacheConcurrentChaos(t *testing.T) {
	defer goleak.VerifyNone(t)
	var fetches atomic.Int64
	c := NewCache(FetcherFunc(func(ctx context.Context, key string) (Token, error) {
		n := fetches.Add(1)
		if n%7 == 0 {
			return Token{}, errors.New("flaky issuer")
		}
		return Token{Value: fmt.Sprintf("%s-%d", key, n), Lifetime: time.Hour}, nil
	}), Options{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	p := StartPoller(c, PollerOptions{Interval: time.Millisecond})

	keys := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ctx := context.Background()
			for i := range 300 {
				key := keys[(g+i)%len(keys)]
				switch (g + i) % 8 {
				case 0, 1, 2:
					if tok, err := c.Token(ctx, key); err == nil && tok == "" {
						t.Error("Token returned an empty token without an error")
					}
				case 3:
					if tok, err := c.Token(ctx, key); err == nil {
						c.Invalidate(key, tok)
					}
				case 4:
					c.Refresh(ctx, key)
				case 5:
					c.Delete(key)
				case 6:
					c.Lookup(key)
					c.Len()
					c.Stats()
				case 7:
					if i%50 == 0 {
						c.Clear()
					}
				}
			}
		})
	}
	wg.Wait()
	p.Stop()
	c.Close()

	after := fetches.Load()
	c.Refresh(context.Background(), "a")
	if _, err := c.Token(context.Background(), "new-key"); !errors.Is(err, ErrClosed) {
		t.Errorf("Token after Close: error %v, want ErrClosed", err)
	}
	if got := fetches.Load(); got != after {
		t.Errorf("fetches after Close = %d, want %d", got, after)
	}
}
