package swrtoken_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// The client side: a Transport sends the cached session token of the key
// in each request's context.
func ExampleTransport() {
	issuer := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer issuer.Close()

	cache := swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
		BaseURL:   issuer.URL,
		SecretKey: issuer.SecretKey,
	}, swrtoken.Options{})
	defer cache.Close()
	poller := swrtoken.StartPoller(cache, swrtoken.PollerOptions{})
	defer poller.Stop()

	// An API that reports whether a request carried a bearer token.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Fprintf(w, "bearer token: %v", scheme == "Bearer")
	}))
	defer api.Close()

	client := &http.Client{Transport: &swrtoken.Transport{Cache: cache}}
	ctx := swrtoken.WithKey(context.Background(), "sess_123")
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, string(body))
	}
	fmt.Println("issuer token requests:", issuer.TokenRequests())
	// Output:
	// 200 OK bearer token: true
	// 200 OK bearer token: true
	// 200 OK bearer token: true
	// issuer token requests: 1
}

// A Fetcher of opaque tokens sets their lifetime. Lookup reports a key's
// state without side effects.
func ExampleCache_Lookup() {
	fetcher := swrtoken.FetcherFunc(func(ctx context.Context, key string) (swrtoken.Token, error) {
		return swrtoken.Token{Value: "opaque-" + key, Lifetime: time.Hour}, nil
	})
	cache := swrtoken.NewCache(fetcher, swrtoken.Options{})
	defer cache.Close()

	_, state := cache.Lookup("reports")
	fmt.Println("before the first read:", state)
	if _, err := cache.Token(context.Background(), "reports"); err != nil {
		fmt.Println(err)
		return
	}
	entry, state := cache.Lookup("reports")
	fmt.Println("after it:", state, entry.Token.Lifetime)
	// Output:
	// before the first read: unusable
	// after it: fresh 1h0m0s
}
