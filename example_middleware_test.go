package swrtoken_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// A server protects one route and serves another to everyone, signed in
// or not. The test issuer replaces the real one.
func ExampleMiddleware() {
	issuer := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	defer issuer.Close()

	mw, err := swrtoken.NewMiddleware(swrtoken.MiddlewareOptions{
		JWKSURL:    issuer.JWKSURL(),
		HTTPClient: issuer.Client(), // a real server leaves it nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer mw.Close()

	mux := http.NewServeMux()
	mux.Handle("/account", mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := swrtoken.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "account of %s", claims.Subject)
	})))
	mux.Handle("/", mw.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if claims, ok := swrtoken.ClaimsFromContext(r.Context()); ok {
			fmt.Fprintf(w, "welcome back, %s", claims.Subject)
			return
		}
		fmt.Fprint(w, "welcome, guest")
	})))

	get := func(path, token string) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			r.AddCookie(&http.Cookie{Name: swrtoken.DefaultCookieName, Value: token})
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Printf("GET %s: %d %s\n", path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	token := issuer.Mint("sess_abc")
	get("/account", token)
	get("/account", "")
	get("/", token)
	get("/", "")

	// Output:
	// GET /account: 200 account of user_abc
	// GET /account: 401 401 Unauthorized: a session token is required
	// GET /: 200 welcome back, user_abc
	// GET /: 200 welcome, guest
}
