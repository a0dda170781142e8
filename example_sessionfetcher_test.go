package swrtoken_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

func ExampleSessionTokenFetcher() {
	// A test issuer plays the role of the Backend API.
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()

	cache := swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
		BaseURL:   iss.URL, // "https://api.clerk.com" in production
		SecretKey: iss.SecretKey,
		Client:    iss.Client(),
	}, swrtoken.Options{})
	defer cache.Close()

	ctx := context.Background()
	for range 3 {
		if _, err := cache.Token(ctx, "sess_123"); err != nil {
			fmt.Println(err)
			return
		}
	}
	_, state := cache.Lookup("sess_123")
	fmt.Println("state:", state)
	fmt.Println("token requests:", iss.TokenRequests())

	// A session that ended gives a 404, which callers can tell apart
	// from an outage.
	iss.RevokeSession("sess_456")
	_, err := cache.Token(ctx, "sess_456")
	var httpErr *swrtoken.HTTPError
	if errors.As(err, &httpErr) && httpErr.StatusCode == http.StatusNotFound {
		fmt.Println("sess_456:", httpErr.Code)
	}
	// Output:
	// state: fresh
	// token requests: 1
	// sess_456: resource_not_found
}
