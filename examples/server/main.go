// Command server shows the session middleware in a net/http server. It
// starts a test issuer on loopback, mounts the middleware on an
// http.ServeMux with a protected page and a page for everyone, and plays
// a browser whose session cookie is renewed as its token nears its end.
// It prints what happens, naming tokens by fingerprint, and exits.
//
//	go run ./examples/server
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

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

	// The renewal cache fetches new session tokens from the issuer's
	// Clerk-shaped endpoint; the middleware verifies tokens with its
	// JWKS.
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

	mux := http.NewServeMux()
	mux.Handle("GET /account", mw.RequireAuth(demo.Account))
	mux.Handle("GET /{$}", mw.Optional(demo.Home))

	return demo.Serve(ctx, out, mux, issuer, renewals)
}
