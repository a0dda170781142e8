// Package swrtoken keeps short-lived bearer and session tokens, such as
// 60-second session JWTs, fresh with stale-while-revalidate semantics: no
// request waits for a token refresh it could have avoided, and no request
// fails at the moment a token expires.
//
// # Parts
//
// A Cache stores one token per key (a session id, a session id and a
// template, an audience) and gets new ones from a Fetcher. A read of a
// fresh token returns at once, without locks or allocations. Within
// RefreshLeeway of its end a token is stale: a read still returns it at
// once and starts one background refresh for the key, however many
// readers see it. With MinRemaining or less left a token is unusable, and
// readers wait for a fetch that they all share. Failed fetches back off
// with jitter and never evict a token that is still usable.
//
// A Poller walks the cache every few seconds and refreshes the keys in use
// whose tokens will turn stale before its next pass, so that a steadily
// used token is renewed before any reader sees it stale.
//
// A Transport is an http.RoundTripper that sends each request with the
// cached token in an Authorization header, retries once with a new token
// after a 401, and keeps the token from other hosts on redirects.
//
// On the server side, a Middleware verifies the session JWT that a request
// carries against the issuer's JWKS and puts its claims in the request's
// context. When the token nears its end, the middleware renews the
// browser's session cookie from a Cache, without delaying the request.
//
// SessionTokenFetcher gets session tokens from an API shaped like Clerk's
// Backend API, and package swrtokentest runs such an issuer in-process
// for tests.
//
// # Client side
//
//	cache := swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
//		BaseURL:   "https://api.example.com",
//		SecretKey: os.Getenv("SECRET_KEY"),
//	}, swrtoken.Options{})
//	defer cache.Close()
//	poller := swrtoken.StartPoller(cache, swrtoken.PollerOptions{})
//	defer poller.Stop()
//
//	client := &http.Client{Transport: &swrtoken.Transport{Cache: cache, Key: sessionID}}
//	resp, err := client.Get("https://service.example.com/v1/items")
//
// # Clock skew
//
// The cache measures each token's life on the local monotonic clock from
// the start of the fetch that returned it, using the token's lifetime
// (exp - iat) rather than its exp. So a local clock ahead of or behind the
// issuer's neither expires tokens early nor keeps them too long. See Cache.
package swrtoken
