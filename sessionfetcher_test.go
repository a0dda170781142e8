package swrtoken

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/swrtoken/swrtoken/swrtokentest"
	"go.uber.org/goleak"
)

// newSessionFetcher returns a fetcher for iss.
func newSessionFetcher(iss *swrtokentest.Issuer) *SessionTokenFetcher {
	return &SessionTokenFetcher{
		BaseURL:   iss.BaseURL(),
		SecretKey: iss.SecretKey,
		Client:    iss.Client(),
	}
}

// sessionClaims verifies token with the issuer's keys and returns its
// claims.
func sessionClaims(t *testing.T, iss *swrtokentest.Issuer, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		return iss.PublicKey(kid), nil
	}, jwt.WithValidMethods([]string{"ES256", "RS256"}))
	if err != nil {
		t.Fatalf("verify token %s: %v", Fingerprint(token), err)
	}
	return claims
}

// checkErrorHidesSecrets fails the test if err's message contains any of
// the given secrets.
func checkErrorHidesSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret or token (fingerprint %s)", err, Fingerprint(s))
		}
	}
}

func TestSessionTokenFetcherSuccess(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{Lifetime: 45 * time.Second})
	defer iss.Close()

	tok, err := newSessionFetcher(iss).Fetch(t.Context(), "sess_1")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	claims := sessionClaims(t, iss, tok.Value)
	if got := claims["sid"]; got != "sess_1" {
		t.Errorf("sid = %#v, want sess_1", got)
	}
	if got, ok := claims["tpl"]; ok {
		t.Errorf("tpl = %#v, want no template claim", got)
	}
	iat, exp, err := ParseJWTTimes(tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got := exp.Sub(iat); got != 45*time.Second {
		t.Errorf("exp - iat = %v, want 45s", got)
	}
	if got := iss.TokenRequests(); got != 1 {
		t.Errorf("TokenRequests() = %d, want 1", got)
	}
}

func TestSessionTokenFetcherTemplate(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()
	f := newSessionFetcher(iss)
	f.Template = "api-v2"

	tok, err := f.Fetch(t.Context(), "sess_1")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got := sessionClaims(t, iss, tok.Value)["tpl"]; got != "api-v2" {
		t.Errorf("tpl = %#v, want api-v2", got)
	}
}

func TestSessionTokenFetcherPath(t *testing.T) {
	iss := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	defer iss.Close()
	tests := []struct {
		name, base, template, session string
		wantPath                      string // escaped, as sent
	}{
		{"origin", "", "", "sess_1", "/v1/sessions/sess_1/tokens"},
		{"trailing slash", "/", "", "sess_1", "/v1/sessions/sess_1/tokens"},
		{"base with v1", "/v1", "", "sess_1", "/v1/sessions/sess_1/tokens"},
		{"base with v1 slash", "/v1/", "", "sess_1", "/v1/sessions/sess_1/tokens"},
		{"path prefix", "/proxy", "", "sess_1", "/proxy/v1/sessions/sess_1/tokens"},
		{"template", "", "api", "sess_1", "/v1/sessions/sess_1/tokens/api"},
		{"escaped session", "", "", "sess/a b?", "/v1/sessions/sess%2Fa%20b%3F/tokens"},
		{"escaped template", "", "a/b", "sess_1", "/v1/sessions/sess_1/tokens/a%2Fb"},
		{"dots inside", "", "", "sess..1", "/v1/sessions/sess..1/tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath = r.URL.EscapedPath()
				w.Write([]byte(`{"object":"token","jwt":"` + iss.Mint("sess_1") + `"}`))
			}))
			defer srv.Close()
			f := &SessionTokenFetcher{BaseURL: srv.URL + tt.base, SecretKey: "sk", Template: tt.template,
				Client: srv.Client()}

			if _, err := f.Fetch(t.Context(), tt.session); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if gotPath != tt.wantPath {
				t.Errorf("path = %q, want %q", gotPath, tt.wantPath)
			}
		})
	}
}

func TestSessionTokenFetcherEscapedSessionReachesIssuer(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()
	tok, err := newSessionFetcher(iss).Fetch(t.Context(), "sess/a b")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got := sessionClaims(t, iss, tok.Value)["sid"]; got != "sess/a b" {
		t.Errorf("sid = %#v, want %q", got, "sess/a b")
	}
}

func TestSessionTokenFetcherHTTPErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()
	iss.RevokeSession("sess_gone")

	tests := []struct {
		name       string
		secret     string
		session    string
		fail       int // injected failure status, 0 for none
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", "sk_test_wrong_secret_value", "sess_1", 0, 401, "authentication_invalid"},
		{"revoked session", iss.SecretKey, "sess_gone", 0, 404, "resource_not_found"},
		{"unavailable", iss.SecretKey, "sess_1", 503, 503, "service_unavailable"},
		{"rate limited", iss.SecretKey, "sess_1", 429, 429, "too_many_requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss.ClearFailures()
			if tt.fail != 0 {
				iss.FailFor(tt.fail, time.Hour)
			}
			f := newSessionFetcher(iss)
			f.SecretKey = tt.secret

			tok, err := f.Fetch(t.Context(), tt.session)
			var httpErr *HTTPError
			if !errors.As(err, &httpErr) {
				t.Fatalf("Fetch error = %v, want an *HTTPError", err)
			}
			if httpErr.StatusCode != tt.wantStatus {
				t.Errorf("StatusCode = %d, want %d", httpErr.StatusCode, tt.wantStatus)
			}
			if httpErr.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", httpErr.Code, tt.wantCode)
			}
			if tok != (Token{}) {
				t.Errorf("Fetch returned token %s with an error, want none", Fingerprint(tok.Value))
			}
			if !strings.Contains(err.Error(), "/v1/sessions/"+tt.session+"/tokens") {
				t.Errorf("error %q does not name the endpoint", err)
			}
			checkErrorHidesSecrets(t, err, iss.SecretKey, tt.secret)
		})
	}
}

func TestSessionTokenFetcherBadResponses(t *testing.T) {
	const secret = "sk_test_do_not_print_me"
	mint := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{})
	defer mint.Close()
	token := mint.Mint("sess_1")
	huge := `{"object":"token","jwt":"` + token + strings.Repeat("x", maxSessionResponseBytes) + `"}`

	tests := []struct {
		name      string
		status    int
		body      string
		wantError string
		wantCode  string // for an *HTTPError
	}{
		{"not JSON", 200, "<html>" + token + "</html>", "not valid JSON", ""},
		{"truncated", 200, `{"object":"token","jwt":"` + token, "not valid JSON", ""},
		{"empty body", 200, "", "body is empty", ""},
		{"array", 200, `["` + token + `"]`, "JSON array, want an object", ""},
		{"number", 200, "12345678901234567890", "JSON number, want an object", ""},
		{"missing jwt", 200, `{"object":"token","token":"` + token + `"}`, `no "jwt" field`, ""},
		{"null jwt", 200, `{"object":"token","jwt":null}`, `no "jwt" field`, ""},
		{"empty jwt", 200, `{"object":"token","jwt":""}`, `"jwt" is empty`, ""},
		{"jwt not a string", 200, `{"jwt":12345678901234567890}`, `"jwt" is not a string`, ""},
		{"oversized", 200, huge, "exceeds 1048576 bytes", ""},
		{"error echoing secrets", 401,
			`{"errors":[{"message":"` + secret + `","long_message":"` + token +
				`","code":"` + token + `"}]}`,
			"status 401 Unauthorized", ""},
		{"error code echoing secret", 400, `{"errors":[{"code":"` + secret + `"}]}`,
			"status 400", ""},
		{"error code too long", 400, `{"errors":[{"code":"` + strings.Repeat("a", 65) + `"}]}`,
			"status 400", ""},
		{"error not JSON", 502, "<html>bad gateway " + token + "</html>", "status 502 Bad Gateway", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := cannedFetcher(t, tt.status, tt.body, secret)

			_, err := f.Fetch(t.Context(), "sess_1")
			if err == nil {
				t.Fatal("Fetch error = nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("Fetch error = %q, want it to contain %q", err, tt.wantError)
			}
			if !strings.HasPrefix(err.Error(), "swrtoken: ") {
				t.Errorf("Fetch error = %q, want the prefix swrtoken: ", err)
			}
			var httpErr *HTTPError
			if errors.As(err, &httpErr) && httpErr.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", httpErr.Code, tt.wantCode)
			}
			checkErrorHidesSecrets(t, err, secret, token)
		})
	}
}

func TestSessionTokenFetcherInvalidConfig(t *testing.T) {
	noNetwork := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("request sent to %s, want none", r.URL.Redacted())
		return nil, errors.New("no network in this test")
	})}
	const base, secret = "https://example.test", "sk"
	tests := []struct {
		name      string
		fetcher   SessionTokenFetcher
		session   string
		wantError string
	}{
		{"empty base URL", SessionTokenFetcher{SecretKey: secret}, "s", "BaseURL is empty"},
		{"relative base URL", SessionTokenFetcher{BaseURL: "api.clerk.com", SecretKey: secret}, "s",
			"want an absolute http or https URL"},
		{"ftp base URL", SessionTokenFetcher{BaseURL: "ftp://u:hunter2@h.test", SecretKey: secret}, "s",
			"want an absolute http or https URL"},
		{"base URL with query", SessionTokenFetcher{BaseURL: base + "?a=1", SecretKey: secret}, "s",
			"without query"},
		{"unparsable base URL", SessionTokenFetcher{BaseURL: "https://u:hunter2@a b.test", SecretKey: secret},
			"s", "not a valid URL"},
		{"empty secret", SessionTokenFetcher{BaseURL: base}, "s", "SecretKey is empty"},
		{"empty session", SessionTokenFetcher{BaseURL: base, SecretKey: secret}, "",
			"session id is empty"},
		{"dot session", SessionTokenFetcher{BaseURL: base, SecretKey: secret}, ".",
			`session id "." is not a valid path segment`},
		{"dot dot session", SessionTokenFetcher{BaseURL: base, SecretKey: secret}, "..",
			`session id ".." is not a valid path segment`},
		{"dot dot template", SessionTokenFetcher{BaseURL: base, SecretKey: secret, Template: ".."},
			"s", `template ".." is not a valid path segment`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fetcher
			f.Client = noNetwork
			_, err := f.Fetch(t.Context(), tt.session)
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("Fetch error = %v, want one containing %q", err, tt.wantError)
			}
			checkErrorHidesSecrets(t, err, "hunter2")
		})
	}
}

func TestSessionTokenFetcherCancelDuringLatency(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{Latency: time.Hour})
	defer iss.Close()

	// Cancel once the request is on the wire, so that the cancellation ends
	// the wait for the response.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { cancel() },
	})
	done := make(chan error, 1)
	go func() {
		_, err := newSessionFetcher(iss).Fetch(ctx, "sess_1")
		done <- err
	}()

	// A guard against a hang, not a wait for time to pass.
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch error = %v, want one wrapping %v", err, context.Canceled)
		}
		checkErrorHidesSecrets(t, err, iss.SecretKey)
	case <-time.After(30 * time.Second):
		t.Fatal("Fetch still waiting 30s after its context was cancelled")
	}
}

func TestSessionTokenFetcherInProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := swrtokentest.NewUnstartedIssuer(swrtokentest.Options{Latency: 3 * time.Second})
		defer iss.Close()
		f := newSessionFetcher(iss)

		start := time.Now()
		if _, err := f.Fetch(t.Context(), "sess_1"); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("Fetch took %v, want the issuer's latency of 3s", got)
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := f.Fetch(ctx, "sess_1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fetch error = %v, want one wrapping %v", err, context.DeadlineExceeded)
		}
	})
}

func TestSessionTokenFetcherWithCache(t *testing.T) {
	defer goleak.VerifyNone(t)
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()
	cache := NewCache(newSessionFetcher(iss), Options{})
	defer cache.Close()

	first, err := cache.Token(t.Context(), "sess_1")
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if got := sessionClaims(t, iss, first)["sid"]; got != "sess_1" {
		t.Errorf("sid = %#v, want sess_1", got)
	}
	second, err := cache.Token(t.Context(), "sess_1")
	if err != nil {
		t.Fatalf("second Token: %v", err)
	}
	if second != first {
		t.Errorf("second Token returned %s, want the cached %s", Fingerprint(second), Fingerprint(first))
	}
	if got := iss.TokenRequests(); got != 1 {
		t.Errorf("TokenRequests() = %d, want 1", got)
	}

	iss.RevokeSession("sess_2")
	_, err = cache.Token(t.Context(), "sess_2")
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusNotFound {
		t.Errorf("Token for a revoked session: error %v, want an *HTTPError with status 404", err)
	}
}

func FuzzDecodeSessionToken(f *testing.F) {
	for _, seed := range []string{
		`{"object":"token","jwt":"a.b.c"}`,
		`{"jwt":""}`,
		`{"jwt":null}`,
		`{"jwt":12345678901234567890123}`,
		`{"errors":[{"code":"resource_not_found"}]}`,
		`[1,2,3]`,
		`{"errors":[{"code":"sk_test_secret"}]}`,
		`12345678901234567890`,
		`{"jwt":"a.b.c"`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		value, err := decodeSessionToken(body)
		if err == nil && value == "" {
			t.Fatal("decodeSessionToken returned an empty token without an error")
		}
		// The longest fixed message is well under 100 bytes, so a longer
		// body in an error message would mean it was quoted.
		if err != nil && len(body) >= 100 && strings.Contains(err.Error(), string(body)) {
			t.Fatalf("error %q quotes the body", err)
		}
		const secret = "sk_test_secret"
		code := clerkErrorCode(body, secret)
		if len(code) > maxErrorCodeLength || strings.ContainsAny(code, ".-\" ") ||
			strings.Contains(code, secret) {
			t.Fatalf("clerkErrorCode returned %q, want nothing or a short snake_case word "+
				"without the secret", code)
		}
	})
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cannedFetcher returns a fetcher with secret for a loopback server that
// responds to every request with status and body. The server is closed
// when the test ends.
func cannedFetcher(t *testing.T, status int, body, secret string) *SessionTokenFetcher {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &SessionTokenFetcher{BaseURL: srv.URL, SecretKey: secret, Client: srv.Client()}
}
