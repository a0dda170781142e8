package swrtokentest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// requestToken sends a token request for sessionID and returns the status
// and, on success, the token.
func requestToken(iss *swrtokentest.Issuer, sessionID string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, iss.URL+"/v1/sessions/"+sessionID+"/tokens", nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+iss.SecretKey)
	resp, err := iss.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body struct {
		JWT string `json:"jwt"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.JWT
}

func ExampleNewIssuer() {
	iss := swrtokentest.NewIssuer(swrtokentest.Options{Lifetime: 30 * time.Second})
	defer iss.Close()

	status, token := requestToken(iss, "sess_123")
	fmt.Println("status:", status)

	// A server verifies the token with the keys of the issuer's JWKS.
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return iss.PublicKey(t.Header["kid"].(string)), nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(iss.URL))
	if err != nil {
		fmt.Println("verify:", err)
		return
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	fmt.Println("sid:", claims["sid"])
	fmt.Println("sub:", claims["sub"])
	fmt.Println("azp:", claims["azp"])
	fmt.Println("lifetime:", exp.Sub(iat.Time))
	// Output:
	// status: 200
	// sid: sess_123
	// sub: user_123
	// azp: http://localhost:3000
	// lifetime: 30s
}

func ExampleIssuer_FailFraction() {
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()

	iss.FailFraction(http.StatusServiceUnavailable, 0.25)
	var statuses []int
	for range 8 {
		status, _ := requestToken(iss, "sess_123")
		statuses = append(statuses, status)
	}
	fmt.Println(statuses)
	fmt.Println("token requests:", iss.TokenRequests())
	// Output:
	// [200 200 200 503 200 200 200 503]
	// token requests: 8
}

func ExampleIssuer_RevokeSession() {
	iss := swrtokentest.NewIssuer(swrtokentest.Options{})
	defer iss.Close()

	iss.RevokeSession("sess_123")
	status, _ := requestToken(iss, "sess_123")
	fmt.Println(status)
	// Output: 404
}
