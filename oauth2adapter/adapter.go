// Package oauth2adapter connects swrtoken with golang.org/x/oauth2 in both
// directions: an oauth2.TokenSource can fill a swrtoken.Cache, and a key
// of a cache can serve as an oauth2.TokenSource for code that expects one.
package oauth2adapter

import (
	"context"
	"errors"
	"time"

	"github.com/swrtoken/swrtoken"
	"golang.org/x/oauth2"
)

// Fetcher returns a swrtoken.Fetcher that gets each token from the
// oauth2.TokenSource that newSource returns for the fetch's context and
// key. Build a new source per call, for example with
// clientcredentials.Config.TokenSource(ctx): a source made once captures
// the context it was made with and would not honour the fetch's timeout.
//
// When the oauth2 token has an Expiry, the time left until then is the
// token's lifetime. Otherwise the cache reads exp and iat from the access
// token, which must then be a JWT.
func Fetcher(newSource func(ctx context.Context, key string) oauth2.TokenSource) swrtoken.Fetcher {
	return swrtoken.FetcherFunc(func(ctx context.Context, key string) (swrtoken.Token, error) {
		tok, err := newSource(ctx, key).Token()
		if err != nil {
			return swrtoken.Token{}, err
		}
		return convert(tok)
	})
}

// FromTokenSource returns a swrtoken.Fetcher that calls ts.Token for every
// key. Use it for a source that takes no context, and Fetcher otherwise.
// Do not pass an oauth2.ReuseTokenSource: the cache already reuses tokens,
// and a second cache in front of the issuer would hand back a token the
// cache has given up on.
func FromTokenSource(ts oauth2.TokenSource) swrtoken.Fetcher {
	return swrtoken.FetcherFunc(func(context.Context, string) (swrtoken.Token, error) {
		tok, err := ts.Token()
		if err != nil {
			return swrtoken.Token{}, err
		}
		return convert(tok)
	})
}

func convert(tok *oauth2.Token) (swrtoken.Token, error) {
	if tok == nil || tok.AccessToken == "" {
		return swrtoken.Token{}, errors.New("swrtoken: oauth2 token source returned no access token")
	}
	out := swrtoken.Token{Value: tok.AccessToken}
	if !tok.Expiry.IsZero() {
		// oauth2 sets Expiry from expires_in on the local clock, so the
		// time left is free of skew between the clocks.
		out.Lifetime = time.Until(tok.Expiry)
		if out.Lifetime <= 0 {
			return swrtoken.Token{}, errors.New("swrtoken: oauth2 token source returned an expired token")
		}
	}
	return out, nil
}

// TokenSource returns an oauth2.TokenSource that reads key from c, for
// code that takes an oauth2.TokenSource, such as oauth2.Transport. The
// oauth2.TokenSource interface passes no context, so each call waits for
// a fetch with context.Background(), bounded by the cache's FetchTimeout.
//
// The returned token's Expiry is the moment the cache stops handing it
// out (its UnusableAt), so a wrapper such as oauth2.ReuseTokenSource never
// keeps it longer than the cache would. Such a wrapper is not needed,
// because the cache already returns fresh tokens without a fetch.
func TokenSource(c *swrtoken.Cache, key string) oauth2.TokenSource {
	return &cacheSource{cache: c, key: key}
}

type cacheSource struct {
	cache *swrtoken.Cache
	key   string
}

func (s *cacheSource) Token() (*oauth2.Token, error) {
	e, err := s.cache.Entry(context.Background(), s.key)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{
		AccessToken: e.Token.Value,
		TokenType:   "Bearer",
		Expiry:      e.UnusableAt,
	}, nil
}
