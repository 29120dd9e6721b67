package console_test

import (
	"context"
	"strings"
	"testing"

	"lachan/server/system"
)

// TestSystemsPage: each system with its cấp độ, the four layers, its
// coverage and its gaps, names and gaps in the page's language only.
func TestSystemsPage(t *testing.T) {
	e := newEnv(t)
	sys := system.System{ID: "mot-cua", Name: system.Name{VI: "Hệ thống một cửa", EN: "One-stop system"}, Owner: "ward-1", Level: 3}
	if _, _, err := system.NewRegistry(e.st, nil, nil).Put(context.Background(), sys, "test"); err != nil {
		t.Fatal(err)
	}
	a := e.addUser("lan", "analyst")
	b := e.browser()
	b.login("lan", a.Password, "mật-khẩu-rất-dài-s1")
	p := b.get("/systems")
	for _, want := range []string{"Hệ thống một cửa", "Cấp độ: <b>3</b>", "Lớp 1", "Lớp 2", "Lớp 3", "Lớp 4", "Chưa phân công lực lượng tại chỗ"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("systems page (vi) lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "No on-site force assigned") || strings.Contains(p.Body, "One-stop system") {
		t.Errorf("systems page (vi) shows the English text too")
	}
	if p := b.get("/"); !strings.Contains(p.Body, "Hệ thống một cửa") || strings.Contains(p.Body, "One-stop system") {
		t.Errorf("overview (vi) does not name the system in Vietnamese only")
	}
	if p = b.get("/lang?set=en&next=/systems"); p.StatusCode != 303 {
		t.Fatalf("switch to English: %d", p.StatusCode)
	}
	p = b.get("/systems")
	if !strings.Contains(p.Body, "One-stop system") || !strings.Contains(p.Body, "No on-site force assigned") ||
		strings.Contains(p.Body, "Chưa phân công") {
		t.Errorf("systems page (en) is not in English only:\n%s", p.Body)
	}
}
