package swrtokentest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock for Options.Now that moves only on Set and
// Advance.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestIssuer returns an unstarted issuer on clock and closes it at the
// end of the test.
func newTestIssuer(t *testing.T, clock *fakeClock, opts Options) *Issuer {
	t.Helper()
	opts.Now = clock.Now
	iss := NewUnstartedIssuer(opts)
	t.Cleanup(iss.Close)
	return iss
}

// postToken sends a token request for path with the given secret through
// iss.Client and returns the status and body.
func postToken(t *testing.T, iss *Issuer, path, secret string) (int, []byte) {
	t.Helper()
	status, body, err := tryPostToken(context.Background(), iss, path, secret)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// tryPostToken is postToken for goroutines other than the test's.
func tryPostToken(ctx context.Context, iss *Issuer, path, secret string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss.BaseURL()+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := iss.Client().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read body of POST %s: %w", path, err)
	}
	return resp.StatusCode, body, nil
}

// fetchToken requests a token for sessionID and returns it, failing the
// test unless the endpoint responds 200 with a token.
func fetchToken(t *testing.T, iss *Issuer, sessionID string) string {
	t.Helper()
	status, body := postToken(t, iss, "/v1/sessions/"+sessionID+"/tokens", iss.SecretKey)
	if status != http.StatusOK {
		t.Fatalf("token request status = %d, want 200; body %s", status, body)
	}
	var resp tokenResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.JWT
}

// errorCode returns the code of the first error in a Clerk error body.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var resp errorResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode error body %s: %v", body, err)
	}
	if len(resp.Errors) == 0 {
		t.Fatalf("error body %s has no errors", body)
	}
	return resp.Errors[0].Code
}

// verify checks the signature of token against the issuer's published
// keys and returns its claims and header. It skips the time checks,
// because the tests run on fake clocks.
func verify(t *testing.T, iss *Issuer, token string) (jwt.MapClaims, map[string]any) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if key := iss.PublicKey(kid); key != nil {
			return key, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"ES256", "RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		t.Fatalf("verify token: %v", err)
	}
	return claims, parsed.Header
}

// unixClaim returns a NumericDate claim as Unix seconds.
func unixClaim(t *testing.T, claims jwt.MapClaims, name string) int64 {
	t.Helper()
	v, ok := claims[name].(float64)
	if !ok {
		t.Fatalf("claim %s = %#v, want a number", name, claims[name])
	}
	return int64(v)
}
