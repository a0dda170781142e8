package swrtoken

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

// keySet is the source of the public keys that verify asymmetric tokens.
type keySet struct {
	// keyfunc finds the key named by a token's kid header.
	keyfunc keyfunc.Keyfunc

	// generation counts the replacements of the key set by JWKS fetches.
	// A verified token is trusted from cache only while the generation
	// it was verified under is current, so that a key removed from the
	// JWKS stops verifying cached tokens too. Fixed key sets keep 0.
	generation *atomic.Uint64

	// stop ends the JWKS refresh goroutine; nil for fixed key sets.
	stop context.CancelFunc
}

// newJWKSKeySet returns a key set that fetches o.JWKSURL now and then in
// the background until stop is called. It assembles jwkset storage
// itself, where keyfunc.NewDefaultOverrideCtx would hide it, to count key
// set replacements, and it installs its own error handler, because the
// default one logs to slog.Default.
//
// The refresh goroutine runs on a context of its own, cancelled by
// Middleware.Close, because it outlives every request.
func newJWKSKeySet(o MiddlewareOptions) (*keySet, error) {
	ctx, stop := context.WithCancel(context.Background())
	generation := new(atomic.Uint64)
	remote, err := jwkset.NewStorageFromHTTP(o.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    o.HTTPClient,
		Ctx:                       ctx,
		HTTPTimeout:               o.JWKSTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       jwksErrorHandler(o.Logger, o.JWKSURL),
		RefreshInterval:           o.JWKSRefreshInterval,
		Storage:                   &countingStorage{Storage: jwkset.NewMemoryStorage(), replaced: generation},
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("swrtoken: JWKS URL %q: %w", o.JWKSURL, err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{o.JWKSURL: remote},
		// The limiter holds one token that comes back once per interval.
		// A request that finds it taken waits only if the token returns
		// within RateLimitWaitMax, which also bounds the fetch itself.
		RateLimitWaitMax:  o.JWKSTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.JWKSUnknownKeyInterval), 1),
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("swrtoken: JWKS URL %q: %w", o.JWKSURL, err)
	}
	kf, err := newKeyfunc(ctx, client)
	if err != nil {
		stop()
		return nil, err
	}
	return &keySet{keyfunc: kf, generation: generation, stop: stop}, nil
}

// newStaticKeySet returns a key set of the fixed JWKS document raw.
func newStaticKeySet(raw []byte) (*keySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("swrtoken: MiddlewareOptions.JWKS is not a JWKS document: %w", err)
	}
	storage, err := set.ToStorage()
	if err != nil {
		return nil, fmt.Errorf("swrtoken: MiddlewareOptions.JWKS: %w", err)
	}
	kf, err := newKeyfunc(context.Background(), storage)
	if err != nil {
		return nil, err
	}
	return &keySet{keyfunc: kf, generation: new(atomic.Uint64)}, nil
}

// newKeyfunc returns a keyfunc over storage that ignores keys whose use
// member is "enc": those are for encryption, not for signatures.
func newKeyfunc(ctx context.Context, storage jwkset.Storage) (keyfunc.Keyfunc, error) {
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:          ctx,
		Storage:      storage,
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("swrtoken: create keyfunc: %w", err)
	}
	return kf, nil
}

// jwksErrorHandler returns the handler of failed JWKS fetches: a warning
// to logger, or nothing when logger is nil.
func jwksErrorHandler(logger *slog.Logger, url string) func(context.Context, error) {
	return func(ctx context.Context, err error) {
		if logger != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "swrtoken: JWKS fetch failed",
				slog.String("url", url), slog.Any("error", err))
		}
	}
}

// countingStorage is a jwkset.Storage that counts the replacements of its
// whole key set, which is how jwkset stores each fetched JWKS.
type countingStorage struct {
	jwkset.Storage
	replaced *atomic.Uint64
}

func (s *countingStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	err := s.Storage.KeyReplaceAll(ctx, given)
	s.replaced.Add(1)
	return err
}
