package hil

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeQMP serves QEMU's greeting and answers like QEMU: an event before each
// answer, qom-get of gpioA0 from a map, errors for unknown properties.
func fakeQMP(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		props := map[string]any{"gpioA0": false}
		enc := json.NewEncoder(c)
		_ = enc.Encode(map[string]any{"QMP": map[string]any{"version": map[string]any{}, "capabilities": []string{}}})
		dec := json.NewDecoder(bufio.NewReader(c))
		for {
			var req struct {
				Execute   string `json:"execute"`
				Arguments struct {
					Property string `json:"property"`
					Value    any    `json:"value"`
				} `json:"arguments"`
			}
			if dec.Decode(&req) != nil {
				return
			}
			_ = enc.Encode(map[string]any{"event": "RTC_CHANGE", "data": map[string]any{}})
			v, ok := props[req.Arguments.Property]
			switch {
			case req.Execute == "qmp_capabilities":
				_ = enc.Encode(map[string]any{"return": map[string]any{}})
			case !ok:
				_ = enc.Encode(map[string]any{"error": map[string]any{"class": "GenericError", "desc": "Property '" + req.Arguments.Property + "' not found"}})
			case req.Execute == "qom-set":
				props[req.Arguments.Property] = req.Arguments.Value
				_ = enc.Encode(map[string]any{"return": map[string]any{}})
			default:
				_ = enc.Encode(map[string]any{"return": v})
			}
		}
	}()
	return path
}

func TestQMP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := DialQMP(ctx, fakeQMP(t))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if v, err := q.QOMGetBool(ctx, GPIOPath, "gpioA0"); err != nil || v {
		t.Fatalf("qom-get = %v, %v; want false, nil", v, err)
	}
	if err := q.QOMSet(ctx, GPIOPath, "gpioA0", true); err != nil {
		t.Fatal(err)
	}
	if v, err := q.QOMGetBool(ctx, GPIOPath, "gpioA0"); err != nil || !v {
		t.Fatalf("qom-get after set = %v, %v; want true, nil", v, err)
	}
	_, err = q.QOMGetBool(ctx, GPIOPath, "gpioZZ9")
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Class != "GenericError" {
		t.Fatalf("unknown property: err = %v, want a QMPError", err)
	}
}

func TestDialQMPTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := DialQMP(ctx, filepath.Join(t.TempDir(), "none")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}
