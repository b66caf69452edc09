package e2ee

import "testing"

var benchFrame = []byte(`{"msg_type":"metrics","source":"climate","climate_temperature":21.43,"climate_humidity":40.2,"climate_pressure":1013.2}`)

func BenchmarkSeal(b *testing.B) {
	r, _ := NewRoom(Key{1}, nil, OpenerOptions{})
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		if _, err := r.Seal(benchFrame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens envelopes of one sender (the cached session key) in
// order, as the bridge does for a phone.
func BenchmarkOpen(b *testing.B) {
	s, _ := NewRoom(Key{1}, nil, OpenerOptions{})
	envs := make([][]byte, 4096)
	for i := range envs {
		envs[i], _ = s.Seal(benchFrame)
	}
	b.SetBytes(int64(len(benchFrame)))
	var o *Opener
	for i := 0; b.Loop(); i++ {
		if i%len(envs) == 0 {
			o = NewOpener(Key{1}, InfoRoom, OpenerOptions{})
		}
		if _, err := o.Open(envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
	}
}
