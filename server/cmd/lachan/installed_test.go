package main

import "testing"

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8443":      "127.0.0.1:8443",
		"[::]:8443":         "127.0.0.1:8443",
		":8443":             "127.0.0.1:8443",
		"127.0.0.1:8443":    "127.0.0.1:8443",
		"10.0.0.5:9443":     "10.0.0.5:9443",
		"soc.hcm.gov.vn:84": "soc.hcm.gov.vn:84",
		"not an address":    "not an address",
	} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnrollHost(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"localhost", "127.0.0.1", "::1"}, "localhost"},
		{[]string{"localhost", "127.0.0.1", "soc.hcm.gov.vn", "10.0.0.5"}, "soc.hcm.gov.vn"},
		{[]string{"10.0.0.5"}, "10.0.0.5"},
		{nil, "HOST"},
	} {
		if got := enrollHost(tc.names); got != tc.want {
			t.Errorf("enrollHost(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}
