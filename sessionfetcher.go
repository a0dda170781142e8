package swrtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxSessionResponseBytes bounds the body of a token endpoint response
// that SessionTokenFetcher reads. A session token response is a few hundred
// bytes, so a larger body means a misbehaving server.
const maxSessionResponseBytes = 1 << 20

// maxErrorCodeLength bounds the error code that an HTTPError reports.
const maxErrorCodeLength = 64

// SessionTokenFetcher is a Fetcher for Clerk-shaped Backend APIs: for a
// session id it sends POST {BaseURL}/v1/sessions/{session id}/tokens, or
// .../tokens/{Template} with a template, with the secret key as a bearer
// token, and returns the jwt field of the {"object":"token","jwt":"..."}
// response. The cache reads the token's lifetime from its iat and exp
// claims.
//
// A status other than 2xx gives an *HTTPError, so that a caller can tell
// a session that ended (404) from an outage (5xx). No error contains the
// secret key, the token, or the body of a successful response.
//
// A SessionTokenFetcher is safe for concurrent use as long as its fields
// do not change.
type SessionTokenFetcher struct {
	// BaseURL is the API's base URL, such as "https://api.clerk.com".
	// It must be an absolute http or https URL. A BaseURL that already
	// ends in /v1, as Clerk's SDKs configure it, is used as is. Required.
	BaseURL string

	// SecretKey is the API's secret key, sent in the header
	// "Authorization: Bearer <SecretKey>". Required.
	SecretKey string

	// Template is the name of a JWT template. Empty means the default
	// session token.
	Template string

	// Client sends the requests. Nil means http.DefaultClient.
	Client *http.Client
}

// HTTPError reports that a token endpoint responded with a status other
// than 2xx.
type HTTPError struct {
	// StatusCode is the status of the response, such as 404 when the
	// session no longer exists or 503 during an outage.
	StatusCode int

	// Code is the code of the first error of a Clerk error body, such as
	// "resource_not_found". It is empty when the body has none, or when
	// the code is not a short snake_case word.
	Code string

	// URL is the URL of the request, without a password.
	URL string
}

// Error returns a message with the status, the error code and a hint
// at the fix for the common statuses.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("swrtoken: POST %s: status %d %s",
		e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		msg += fmt.Sprintf(" (code %q)", e.Code)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += ": check the secret key"
	case http.StatusNotFound:
		msg += ": the session does not exist or has ended"
	}
	return msg
}

// Fetch requests a new session token for sessionID. It returns an error
// that wraps ctx.Err() when ctx ends first.
func (f *SessionTokenFetcher) Fetch(ctx context.Context, sessionID string) (Token, error) {
	endpoint, err := f.endpoint(sessionID)
	if err != nil {
		return Token{}, err
	}
	if f.SecretKey == "" {
		return Token{}, errors.New("swrtoken: SessionTokenFetcher.SecretKey is empty")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), nil)
	if err != nil {
		return Token{}, fmt.Errorf("swrtoken: session token request for session %q: %w", sessionID, err)
	}
	req.Header.Set("Authorization", "Bearer "+f.SecretKey)
	req.Header.Set("Accept", "application/json")

	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The client's *url.Error names the URL without its password,
		// and never a header.
		return Token{}, fmt.Errorf("swrtoken: session token request for session %q: %w", sessionID, err)
	}
	defer resp.Body.Close()

	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxSessionResponseBytes+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Token{}, &HTTPError{
			StatusCode: resp.StatusCode,
			Code:       clerkErrorCode(body, f.SecretKey),
			URL:        endpoint.Redacted(),
		}
	}
	if readErr != nil {
		return Token{}, fmt.Errorf("swrtoken: read session token response for session %q: %w",
			sessionID, readErr)
	}
	if len(body) > maxSessionResponseBytes {
		return Token{}, fmt.Errorf("swrtoken: session token response for session %q exceeds %d bytes",
			sessionID, maxSessionResponseBytes)
	}
	value, err := decodeSessionToken(body)
	if err != nil {
		return Token{}, fmt.Errorf("swrtoken: session token response for session %q: %w", sessionID, err)
	}
	return Token{Value: value}, nil
}

// endpoint returns the URL of the token endpoint for sessionID.
func (f *SessionTokenFetcher) endpoint(sessionID string) (*url.URL, error) {
	if f.BaseURL == "" {
		return nil, errors.New("swrtoken: SessionTokenFetcher.BaseURL is empty")
	}
	base, err := url.Parse(f.BaseURL)
	if err != nil {
		// The *url.Error would repeat the whole BaseURL, password
		// included, so only its cause is kept.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("swrtoken: SessionTokenFetcher.BaseURL is not a valid URL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("swrtoken: SessionTokenFetcher.BaseURL %q is invalid: "+
			"want an absolute http or https URL without query or fragment", base.Redacted())
	}
	if sessionID == "" {
		// The cache key is the session id, so an empty one usually means
		// a request without a key.
		return nil, errors.New("swrtoken: session id is empty: " +
			"give the request a key with WithKey, Transport.Key or Transport.KeyFunc")
	}
	if err := checkPathSegment("session id", sessionID); err != nil {
		return nil, err
	}

	path := strings.TrimSuffix(base.EscapedPath(), "/")
	if !strings.HasSuffix(path, "/v1") {
		path += "/v1"
	}
	path += "/sessions/" + url.PathEscape(sessionID) + "/tokens"
	if f.Template != "" {
		if err := checkPathSegment("template", f.Template); err != nil {
			return nil, err
		}
		path += "/" + url.PathEscape(f.Template)
	}
	u := *base
	u.RawPath = path
	if u.Path, err = url.PathUnescape(path); err != nil {
		return nil, fmt.Errorf("swrtoken: SessionTokenFetcher.BaseURL %q has an invalid path: %w",
			base.Redacted(), err)
	}
	return &u, nil
}

// checkPathSegment rejects a value that cannot be one path segment: an
// empty one, and "." and "..", which url.PathEscape leaves as they are
// and which would change the path.
func checkPathSegment(name, value string) error {
	switch value {
	case "":
		return fmt.Errorf("swrtoken: %s is empty", name)
	case ".", "..":
		return fmt.Errorf("swrtoken: %s %q is not a valid path segment", name, value)
	}
	return nil
}

// decodeSessionToken returns the jwt field of a token endpoint response.
// Its errors describe what is wrong without quoting the body.
func decodeSessionToken(body []byte) (string, error) {
	if len(body) == 0 {
		return "", errors.New("response body is empty")
	}
	var resp struct {
		JWT json.RawMessage `json:"jwt"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "", errors.New(describeJSONError(err))
	}
	if len(resp.JWT) == 0 || string(resp.JWT) == "null" {
		return "", errors.New(`response has no "jwt" field`)
	}
	var value string
	if err := json.Unmarshal(resp.JWT, &value); err != nil {
		return "", errors.New(`response field "jwt" is not a string`)
	}
	if value == "" {
		return "", errors.New(`response field "jwt" is empty`)
	}
	return value, nil
}

// describeJSONError describes a decoding error of a response body. The
// errors of encoding/json may quote a number from the input, so only
// their kind and position are kept.
func describeJSONError(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("response is not valid JSON (syntax error at byte %d)", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		kind, _, _ := strings.Cut(typeErr.Value, " ")
		return fmt.Sprintf("response is a JSON %s, want an object", kind)
	default:
		return "response is not valid JSON"
	}
}

// clerkErrorCode returns the code of the first error of a Clerk error
// body, {"errors":[{"code":"..."}]}, or "" when there is none, when it is
// not a short snake_case word, or when it contains secret. The checks keep
// a server that echoes a request header or a token from putting a secret
// into an error message.
func clerkErrorCode(body []byte, secret string) string {
	var resp struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Errors) == 0 {
		return ""
	}
	code := resp.Errors[0].Code
	if code == "" || len(code) > maxErrorCodeLength ||
		(secret != "" && strings.Contains(code, secret)) {
		return ""
	}
	for _, c := range code {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return ""
		}
	}
	return code
}
