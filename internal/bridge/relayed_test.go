package bridge

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestRelayedBookkeeping: a forwarded command's ack comes back once, an
// unknown or repeated cmd id never; the remembered ids are bounded; a
// writer that is behind loses forwards instead of blocking the reader;
// rosters only touch the boxes heard through the member that sent them.
func TestRelayedBookkeeping(t *testing.T) {
	b := &Bridge{}
	up := &Member{b: b, upstream: true, fwd: make(chan json.RawMessage, 2), log: testLogger(t)}
	home := &Member{b: b, fwd: make(chan json.RawMessage, fwdQueue), log: testLogger(t)}
	b.addMember(up)
	b.addMember(home)

	b.forwardCommand(up, json.RawMessage(`{"msg_type":"cmd"}`), "c1")
	if !b.forwardedAck("c1") || b.forwardedAck("c1") || b.forwardedAck("c2") || b.forwardedAck("") {
		t.Fatal("an ack must come back exactly once, and only for a forwarded command")
	}
	for i := range 3 * maxRelayed {
		b.forwardCommand(up, nil, fmt.Sprintf("x%d", i))
	}
	if n := len(b.members.relayed); n > maxRelayed {
		t.Fatalf("%d forwarded ids remembered, want at most %d", n, maxRelayed)
	}
	if len(up.fwd) != 2 || b.members.dropped == 0 {
		t.Fatalf("a full writer: %d queued, %d dropped", len(up.fwd), b.members.dropped)
	}
	b.members.relayed["old"] = time.Now().Add(-2 * relayedFor)
	if b.forwardedAck("old") {
		t.Fatal("an ack after relayedFor is not ours any more")
	}

	b.toHome(json.RawMessage(`{"msg_type":"state"}`))
	if len(home.fwd) != 1 || len(up.fwd) != 2 {
		t.Fatalf("toHome reached %d home and changed the upstream queue to %d", len(home.fwd), len(up.fwd))
	}
	b.removeMember(home)
	b.toHome(json.RawMessage(`{}`))
	if len(home.fwd) != 1 {
		t.Fatal("a removed member still gets forwards")
	}

	var lt linkedTable
	now := time.Now()
	lt.heardVia(announceMsg(t, `{"box":"g","prefix":"g."}`), now, up)
	lt.heardVia(announceMsg(t, `{"box":"h","prefix":"h."}`), now, home)
	lt.rosterVia(json.RawMessage(`{"clients":[{"name":"phone"}]}`), home) // home's roster: only h is there
	if name, via := lt.ownerVia("g.lamp", now); name != "g" || via != up {
		t.Errorf("a box heard upstream was dropped by the home relay's roster: %q %p", name, via)
	}
	if name, _ := lt.ownerVia("h.lamp", now); name != "" {
		t.Errorf("h left the home relay but still owns h.lamp")
	}
}
