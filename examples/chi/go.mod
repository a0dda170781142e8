module github.com/swrtoken/swrtoken/examples/chi

go 1.25.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/swrtoken/swrtoken v0.0.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.2 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/swrtoken/swrtoken => ../..
