package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestMain lets -compare re-run this test binary as a relay child
// ("-serve meshbox|minimal"), as it re-runs meshload itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// -compare runs both relays in child processes and prints the ratio.
func TestCompare(t *testing.T) {
	if testing.Short() {
		// The relays run in child processes (this test binary re-executed):
		// under qemu-user (make test-arm) the kernel cannot exec it.
		t.Skip("-short: execs the test binary as a child process")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-mode", "fanout", "-compare", "-rounds", "2", "-subs", "4", "-duration", "300ms", "-window", "16"},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"round 1: minimal", "round 1: meshbox", "round 2: meshbox", "deliveries/s ratio meshbox/minimal per round", "lost 0"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFanoutEmbedded(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-mode", "fanout", "-subs", "5", "-duration", "300ms", "-window", "16"},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"(loss 0,", "deliveries/s to 5 subscribers", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLatencyAndIdleWithToken(t *testing.T) {
	env := func(k string) string { return map[string]string{"MESH_AUTH_TOKEN": "t0k"}[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-mode", "latency", "-subs", "3", "-rate", "50", "-duration", "200ms"}, env, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"-mode", "idle", "-n", "20", "-duration", "100ms"}, env, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "20 of 20 answered") || !strings.Contains(out.String(), "RSS of") {
		t.Fatalf("idle report:\n%s", out.String())
	}
}

func TestParseLoad(t *testing.T) {
	seq, ts, ok := parseLoad([]byte(`{"id":"1e7c5b0a-0000-4000-8000-000000000001","type":"broadcast","payload":{"msg_type":"load","seq":42,"ts":1700000000000000000,"pad":"x"},"reply_to":null}`))
	if !ok || seq != 42 || ts != 1700000000000000000 {
		t.Fatalf("parseLoad = %d %d %v", seq, ts, ok)
	}
	if _, _, ok := parseLoad([]byte(`{"id":"x","type":"broadcast_request","payload":{"status":"sent"}}`)); ok {
		t.Fatal("ack parsed as a load frame")
	}
	// The Python reference relay writes json.dumps output: spaces after colons.
	seq, ts, ok = parseLoad([]byte(`{"id": "a", "type": "broadcast", "payload": {"msg_type": "load", "seq": 7, "ts": 123, "pad": "x"}, "reply_to": null}`))
	if !ok || seq != 7 || ts != 123 {
		t.Fatalf("parseLoad(python spacing) = %d %d %v", seq, ts, ok)
	}
	if _, _, ok := parseLoad([]byte(`{"id": "a", "type": "broadcast_request", "payload": {"status": "sent"}}`)); ok {
		t.Fatal("python-spaced ack parsed as a load frame")
	}
	if _, _, ok := parseLoad([]byte(`{"type":"broadcast","payload":{"seq":"x"}}`)); ok {
		t.Fatal("a load frame without numbers parsed")
	}
}

// The Python-like client joins (its exact upgrade request) and stays alive.
func TestIdlePythonClient(t *testing.T) {
	env := func(k string) string { return map[string]string{"MESH_AUTH_TOKEN": "t0k"}[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-mode", "idle", "-client", "python", "-n", "12", "-duration", "100ms"}, env, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "12 of 12 answered") || !strings.Contains(out.String(), "python client") {
		t.Fatalf("idle report:\n%s", out.String())
	}
}
