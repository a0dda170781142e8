package swrtoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testJWT returns a JWT in compact serialization whose payload contains
// claims, which must be JSON values. The cache never verifies signatures,
// so the signature part is a fixed placeholder.
func testJWT(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString(payload) + "." +
		enc.EncodeToString([]byte("placeholder signature"))
}

// jwtWithPayload returns a JWT whose payload segment encodes raw as is,
// for payloads that json.Marshal cannot produce.
func jwtWithPayload(raw string) string {
	return "eyJhbGciOiJIUzI1NiJ9." +
		base64.RawURLEncoding.EncodeToString([]byte(raw)) + ".c2ln"
}

// assertNoToken checks that text, an error message or log output, does not
// contain token. It names the token by its fingerprint, so that a failure
// does not print the token either.
func assertNoToken(t *testing.T, text, token string) {
	t.Helper()
	if token != "" && strings.Contains(text, token) {
		t.Errorf("text contains the token with fingerprint %s", Fingerprint(token))
	}
}

func TestParseJWTTimes(t *testing.T) {
	iat := time.Unix(1_700_000_000, 0)
	exp := time.Unix(1_700_000_060, 0)

	tests := []struct {
		name        string
		value       string
		wantIssued  time.Time
		wantExpiry  time.Time
		wantInvalid bool
	}{
		{
			name:       "iat and exp",
			value:      testJWT(map[string]any{"iat": iat.Unix(), "exp": exp.Unix(), "sub": "u1"}),
			wantIssued: iat,
			wantExpiry: exp,
		},
		{
			name:       "no iat",
			value:      testJWT(map[string]any{"exp": exp.Unix()}),
			wantExpiry: exp,
		},
		{
			name:       "fractional seconds",
			value:      jwtWithPayload(`{"iat":1700000000.25,"exp":1700000060.5}`),
			wantIssued: iat.Add(250 * time.Millisecond),
			wantExpiry: exp.Add(500 * time.Millisecond),
		},
		{
			name:       "exponent notation",
			value:      jwtWithPayload(`{"exp":1.70000006e9}`),
			wantExpiry: exp,
		},
		{
			name: "padded payload",
			value: "eyJhbGciOiJIUzI1NiJ9." +
				base64.URLEncoding.EncodeToString([]byte(`{"exp":1700000060}`)) + ".c2ln",
			wantExpiry: exp,
		},
		{
			name:       "empty signature",
			value:      strings.TrimSuffix(jwtWithPayload(`{"exp":1700000060}`), "c2ln"),
			wantExpiry: exp,
		},
		{name: "empty", value: "", wantInvalid: true},
		{name: "opaque token", value: "opaque-token-value", wantInvalid: true},
		{name: "two parts", value: "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9", wantInvalid: true},
		{name: "four parts", value: jwtWithPayload(`{"exp":1700000060}`) + ".more", wantInvalid: true},
		{name: "payload not base64url", value: "a.!!!.c", wantInvalid: true},
		{name: "payload not JSON", value: jwtWithPayload(`not json`), wantInvalid: true},
		{name: "payload JSON array", value: jwtWithPayload(`[1700000060]`), wantInvalid: true},
		{name: "exp missing", value: jwtWithPayload(`{"iat":1700000000}`), wantInvalid: true},
		{name: "exp null", value: jwtWithPayload(`{"exp":null}`), wantInvalid: true},
		{name: "exp not a number", value: jwtWithPayload(`{"exp":"soon"}`), wantInvalid: true},
		{name: "exp negative", value: jwtWithPayload(`{"exp":-1}`), wantInvalid: true},
		{name: "exp after year 9999", value: jwtWithPayload(`{"exp":253402300800}`), wantInvalid: true},
		{name: "exp overflows float64", value: jwtWithPayload(`{"exp":1e400}`), wantInvalid: true},
		{name: "iat invalid", value: jwtWithPayload(`{"iat":true,"exp":1700000060}`), wantInvalid: true},
		{name: "iat negative", value: jwtWithPayload(`{"iat":-5,"exp":1700000060}`), wantInvalid: true},
		{
			name:        "longer than 64 KiB",
			value:       testJWT(map[string]any{"exp": exp.Unix(), "pad": strings.Repeat("x", 64<<10)}),
			wantInvalid: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issued, expiry, err := ParseJWTTimes(tt.value)
			if tt.wantInvalid {
				require.ErrorIs(t, err, ErrMalformedJWT)
				assert.True(t, strings.HasPrefix(err.Error(), "swrtoken: "),
					"error %q lacks the package prefix", err)
				assertNoToken(t, err.Error(), tt.value)
				return
			}
			require.NoError(t, err)
			assert.True(t, issued.Equal(tt.wantIssued), "issuedAt: got %v, want %v", issued, tt.wantIssued)
			assert.True(t, expiry.Equal(tt.wantExpiry), "expiry: got %v, want %v", expiry, tt.wantExpiry)
		})
	}
}

func FuzzParseJWTTimes(f *testing.F) {
	f.Add(testJWT(map[string]any{"iat": 1_700_000_000, "exp": 1_700_000_060}))
	f.Add(testJWT(map[string]any{"exp": 1_700_000_060, "sub": "user"}))
	f.Add(jwtWithPayload(`{"iat":1700000000.25,"exp":1.70000006e9}`))
	f.Add(jwtWithPayload(`{"exp":-1}`))
	f.Add(jwtWithPayload(`{"exp":1e400}`))
	f.Add(jwtWithPayload(`{"exp":"1700000060"}`))
	f.Add(jwtWithPayload(`{"exp":null,"iat":{}}`))
	f.Add(jwtWithPayload(`[]`))
	f.Add("a.b.c")
	f.Add("a..c")
	f.Add("..")
	f.Add("")
	f.Add("no-dots-at-all")

	minDate := time.Unix(0, 0)
	maxDate := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		issued, expiry, err := ParseJWTTimes(value)
		if err != nil {
			if !errors.Is(err, ErrMalformedJWT) {
				t.Fatalf("error %v does not wrap ErrMalformedJWT", err)
			}
			// No message text contains a dot, so a dotted value found in
			// the error would be the token itself.
			if strings.Contains(value, ".") && strings.Contains(err.Error(), value) {
				t.Fatalf("error %q contains the token", err)
			}
			return
		}
		if got := strings.Count(value, "."); got != 2 {
			t.Fatalf("accepted a value with %d dots, want 2", got)
		}
		if expiry.Before(minDate) || !expiry.Before(maxDate) {
			t.Fatalf("expiry %v out of range", expiry)
		}
		if !issued.IsZero() && (issued.Before(minDate) || !issued.Before(maxDate)) {
			t.Fatalf("issuedAt %v out of range", issued)
		}
	})
}

func TestTokenLifetime(t *testing.T) {
	fetchStart := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	iat := fetchStart.Add(-90 * time.Second) // the issuer's clock is 90 s behind
	exp := iat.Add(time.Minute)
	jwtBoth := testJWT(map[string]any{"iat": iat.Unix(), "exp": exp.Unix()})
	jwtNoIat := testJWT(map[string]any{"exp": fetchStart.Add(40 * time.Second).Unix()})

	tests := []struct {
		name       string
		tok        Token
		want       time.Duration
		wantIssued time.Time // IssuedAt after the call
		wantExpiry time.Time // Expiry after the call
	}{
		{
			name: "opaque with Lifetime",
			tok:  Token{Value: "opaque", Lifetime: 45 * time.Second},
			want: 45 * time.Second,
		},
		{
			name:       "Lifetime wins over JWT claims",
			tok:        Token{Value: jwtBoth, Lifetime: 30 * time.Second},
			want:       30 * time.Second,
			wantIssued: iat,
			wantExpiry: exp,
		},
		{
			name:       "JWT exp minus iat",
			tok:        Token{Value: jwtBoth},
			want:       time.Minute,
			wantIssued: iat,
			wantExpiry: exp,
		},
		{
			name:       "JWT without iat uses the local clock",
			tok:        Token{Value: jwtNoIat},
			want:       40 * time.Second,
			wantExpiry: fetchStart.Add(40 * time.Second),
		},
		{
			name:       "IssuedAt and Expiry set by the Fetcher",
			tok:        Token{Value: "opaque", IssuedAt: iat, Expiry: iat.Add(2 * time.Minute)},
			want:       2 * time.Minute,
			wantIssued: iat,
			wantExpiry: iat.Add(2 * time.Minute),
		},
		{
			name:       "Expiry only uses the local clock",
			tok:        Token{Value: "opaque", Expiry: fetchStart.Add(20 * time.Second)},
			want:       20 * time.Second,
			wantExpiry: fetchStart.Add(20 * time.Second),
		},
		{
			name:       "IssuedAt from the Fetcher kept for a JWT",
			tok:        Token{Value: jwtBoth, IssuedAt: iat.Add(-30 * time.Second)},
			want:       90 * time.Second,
			wantIssued: iat.Add(-30 * time.Second),
			wantExpiry: exp,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			got, err := tok.lifetime(fetchStart)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "lifetime")
			assert.True(t, tok.IssuedAt.Equal(tt.wantIssued),
				"IssuedAt: got %v, want %v", tok.IssuedAt, tt.wantIssued)
			assert.True(t, tok.Expiry.Equal(tt.wantExpiry),
				"Expiry: got %v, want %v", tok.Expiry, tt.wantExpiry)
		})
	}
}

func TestTokenLifetimeMonotonicStart(t *testing.T) {
	// A fetch start from time.Now carries a monotonic reading, which must
	// not take part in the subtraction from a wall-clock Expiry.
	start := time.Now()
	tok := Token{Value: "opaque", Expiry: start.Round(0).Add(10 * time.Second)}

	got, err := tok.lifetime(start)

	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, got)
}

func TestTokenLifetimeErrors(t *testing.T) {
	tests := []struct {
		name    string
		tok     Token
		wantErr error // nil when only the failure is checked
	}{
		{name: "empty value", tok: Token{Lifetime: time.Minute}},
		{name: "opaque without lifetime", tok: Token{Value: "opaque-secret-value"}, wantErr: ErrMalformedJWT},
		{
			name:    "JWT without exp",
			tok:     Token{Value: testJWT(map[string]any{"iat": 1_700_000_000, "sub": "secret-subject"})},
			wantErr: ErrMalformedJWT,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			_, err := tok.lifetime(time.Now())
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assertNoToken(t, err.Error(), tt.tok.Value)
		})
	}
}

func TestFingerprint(t *testing.T) {
	// The first 6 bytes of SHA-256("abc"), from FIPS 180-2, appendix B.1.
	assert.Equal(t, "ba7816bf8f01", Fingerprint("abc"))

	value := testJWT(map[string]any{"exp": 1_700_000_060, "sub": "fingerprint"})
	got := Fingerprint(value)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}$`), got)
	assert.Equal(t, got, Fingerprint(value), "fingerprint is not stable")
	assert.NotEqual(t, got, Fingerprint(value+"x"), "different tokens share a fingerprint")
}
