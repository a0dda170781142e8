package scenario

import (
	"context"
	"testing"
)

// newFreshClient returns a client of peer that holds a token which needs
// no refresh for the whole benchmark.
func newFreshClient(b *testing.B, peer Peer) Client {
	b.Helper()
	c := peer.New(NewSource(SourceOptions{Lifetime: baselineLifetime}), PeerOptions{})
	b.Cleanup(c.Close)
	if _, err := c.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkFreshRead reads a fresh token from one goroutine.
func BenchmarkFreshRead(b *testing.B) {
	for _, peer := range Peers() {
		b.Run("peer="+peer.Name, func(b *testing.B) {
			c := newFreshClient(b, peer)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFreshReadParallel reads a fresh token from GOMAXPROCS
// goroutines at once.
func BenchmarkFreshReadParallel(b *testing.B) {
	for _, peer := range Peers() {
		b.Run("peer="+peer.Name, func(b *testing.B) {
			c := newFreshClient(b, peer)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Token(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
