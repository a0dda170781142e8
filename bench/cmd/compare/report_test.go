package main

import (
	"testing"
	"time"
)

func TestDurFormatsThreeDigits(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{71, "71ns"},
		{1500 * time.Nanosecond, "1.5µs"},
		{101500 * time.Microsecond, "101.5ms"},
		{1610 * time.Millisecond, "1.61s"},
	}
	for _, tc := range tests {
		if got := dur(tc.in); got != tc.want {
			t.Errorf("dur(%d) = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name string
		a, b int64
		want string
	}{
		{"equal", 3, 3, "1.00x"},
		{"larger", 45, 3, "15.00x"},
		{"both zero", 0, 0, "="},
		{"over zero", 7, 0, "inf"},
	}
	for _, tc := range tests {
		if got := ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: ratio(%d, %d) = %q, want %q", tc.name, tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSelectPeers(t *testing.T) {
	all, err := selectPeers("all")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("all peers = %d, want 5", len(all))
	}
	two, err := selectPeers("swrtoken, cloud-auth")
	if err != nil {
		t.Fatal(err)
	}
	if len(two) != 2 || two[0].Name != "swrtoken" || two[1].Name != "cloud-auth" {
		t.Errorf("selected %v, want swrtoken and cloud-auth", two)
	}
	if _, err := selectPeers("swrtoken,nope"); err == nil {
		t.Errorf("selectPeers with an unknown name returned no error, want one")
	}
}
