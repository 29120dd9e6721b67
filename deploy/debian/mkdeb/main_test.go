package main

import (
	"strings"
	"testing"
)

func TestDebVersion(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "1.2.0", want: "1.2.0"},
		{in: "v1.2.0\n", want: "1.2.0"},
		{in: "v1.2.0-3-gabc1234", want: "1.2.0+3.gabc1234"},
		{in: "v1.2.0-3-gabc1234-dirty", want: "1.2.0+3.gabc1234.dirty"},
		{in: "0.0.0+41.gdd47383", want: "0.0.0+41.gdd47383"},
		{in: "1.0~rc1", want: "1.0~rc1"},
		{in: "", err: "empty"},
		{in: "dd47383", err: "starts with a digit"},
		{in: "1.0 beta", err: "starts with a digit"},
		{in: "1.0_1", err: "starts with a digit"},
	} {
		got, err := debVersion(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("debVersion(%q) = %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("debVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
