package oauth2adapter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/oauth2adapter"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingSource is an oauth2.TokenSource that returns "access-1",
// "access-2", ... valid for an hour.
type countingSource struct{ calls atomic.Int64 }

func (s *countingSource) Token() (*oauth2.Token, error) {
	n := s.calls.Add(1)
	return &oauth2.Token{
		AccessToken: "access-" + strconv.FormatInt(n, 10),
		Expiry:      time.Now().Add(time.Hour),
	}, nil
}

func TestFromTokenSource(t *testing.T) {
	src := &countingSource{}
	cache := swrtoken.NewCache(oauth2adapter.FromTokenSource(src), swrtoken.Options{})
	defer cache.Close()

	for range 3 {
		tok, err := cache.Token(context.Background(), "k")
		require.NoError(t, err)
		assert.Equal(t, "access-1", tok)
	}
	assert.Equal(t, int64(1), src.calls.Load(), "token source calls")
	e, _ := cache.Lookup("k")
	assert.InDelta(t, time.Hour.Seconds(), e.Token.Lifetime.Seconds(), 1, "lifetime from Expiry")
}

func TestFetcherPassesKeyAndContext(t *testing.T) {
	type ctxKey struct{}
	var gotKey string
	var gotValue any
	fetcher := oauth2adapter.Fetcher(func(ctx context.Context, key string) oauth2.TokenSource {
		gotKey, gotValue = key, ctx.Value(ctxKey{})
		return oauth2.StaticTokenSource(&oauth2.Token{
			AccessToken: "static", Expiry: time.Now().Add(time.Hour),
		})
	})
	cache := swrtoken.NewCache(fetcher, swrtoken.Options{})
	defer cache.Close()

	ctx := context.WithValue(context.Background(), ctxKey{}, "trace-1")
	tok, err := cache.Token(ctx, "tenant-a")
	require.NoError(t, err)
	assert.Equal(t, "static", tok)
	assert.Equal(t, "tenant-a", gotKey)
	assert.Equal(t, "trace-1", gotValue, "context value seen by the source")
}

func TestFetcherRejectsBadTokens(t *testing.T) {
	tests := []struct {
		name    string
		tok     *oauth2.Token
		err     error
		wantErr string
	}{
		{"source error", nil, errors.New("invalid_client"), "invalid_client"},
		{"nil token", nil, nil, "no access token"},
		{"empty access token", &oauth2.Token{}, nil, "no access token"},
		{"expired", &oauth2.Token{AccessToken: "old", Expiry: time.Now().Add(-time.Minute)}, nil, "expired"},
		{"opaque without expiry", &oauth2.Token{AccessToken: "opaque"}, nil, "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := sourceFunc(func() (*oauth2.Token, error) { return tt.tok, tt.err })
			cache := swrtoken.NewCache(oauth2adapter.FromTokenSource(src), swrtoken.Options{})
			defer cache.Close()
			_, err := cache.Token(context.Background(), "k")
			var fetchErr *swrtoken.FetchError
			require.ErrorAs(t, err, &fetchErr)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.tok != nil && tt.tok.AccessToken != "" {
				assert.NotContains(t, err.Error(), tt.tok.AccessToken)
			}
		})
	}
}

type sourceFunc func() (*oauth2.Token, error)

func (f sourceFunc) Token() (*oauth2.Token, error) { return f() }

func TestTokenSourceWithOAuth2Transport(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	src := &countingSource{}
	cache := swrtoken.NewCache(oauth2adapter.FromTokenSource(src), swrtoken.Options{})
	defer cache.Close()

	ts := oauth2adapter.TokenSource(cache, "k")
	client := &http.Client{Transport: &oauth2.Transport{Source: ts}}
	for range 2 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, []string{"Bearer access-1", "Bearer access-1"}, got)

	tok, err := ts.Token()
	require.NoError(t, err)
	e, _ := cache.Lookup("k")
	assert.Equal(t, e.UnusableAt, tok.Expiry, "Expiry is the cache's UnusableAt")
	assert.True(t, tok.Valid())
	assert.Equal(t, "Bearer", tok.Type())
}
