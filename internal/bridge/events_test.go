package bridge

import (
	"context"
	"testing"
	"time"
)

// queueOf is a subscription with no pump: push fills q, nothing drains it.
func queueOf(max int) *Subscription {
	return &Subscription{max: max, wake: make(chan struct{}, 1)}
}

func kindsIDs(q []Event) []string {
	out := make([]string, len(q))
	for i, e := range q {
		switch e.Kind {
		case EventState:
			out[i] = "state:" + e.ID + ":" + map[bool]string{true: "on", false: "off"}[e.Value == true]
		case EventMetrics:
			out[i] = "metrics:" + e.Source
		default:
			out[i] = e.Kind.String()
		}
	}
	return out
}

// TestQueueRules: a full queue coalesces a control's states (latest wins),
// then drops the oldest metrics, then an older state superseded later in
// the queue, then the oldest event; it never blocks and counts every drop.
func TestQueueRules(t *testing.T) {
	s := queueOf(3)
	s.push(Event{Kind: EventState, ID: "lamp", Value: true})
	s.push(Event{Kind: EventMetrics, Source: "m1"})
	s.push(Event{Kind: EventState, ID: "fan", Value: true})
	s.push(Event{Kind: EventState, ID: "lamp", Value: false}) // replaces lamp:on
	want := []string{"metrics:m1", "state:fan:on", "state:lamp:off"}
	if got := kindsIDs(s.q); !equal(got, want) {
		t.Fatalf("after a second lamp state: %v, want %v", got, want)
	}
	s.push(Event{Kind: EventState, ID: "pump", Value: true}) // no pump state queued: the oldest metrics go
	want = []string{"state:fan:on", "state:lamp:off", "state:pump:on"}
	if got := kindsIDs(s.q); !equal(got, want) {
		t.Fatalf("after pump: %v, want %v", got, want)
	}
	s.push(Event{Kind: EventMetrics, Source: "m2"}) // no metrics, nothing superseded: the oldest event
	want = []string{"state:lamp:off", "state:pump:on", "metrics:m2"}
	if got := kindsIDs(s.q); !equal(got, want) {
		t.Fatalf("after m2: %v, want %v", got, want)
	}
	if s.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", s.Dropped())
	}

	// An older state superseded later in the queue goes before a newer
	// event of another kind.
	s = queueOf(3)
	s.push(Event{Kind: EventState, ID: "lamp", Value: true})
	s.push(Event{Kind: EventAck, CmdID: "c1"})
	s.push(Event{Kind: EventState, ID: "lamp", Value: false})
	s.push(Event{Kind: EventAck, CmdID: "c2"})
	if got := kindsIDs(s.q); !equal(got, []string{"ack", "state:lamp:off", "ack"}) {
		t.Fatalf("superseded state not dropped first: %v", got)
	}

	// Kinds not subscribed are never queued.
	s = queueOf(3)
	s.kinds = 1 << EventState
	s.push(Event{Kind: EventMetrics, Source: "m"})
	if len(s.q) != 0 {
		t.Fatal("an unwanted kind was queued")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSlowSubscriberNeverSlowsTheHardware: a subscriber that never reads
// does not hold up commands: thousands of Apply calls all complete, the
// pin ends where the last one put it, the subscriber's queue stays at its
// bound and its drops are counted, and what it finally reads is the
// latest state.
func TestSlowSubscriberNeverSlowsTheHardware(t *testing.T) {
	h := newFakeHost()
	b, _ := newTest(t, testConfig(t.TempDir()), h, Options{})
	stuck := b.Subscribe("stuck", SubscribeOptions{Queue: 4, Kinds: []EventKind{EventState}})
	defer stuck.Close()
	const n = 500 // under the output's actuation rate limit
	for i := range n {
		if _, err := b.Apply(context.Background(), "relay1", i%2 == 0, "t"); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	_, snap := b.Snapshot()
	if snap["relay1"] != false { // the last apply (i = n-1, odd) switched it off
		t.Fatalf("relay1 = %v after %d applies, want false", snap["relay1"], n)
	}
	// The publisher hands events over asynchronously: the drops are
	// counted as it catches up (the subscriber still reads nothing).
	for deadline := time.Now().Add(10 * time.Second); stuck.Dropped() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no drop counted for a subscriber that never read")
		}
	}
	stuck.mu.Lock()
	queued := len(stuck.q)
	stuck.mu.Unlock()
	if queued > 4 {
		t.Errorf("the stuck subscriber holds %d events, bound 4", queued)
	}

	var last Event
	read := 0
	for ; read <= n; read++ { // the publisher hands events over asynchronously
		select {
		case ev := <-stuck.C():
			last = ev
			continue
		case <-time.After(2 * time.Second): // drained (a stop condition, not a timing check)
		}
		break
	}
	if read > 4+1+maxPending { // bound + the pump's one + the publisher's intake
		t.Errorf("the stuck subscriber read %d events", read)
	}
	if last.Value != false {
		t.Errorf("the stuck subscriber's last relay1 state is %v, want the latest (false)", last.Value)
	}
}
