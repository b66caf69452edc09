package metrics

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/metrics/metricstest"
)

func TestRegistryWritesValidExposition(t *testing.T) {
	r := NewRegistry(nil)
	r.MustRegister(
		Family{Name: "meshbox_things_total", Help: "Things counter.", Type: Counter, Collect: func(emit Emit) {
			emit(3, "x", `quote" back\slash`+"\nnewline")
			emit(4, "x", "°C")
			emit(5, "x", "°C") // duplicate: dropped
		}},
		Family{Name: "meshbox_a", Help: "A gauge.", Type: Gauge, Collect: func(emit Emit) { emit(0.25) }},
		Family{Name: "meshbox_empty", Help: "Nothing.", Type: Gauge, Collect: func(Emit) {}},
		Family{Name: "meshbox_bad_label", Help: "Bad label name.", Type: Gauge, Collect: func(emit Emit) { emit(1, "a-b", "x") }},
	)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	s := metricstest.Parse(t, rec.Body.Bytes())
	if v, ok := s.Value("meshbox_a"); !ok || v != 0.25 {
		t.Errorf("meshbox_a = %v %v", v, ok)
	}
	if v, ok := s.Value("meshbox_things_total", "x", `quote" back\slash`+"\nnewline"); !ok || v != 3 {
		t.Errorf("escaped label: %v %v\n%s", v, ok, s)
	}
	if v, ok := s.Value("meshbox_things_total", "x", "°C"); !ok || v != 4 {
		t.Errorf("duplicate handling: %v %v", v, ok)
	}
	if _, ok := s.Families["meshbox_empty"]; ok {
		t.Error("a family without samples is exposed")
	}
	if _, ok := s.Families["meshbox_bad_label"]; ok {
		t.Error("an invalid sample is exposed")
	}
	if !strings.HasPrefix(s.Body, "# HELP meshbox_a A gauge.\n# TYPE meshbox_a gauge\nmeshbox_a 0.25\n") {
		t.Errorf("body starts %q", s.Body[:60])
	}
	if f := s.Families["meshbox_things_total"]; f.GetHelp() != "Things counter." || f.GetType().String() != "COUNTER" {
		t.Errorf("things family = %v", f)
	}
}

func TestRegisterRefusesBadFamilies(t *testing.T) {
	r := NewRegistry(nil)
	ok := Family{Name: "meshbox_x", Help: "x", Type: Gauge, Collect: func(Emit) {}}
	if err := r.Register(ok); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Family{
		ok, // twice
		{Name: "meshbox-x", Type: Gauge, Collect: ok.Collect},
		{Name: "meshbox_c", Type: Counter, Collect: ok.Collect}, // no _total
		{Name: "meshbox_y", Type: "summary", Collect: ok.Collect},
		{Name: "meshbox_z", Type: Gauge},
	} {
		if err := r.Register(f); err == nil {
			t.Errorf("Register(%s %s) accepted", f.Name, f.Type)
		}
	}
	var buf bytes.Buffer
	if err := r.WritePrometheus(&buf); err != nil || buf.Len() != 0 {
		t.Errorf("empty registry wrote %q %v", buf.String(), err)
	}
}
