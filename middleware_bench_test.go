package swrtoken

import (
	"net/http"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

// discardWriter is a ResponseWriter that keeps only the status, so that
// benchmarks measure the middleware rather than a recorder.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkMiddleware measures one request through RequireAuth with a
// bearer token, to a handler that does nothing: verify=cached finds the
// token in the verified cache, verify=full checks its signature each
// time. Compare with benchstat.
func BenchmarkMiddleware(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		for _, mode := range []struct {
			name      string
			cacheSize int
		}{{"cached", 0}, {"full", -1}} {
			b.Run("alg="+alg+"/verify="+mode.name, func(b *testing.B) {
				benchmarkMiddleware(b, alg, mode.cacheSize)
			})
		}
	}
}

func benchmarkMiddleware(b *testing.B, alg string, cacheSize int) {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{Algorithm: alg, Lifetime: time.Hour})
	defer issuer.Close()
	mw, err := NewMiddleware(MiddlewareOptions{JWKS: jwksOf(issuer), VerifiedCacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	defer mw.Close()
	h := mw.RequireAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := bearerRequest(issuer.Mint("sess_bench"))
	w := &discardWriter{header: make(http.Header)}

	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.code != 0 {
		b.Fatalf("middleware wrote status %d, want the request to reach the handler", w.code)
	}
}
