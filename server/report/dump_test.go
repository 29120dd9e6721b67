package report

import (
	"context"
	"os"
	"testing"
)

func TestDumpForLook(t *testing.T) {
	dir := os.Getenv("REPORT_DUMP")
	if dir == "" {
		t.Skip()
	}
	fx := newFixture(t)
	for _, c := range goldenCases() {
		rep, err := fx.builder.Build(context.Background(), c.req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := PDF(rep)
		os.WriteFile(dir+"/"+c.name+".pdf", b, 0o644)
	}
}
