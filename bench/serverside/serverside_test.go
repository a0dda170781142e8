package serverside

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// algorithms are the signing algorithms compared.
var algorithms = []string{"RS256", "ES256"}

// jwksOf returns the JWKS document of issuer, read in-process.
func jwksOf(tb testing.TB, issuer *swrtokentest.Issuer) []byte {
	tb.Helper()
	rec := httptest.NewRecorder()
	issuer.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("JWKS status = %d, want 200", rec.Code)
	}
	return rec.Body.Bytes()
}

// middleware is one implementation under comparison.
type middleware struct {
	name string
	wrap func(tb testing.TB, jwks []byte, alg string) func(http.Handler) http.Handler
}

// middlewares returns the swrtoken middleware with its cache of verified
// tokens (the default) and without it, and the keyfunc baseline.
func middlewares() []middleware {
	swr := func(cacheSize int) func(testing.TB, []byte, string) func(http.Handler) http.Handler {
		return func(tb testing.TB, jwks []byte, _ string) func(http.Handler) http.Handler {
			tb.Helper()
			mw, err := swrtoken.NewMiddleware(swrtoken.MiddlewareOptions{
				JWKS: jwks, VerifiedCacheSize: cacheSize,
			})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { mw.Close() })
			return mw.RequireAuth
		}
	}
	return []middleware{
		{"swrtoken-cached", swr(0)},
		{"swrtoken-uncached", swr(-1)},
		{"jwt-keyfunc", func(tb testing.TB, jwks []byte, alg string) func(http.Handler) http.Handler {
			tb.Helper()
			wrap, err := NewKeyfuncMiddleware(jwks, []string{alg})
			if err != nil {
				tb.Fatal(err)
			}
			return wrap
		}},
	}
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// okHandler records whether a request reached it with a session id.
func okHandler(reached *bool) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		c1, ok1 := swrtoken.ClaimsFromContext(r.Context())
		c2, ok2 := ClaimsFromContext(r.Context())
		*reached = (ok1 && c1.SessionID != "") || (ok2 && c2.SessionID != "")
	})
}

func TestMiddlewaresVerifyTokens(t *testing.T) {
	for _, alg := range algorithms {
		issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{Algorithm: alg, Lifetime: time.Hour})
		t.Cleanup(issuer.Close)
		jwks := jwksOf(t, issuer)
		valid := issuer.Mint("sess_test")
		parts := strings.Split(valid, ".")
		otherSession := strings.Split(issuer.Mint("sess_other"), ".")
		forged := parts[0] + "." + otherSession[1] + "." + parts[2]
		expired := issuer.MintWith(swrtokentest.MintOptions{
			SessionID: "sess_test", IssuedAt: time.Now().Add(-2 * time.Hour),
		})

		for _, mw := range middlewares() {
			for _, tc := range []struct {
				name   string
				token  string
				reject bool
			}{
				{"valid", valid, false},
				{"forged payload", forged, true},
				{"expired", expired, true},
			} {
				t.Run(alg+"/"+mw.name+"/"+tc.name, func(t *testing.T) {
					var reached bool
					h := mw.wrap(t, jwks, alg)(okHandler(&reached))
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, bearerRequest(tc.token))
					if tc.reject {
						if rec.Code != http.StatusUnauthorized {
							t.Errorf("status = %d, want 401", rec.Code)
						}
						if reached {
							t.Errorf("handler reached = true, want false")
						}
						return
					}
					if rec.Code != http.StatusOK {
						t.Errorf("status = %d, want 200", rec.Code)
					}
					if !reached {
						t.Errorf("handler reached with claims = false, want true")
					}
				})
			}
		}
	}
}
