package serverside

import (
	"net/http"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

// discardWriter is a ResponseWriter that keeps only the status, so that
// the benchmarks measure the middleware rather than a recorder.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// noop is the handler behind the middleware.
var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkVerify sends the same request with a valid bearer token
// through each middleware, from one goroutine.
func BenchmarkVerify(b *testing.B) {
	benchmarkVerify(b, func(b *testing.B, h http.Handler, r *http.Request) {
		w := &discardWriter{header: make(http.Header)}
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		if w.code != 0 {
			b.Fatalf("middleware wrote status %d, want the request to reach the handler", w.code)
		}
	})
}

// BenchmarkVerifyParallel is BenchmarkVerify from GOMAXPROCS goroutines.
func BenchmarkVerifyParallel(b *testing.B) {
	benchmarkVerify(b, func(b *testing.B, h http.Handler, r *http.Request) {
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{header: make(http.Header)}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
			if w.code != 0 {
				b.Errorf("middleware wrote status %d, want the request to reach the handler", w.code)
			}
		})
	})
}

func benchmarkVerify(b *testing.B, loop func(*testing.B, http.Handler, *http.Request)) {
	for _, alg := range algorithms {
		issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{Algorithm: alg, Lifetime: time.Hour})
		jwks := jwksOf(b, issuer)
		token := issuer.Mint("sess_bench")
		for _, mw := range middlewares() {
			b.Run("alg="+alg+"/impl="+mw.name, func(b *testing.B) {
				h := mw.wrap(b, jwks, alg)(noop)
				r := bearerRequest(token)
				b.ReportAllocs()
				b.ResetTimer()
				loop(b, h, r)
			})
		}
		issuer.Close()
	}
}
