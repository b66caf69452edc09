package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func announceMsg(t *testing.T, s string) inMsg {
	t.Helper()
	var m inMsg
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLinkedTable(t *testing.T) {
	var lt linkedTable
	now := time.Unix(1000, 0)
	for _, bad := range []string{
		`{"box":"g"}`, `{"prefix":"g."}`, `{"box":1,"prefix":"g."}`, `{"box":"g","prefix":["g."]}`,
		fmt.Sprintf(`{"box":"g","prefix":%q}`, strings.Repeat("x", maxPrefixLen+1)),
	} {
		lt.heard(announceMsg(t, bad), now)
	}
	if len(lt.boxes) != 0 {
		t.Fatalf("bad announces kept: %v", lt.boxes)
	}
	lt.heard(announceMsg(t, `{"box":"garage","prefix":"garage."}`), now)
	if got := lt.owner("garage.lamp", now); got != "garage" {
		t.Errorf("owner(garage.lamp) = %q", got)
	}
	if got := lt.owner("lamp", now); got != "" {
		t.Errorf("owner(lamp) = %q", got)
	}
	if got := lt.owner("garage.lamp", now.Add(LinkedFor+time.Second)); got != "" {
		t.Errorf("owner after %v unheard = %q, want forgotten", LinkedFor, got)
	}
	for i := range 2 * MaxLinked {
		lt.heard(announceMsg(t, fmt.Sprintf(`{"box":"b%d","prefix":"b%d."}`, i, i)), now)
	}
	if len(lt.boxes) > MaxLinked {
		t.Errorf("%d linked boxes kept, bound is %d", len(lt.boxes), MaxLinked)
	}
	// expired entries make room for a new box
	later := now.Add(LinkedFor + time.Second)
	lt.heard(announceMsg(t, `{"box":"late","prefix":"late."}`), later)
	if got := lt.owner("late.x", later); got != "late" {
		t.Errorf("owner(late.x) = %q after expiry made room", got)
	}
}

func TestLinkedValuesMergeAndUnavailable(t *testing.T) {
	var lt linkedTable
	now := time.Unix(1000, 0)
	lt.values(announceMsg(t, `{"msg_type":"state","target":"g.lamp","value":true}`), "state") // before the announce: ignored
	lt.heard(announceMsg(t, `{"box":"g","prefix":"g."}`), now)
	lt.values(announceMsg(t, `{"msg_type":"state","target":"g.lamp","value":true}`), "state")
	lt.values(announceMsg(t, `{"msg_type":"metrics","source":"g.c","g.c_t":21.5,"other":1}`), "metrics")
	lt.values(announceMsg(t, `{"msg_type":"control_snapshot","controls":{"g.fan":false,"g.bad":{"x":1}}}`), "control_snapshot")
	lt.values(announceMsg(t, `{"msg_type":"control_snapshot","controls":7}`), "control_snapshot")
	got := lt.merge(map[string]any{"lamp": false}, now)
	want := map[string]any{"lamp": false, "g.lamp": true, "g.c_t": 21.5, "g.fan": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
	got = lt.merge(map[string]any{"lamp": false}, now.Add(LinkedFor+time.Second))
	if got["g.lamp"] != nil || got["g.fan"] != nil || len(got) != 4 {
		t.Errorf("merge after the box went quiet = %v, want its values null", got)
	}
	lt.heard(announceMsg(t, `{"box":"g","prefix":"g."}`), now.Add(LinkedFor+2*time.Second))
	if got = lt.merge(nil, now.Add(LinkedFor+2*time.Second)); got["g.lamp"] != true {
		t.Errorf("merge after the box came back = %v", got)
	}
}

func TestLinkedRoster(t *testing.T) {
	var lt linkedTable
	now := time.Now()
	lt.heard(announceMsg(t, `{"box":"g","prefix":"g."}`), now)
	lt.heard(announceMsg(t, `{"box":"h","prefix":"h."}`), now)
	for _, bad := range []string{`7`, `{"clients":3}`, `{}`, `{"clients":[{"name":1}]`} {
		lt.roster(json.RawMessage(bad))
	}
	if lt.owner("g.x", now) != "g" || lt.owner("h.x", now) != "h" {
		t.Fatal("a bad roster changed the table")
	}
	lt.roster(json.RawMessage(`{"clients":[{"id":"1","name":"h"},{"id":"2","name":"phone"}]}`))
	if lt.owner("g.x", now) != "" || lt.owner("h.x", now) != "h" {
		t.Errorf("after g left: owner(g.x)=%q owner(h.x)=%q", lt.owner("g.x", now), lt.owner("h.x", now))
	}
}

// TestLinkedChangesAndTabs: the table says when the hub's view changed
// (EventLinked): a new box, new tabs, a box that went quiet or left; the
// same announce again is no change. Oversized or non-array tabs are not
// kept.
func TestLinkedChangesAndTabs(t *testing.T) {
	var lt linkedTable
	now := time.Unix(1000, 0)
	tabs := `[{"title":"Controls"}]`
	steps := []struct {
		what    string
		changed bool
		do      func() bool
	}{
		{"first announce", true, func() bool { return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v1"}`), now) }},
		{"same again", false, func() bool { return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v1"}`), now) }},
		{"tabs", true, func() bool {
			return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v1","tabs":`+tabs+`}`), now)
		}},
		{"tabs again", false, func() bool {
			return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v1","tabs":`+tabs+`}`), now)
		}},
		{"not expired yet", false, func() bool { return lt.expire(now.Add(LinkedFor)) }},
		{"expired", true, func() bool { return lt.expire(now.Add(LinkedFor + time.Second)) }},
		{"expired again", false, func() bool { return lt.expire(now.Add(LinkedFor + 2*time.Second)) }},
		{"back", true, func() bool { return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v1"}`), now) }},
		{"left the roster", true, func() bool { return lt.roster(json.RawMessage(`{"clients":[{"name":"phone"}]}`)) }},
		{"still gone", false, func() bool { return lt.roster(json.RawMessage(`{"clients":[]}`)) }},
		{"new layout version", true, func() bool { return lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v2"}`), now) }},
	}
	for _, s := range steps {
		if got := s.do(); got != s.changed {
			t.Errorf("%s: changed = %v, want %v", s.what, got, s.changed)
		}
	}
	l := lt.list(now)
	if len(l) != 1 || l[0].Name != "g" || l[0].Prefix != "g." || !l[0].Available || l[0].V != "v2" || l[0].Tabs != nil {
		t.Errorf("list = %+v, want g available at v2 without the v1 tabs", l)
	}
	lt.heard(announceMsg(t, `{"box":"g","prefix":"g.","v":"v2","tabs":{"x":1}}`), now)
	lt.heard(announceMsg(t, fmt.Sprintf(`{"box":"g","prefix":"g.","v":"v2","tabs":["%s"]}`, strings.Repeat("x", MaxLinkedTabs))), now)
	if l := lt.list(now); l[0].Tabs != nil {
		t.Errorf("bad tabs kept: %.40s", l[0].Tabs)
	}
	if l := lt.list(now.Add(LinkedFor + time.Second)); l[0].Available {
		t.Error("a box not heard for LinkedFor is listed available")
	}
}

// TestHubbed: a linked member named in a box_hub leaves
// control_sync_request to the hub for LinkedFor; another box's box_hub,
// or a member without a prefix (the hub's own), changes nothing.
func TestHubbed(t *testing.T) {
	m := &Member{prefix: "garage.", name: "garage"}
	now := time.Unix(1000, 0)
	sync := json.RawMessage(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	if m.hubbed(sync, now) {
		t.Fatal("sync request skipped before any box_hub")
	}
	if !m.hubbed(json.RawMessage(`{"msg_type":"box_hub","hub":"h","boxes":["shed"]}`), now) {
		t.Error("box_hub passed to the bridge")
	}
	if m.hubbed(sync, now) {
		t.Error("sync request skipped after a box_hub for another box")
	}
	m.hubbed(json.RawMessage(`{"msg_type":"box_hub","hub":"h","boxes":["shed","garage"]}`), now)
	if !m.hubbed(sync, now.Add(LinkedFor-time.Second)) {
		t.Error("sync request answered while the hub aggregates this box")
	}
	if m.hubbed(sync, now.Add(LinkedFor+time.Second)) {
		t.Error("sync request still skipped after the hub went quiet")
	}
	if m.hubbed(json.RawMessage(`{"msg_type":"cmd","target":"garage.lamp","note":"control_sync_request"}`), now) {
		t.Error("a command skipped")
	}
	own := &Member{name: "hub"}
	if own.hubbed(json.RawMessage(`{"msg_type":"box_hub","hub":"h","boxes":["hub"]}`), now) || own.hubbed(sync, now) {
		t.Error("a member without a prefix is hubbed")
	}
}

// TestHubFrame: the hub's box_hub names the available linked boxes; with
// none (or on a prefixed member) nothing is sent.
func TestHubFrame(t *testing.T) {
	b, _ := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	if _, ok := b.Frame(Event{Kind: EventLinked}, ""); ok {
		t.Error("box_hub sent with no linked box")
	}
	b.heardAnnounce(announceMsg(t, `{"box":"shed","prefix":"shed."}`), nil)
	b.heardAnnounce(announceMsg(t, `{"box":"garage","prefix":"garage."}`), nil)
	raw, ok := b.Frame(Event{Kind: EventLinked}, "")
	want := `{"msg_type":"box_hub","hub":"` + b.Name() + `","boxes":["garage","shed"]}`
	if !ok || string(raw) != want {
		t.Errorf("box_hub = %s %v, want %s", raw, ok, want)
	}
	if _, ok := b.Frame(Event{Kind: EventLinked}, "up."); ok {
		t.Error("box_hub sent on a prefixed (upstream) member")
	}
}

func TestSetPath(t *testing.T) {
	m := map[string]any{"msg_type": "metrics", "source": "x", "flat": 1.0}
	setPath(m, []string{"garage", "temp"}, 21.5)
	setPath(m, []string{"garage", "", "hum"}, 40.0)
	setPath(m, []string{"source", "temp"}, 1.0) // a string on the way: not set
	setPath(m, []string{"flat"}, 2.0)           // one segment: the flat key is the path
	setPath(m, []string{"a", "b", "c"}, true)
	got, _ := json.Marshal(m)
	if want := `{"a":{"b":{"c":true}},"flat":1,"garage":{"hum":40,"temp":21.5},"msg_type":"metrics","source":"x"}`; string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestLinkedIgnoresOwnSnapshotEcho: the relay echoes the hub's merged
// snapshot (its own ids and the linked box's) back to the hub; only a
// snapshot whose ids are all one box's updates that box's values.
func TestLinkedIgnoresOwnSnapshotEcho(t *testing.T) {
	var lt linkedTable
	now := time.Unix(1000, 0)
	lt.heard(announceMsg(t, `{"box":"g","prefix":"g."}`), now)
	lt.values(announceMsg(t, `{"msg_type":"control_snapshot","controls":{"g.lamp":true}}`), "control_snapshot")
	lt.values(announceMsg(t, `{"msg_type":"control_snapshot","controls":{"lamp":false,"g.lamp":null}}`), "control_snapshot")
	if got := lt.merge(nil, now); got["g.lamp"] != true {
		t.Errorf("g.lamp = %v after the hub's own snapshot came back, want true", got["g.lamp"])
	}
}
