module github.com/swrtoken/swrtoken/bench

go 1.25.0

replace github.com/swrtoken/swrtoken => ../

require (
	cloud.google.com/go/auth v0.23.3
	github.com/MicahParks/keyfunc/v3 v3.9.2
	github.com/aws/smithy-go v1.28.9
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/swrtoken/swrtoken v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
	golang.org/x/oauth2 v0.36.0
)

require (
	cloud.google.com/go/compute/metadata v0.9.0 // indirect
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/googleapis/gax-go/v2 v2.23.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
