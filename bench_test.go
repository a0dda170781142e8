package swrtoken

import (
	"context"
	"testing"
	"time"
)

// newBenchCache returns a cache holding a fresh opaque token for "k".
func newBenchCache(b *testing.B) *Cache {
	b.Helper()
	c := NewCache(FetcherFunc(func(context.Context, string) (Token, error) {
		return Token{Value: "opaque-benchmark-token", Lifetime: time.Hour}, nil
	}), Options{})
	b.Cleanup(func() { c.Close() })
	if _, err := c.Token(context.Background(), "k"); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkTokenFresh(b *testing.B) {
	c := newBenchCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenFreshParallel(b *testing.B) {
	c := newBenchCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Token(ctx, "k"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		_ = time.Now()
	}
}
