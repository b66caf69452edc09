package bridge

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// waitFor polls cond (state, not time) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockWorker makes the intake's worker wait on the heat group's lock
// (held by the test) with a command for heatB; release lets it go.
func blockWorker(t *testing.T, b *Bridge) (release func()) {
	t.Helper()
	dom := b.outputs["heatA"].dom
	dom.lock()
	b.Receive(json.RawMessage(`{"msg_type":"cmd","target":"heatB","value":true,"_cmd":"c0"}`))
	waitFor(t, "the worker to take c0", func() bool { return len(b.intake.q) == 0 })
	return dom.unlock
}

// TestAllOffGoesAheadOfQueuedCommands: all_off is handled as it arrives,
// and the commands that were waiting before it are refused, not applied
// after it.
func TestAllOffGoesAheadOfQueuedCommands(t *testing.T) {
	b, m := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	release := blockWorker(t, b)
	for i := 1; i <= 3; i++ {
		b.Receive(json.RawMessage(fmt.Sprintf(`{"msg_type":"cmd","target":"relay1","value":true,"_cmd":"c%d"}`, i)))
	}
	if n := len(b.intake.q); n != 3 {
		t.Fatalf("%d commands queued, want 3", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Receive(json.RawMessage(`{"msg_type":"command","command":"all_off","_cmd":"off"}`))
	}()
	waitFor(t, "all_off to cancel the queue", func() bool { return b.offGen.Load() == 2 })
	release()
	<-done
	for i := 1; i <= 3; i++ {
		ack := m.wait(t, "ack", isMsg("command_ack", "cmd_id", fmt.Sprintf("c%d", i)))
		if ack["ok"] != false || ack["error"] != "busy: cancelled by all_off" {
			t.Errorf("c%d: ack %v, want cancelled by all_off", i, ack)
		}
	}
	m.sync(t, b)
	acks := map[any]map[string]any{}
	for _, f := range m.all() {
		if f["msg_type"] == "command_ack" {
			acks[f["cmd_id"]] = f
		}
	}
	if a := acks["off"]; a == nil || a["ok"] != true {
		t.Errorf("all_off ack %v", a)
	}
	// c0 was waiting for its output when all_off came: refused too.
	if a := acks["c0"]; a == nil || a["ok"] != false {
		t.Errorf("c0 (in flight at all_off) ack %v, want refused", a)
	}
	if _, snap := b.Snapshot(); snap["relay1"] != false || snap["heatB"] == true {
		t.Errorf("after all_off: relay1=%v heatB=%v", snap["relay1"], snap["heatB"])
	}
}

// TestIntakeFullIsBusy: when the intake's queue is full a command is
// refused at once with "busy" (the reader never waits).
func TestIntakeFullIsBusy(t *testing.T) {
	b, m := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	release := blockWorker(t, b)
	defer release()
	for i := range intakeQueue {
		b.Receive(json.RawMessage(fmt.Sprintf(`{"msg_type":"cmd","target":"relay1","value":%v}`, i%2 == 0)))
	}
	b.Receive(json.RawMessage(`{"msg_type":"cmd","target":"relay1","value":true,"_cmd":"full","_from":"p"}`))
	ack := m.wait(t, "ack", isMsg("command_ack", "cmd_id", "full"))
	if ack["ok"] != false || ack["error"] != "busy: too many commands waiting" || ack["to"] != "p" {
		t.Errorf("ack %v, want busy", ack)
	}
}
