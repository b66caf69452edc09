package main

import (
	"strings"
	"testing"
)

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		out, _, err := runCmd(t, arg)
		if err != nil || !strings.HasPrefix(out, "meshbox ") {
			t.Errorf("meshbox %s: %v %q", arg, err, out)
		}
	}
}

func TestCheckFlagAfterFile(t *testing.T) {
	out, _, err := runCmd(t, "check", "../../examples/relays.yaml", "-board", "pi5")
	if err != nil || !strings.Contains(out, "ok:") {
		t.Fatalf("check FILE -board pi5: %v\n%s", err, out)
	}
}
