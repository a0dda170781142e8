package scenario

import (
	"context"
	"time"

	"cloud.google.com/go/auth"
	"github.com/aws/smithy-go/auth/bearer"
	"github.com/swrtoken/swrtoken"
	"golang.org/x/oauth2"
)

// Client is a token cache under test, reduced to the call that every
// cache offers: return a usable token.
type Client interface {
	// Token returns a token, from the cache or from the Source.
	Token(ctx context.Context) (string, error)

	// Close stops the cache's background work, where it has any.
	Close()
}

// PeerOptions configures the caches so that they refresh alike.
type PeerOptions struct {
	// EarlyRefresh is how long before a token's expiry each cache starts
	// to refresh it: swrtoken's RefreshLeeway, the earlyExpiry of
	// oauth2.ReuseTokenSourceWithExpiry, the ExpireEarly of
	// cloud.google.com/go/auth and the RefreshBeforeExpires of smithy-go.
	// oauth2.ReuseTokenSource has no such setting and always uses 10s.
	// Zero means each library's default.
	EarlyRefresh time.Duration

	// MinRemaining is swrtoken's MinRemaining, the least time a token must
	// have left to be returned. The peers return a token until it
	// expires. Zero means swrtoken's default (5s).
	MinRemaining time.Duration

	// MinBackoff is swrtoken's MinBackoff. Zero means its default (1s).
	MinBackoff time.Duration

	// SmithyAsyncMinDelay is smithy-go's AsyncRefreshMinimumDelay, the
	// least time between two background refreshes. Zero means none, the
	// library's default.
	SmithyAsyncMinDelay time.Duration
}

// Peer is a cache that a scenario can build around a Source.
type Peer struct {
	// Name names the peer in benchmark names and tables.
	Name string

	// New returns a client whose cache fetches from src. It does not
	// fetch yet.
	New func(src *Source, opts PeerOptions) Client
}

// SwrtokenName is the name of the Peer that wraps swrtoken, the one the
// others are compared with.
const SwrtokenName = "swrtoken"

// Peers returns every peer, swrtoken first.
func Peers() []Peer {
	return []Peer{
		{Name: SwrtokenName, New: newSwrtoken},
		{Name: "oauth2-reuse", New: newOAuth2Reuse},
		{Name: "oauth2-reuse-expiry", New: newOAuth2ReuseExpiry},
		{Name: "cloud-auth", New: newCloudAuth},
		{Name: "smithy-bearer", New: newSmithyBearer},
	}
}

// swrtokenKey is the one cache key the swrtoken client reads.
const swrtokenKey = "k"

type swrtokenClient struct{ cache *swrtoken.Cache }

func newSwrtoken(src *Source, opts PeerOptions) Client {
	fetch := func(ctx context.Context, _ string) (swrtoken.Token, error) {
		t, err := src.Fetch(ctx)
		if err != nil {
			return swrtoken.Token{}, err
		}
		return swrtoken.Token{Value: t.Value, Lifetime: t.Lifetime}, nil
	}
	cache := swrtoken.NewCache(swrtoken.FetcherFunc(fetch), swrtoken.Options{
		RefreshLeeway: opts.EarlyRefresh,
		MinRemaining:  opts.MinRemaining,
		MinBackoff:    opts.MinBackoff,
	})
	return swrtokenClient{cache}
}

func (c swrtokenClient) Token(ctx context.Context) (string, error) {
	return c.cache.Token(ctx, swrtokenKey)
}

func (c swrtokenClient) Close() { c.cache.Close() }

// oauth2Source adapts a Source to oauth2.TokenSource, which takes no
// context.
type oauth2Source struct{ src *Source }

func (s oauth2Source) Token() (*oauth2.Token, error) {
	t, err := s.src.Fetch(context.Background())
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.Value, TokenType: "Bearer", Expiry: t.Expiry}, nil
}

type oauth2Client struct{ ts oauth2.TokenSource }

func (c oauth2Client) Token(context.Context) (string, error) {
	t, err := c.ts.Token()
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

func (oauth2Client) Close() {}

func newOAuth2Reuse(src *Source, _ PeerOptions) Client {
	return oauth2Client{oauth2.ReuseTokenSource(nil, oauth2Source{src})}
}

func newOAuth2ReuseExpiry(src *Source, opts PeerOptions) Client {
	return oauth2Client{oauth2.ReuseTokenSourceWithExpiry(nil, oauth2Source{src}, opts.EarlyRefresh)}
}

// cloudAuthSource adapts a Source to auth.TokenProvider.
type cloudAuthSource struct{ src *Source }

func (s cloudAuthSource) Token(ctx context.Context) (*auth.Token, error) {
	t, err := s.src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return &auth.Token{Value: t.Value, Type: "Bearer", Expiry: t.Expiry}, nil
}

type cloudAuthClient struct{ tp auth.TokenProvider }

func (c cloudAuthClient) Token(ctx context.Context) (string, error) {
	t, err := c.tp.Token(ctx)
	if err != nil {
		return "", err
	}
	return t.Value, nil
}

func (cloudAuthClient) Close() {}

func newCloudAuth(src *Source, opts PeerOptions) Client {
	// DisableAsyncRefresh false: a stale token is returned while one
	// goroutine refreshes it.
	tp := auth.NewCachedTokenProvider(cloudAuthSource{src}, &auth.CachedTokenProviderOptions{
		ExpireEarly:         opts.EarlyRefresh,
		DisableAsyncRefresh: false,
	})
	return cloudAuthClient{tp}
}

type smithyClient struct{ cache *bearer.TokenCache }

func (c smithyClient) Token(ctx context.Context) (string, error) {
	t, err := c.cache.RetrieveBearerToken(ctx)
	if err != nil {
		return "", err
	}
	return t.Value, nil
}

func (smithyClient) Close() {}

func newSmithyBearer(src *Source, opts PeerOptions) Client {
	provider := bearer.TokenProviderFunc(func(ctx context.Context) (bearer.Token, error) {
		t, err := src.Fetch(ctx)
		if err != nil {
			return bearer.Token{}, err
		}
		return bearer.Token{Value: t.Value, CanExpire: true, Expires: t.Expiry}, nil
	})
	cache := bearer.NewTokenCache(provider, func(o *bearer.TokenCacheOptions) {
		o.RefreshBeforeExpires = opts.EarlyRefresh
		o.AsyncRefreshMinimumDelay = opts.SmithyAsyncMinDelay
		o.DisableAsyncRefresh = false
	})
	return smithyClient{cache}
}
