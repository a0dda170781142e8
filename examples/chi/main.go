// Command chi shows the session middleware in a chi router. It starts a
// test issuer on loopback, puts the middleware in front of every route
// in optional mode, requires a session on one route, and plays a browser
// whose session cookie is renewed as its token nears its end. It prints
// what happens, naming tokens by fingerprint, and exits.
//
// chi is a dependency of this example only, so it has a module of its
// own that uses the library from this repository:
//
//	cd examples/chi && go run .
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/examples/internal/demo"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	issuer := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer issuer.Close()
	fmt.Fprintf(out, "issuer at %s, tokens live 60s\n", issuer.URL)

	renewals := make(demo.Renewals, 8)
	cache := swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
		BaseURL:   issuer.URL,
		SecretKey: issuer.SecretKey,
	}, swrtoken.Options{OnRefresh: renewals.OnRefresh})
	defer cache.Close()
	mw, err := swrtoken.NewMiddleware(swrtoken.MiddlewareOptions{
		JWKSURL:            issuer.JWKSURL(),
		RenewalCache:       cache,
		RenewExpiredWithin: time.Minute,
		InsecureCookie:     true, // plain HTTP on loopback; keep Secure in production
	})
	if err != nil {
		return err
	}
	defer mw.Close()

	// Optional verifies the token of every request once; RequireAuth on a
	// route reuses that outcome and rejects requests without a session.
	r := chi.NewRouter()
	r.Use(mw.Optional)
	r.Get("/", demo.Home)
	r.With(mw.RequireAuth).Get("/account", demo.Account)

	return demo.Serve(ctx, out, r, issuer, renewals)
}
