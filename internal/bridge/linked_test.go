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
	for i := range 2 * maxLinked {
		lt.heard(announceMsg(t, fmt.Sprintf(`{"box":"b%d","prefix":"b%d."}`, i, i)), now)
	}
	if len(lt.boxes) > maxLinked {
		t.Errorf("%d linked boxes kept, bound is %d", len(lt.boxes), maxLinked)
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
