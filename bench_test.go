package swrtoken

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
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

// benchmarkRoundTrip sends GET requests through rt to a loopback server.
func benchmarkRoundTrip(b *testing.B, rt func(base http.RoundTripper) http.RoundTripper) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: rt(base)}
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkRoundTripBare(b *testing.B) {
	benchmarkRoundTrip(b, func(base http.RoundTripper) http.RoundTripper { return base })
}

func BenchmarkRoundTripTransport(b *testing.B) {
	c := newBenchCache(b)
	benchmarkRoundTrip(b, func(base http.RoundTripper) http.RoundTripper {
		return &Transport{Cache: c, Key: "k", Base: base}
	})
}

// BenchmarkEntryMemory reports the heap bytes that each of 100,000 cached
// keys costs beyond its token text.
func BenchmarkEntryMemory(b *testing.B) {
	const keys = 100_000
	token := strings.Repeat("t", 600) // a typical session JWT's length
	for b.Loop() {
		c := NewCache(FetcherFunc(func(context.Context, string) (Token, error) {
			// A copy per key, as each fetch would return its own text.
			return Token{Value: strings.Clone(token), Lifetime: time.Hour}, nil
		}), Options{})
		names := make([]string, keys)
		for i := range names {
			names[i] = "sess_" + strconv.Itoa(i)
		}
		before := heapInUse()
		for _, key := range names {
			if _, err := c.Token(context.Background(), key); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/keys-float64(len(token)), "B/entry")
		runtime.KeepAlive(names)
		c.Close()
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
