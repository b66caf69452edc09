package drift

import (
	"testing"
	"time"
)

func TestWalkIsSeededBoundedAndClocked(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	a := New(42, clock, Climate()...)
	b := New(42, clock, Climate()...)
	c := New(43, clock, Climate()...)
	if a.Get("temperature") != 21.5 {
		t.Fatal("start value not kept before the clock moves")
	}
	now = now.Add(500 * time.Millisecond)
	if a.Get("temperature") != 21.5 {
		t.Fatal("moved within the first second")
	}
	now = now.Add(2 * time.Hour)
	va, vb, vc := a.Values(), b.Values(), c.Values()
	if va["temperature"] != vb["temperature"] || va["lux"] != vb["lux"] {
		t.Errorf("same seed differs: %v %v", va, vb)
	}
	if va["temperature"] == vc["temperature"] {
		t.Errorf("different seeds agree: %v", va["temperature"])
	}
	for _, s := range Climate() {
		a.Step(5000)
		v := a.Get(s.Name)
		if v < s.Min || v > s.Max {
			t.Errorf("%s = %v outside [%v, %v]", s.Name, v, s.Min, s.Max)
		}
	}
	a.Set("humidity", 500)
	if a.Get("humidity") != 70 {
		t.Errorf("Set not clamped: %v", a.Get("humidity"))
	}
	if a.Get("nope") != 0 || len(a.Specs()) != 4 {
		t.Error("unknown quantity / specs")
	}
}
