package admin

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/cli"
)

func TestFlagsFirst(t *testing.T) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.String("board", "", "")
	fs.Bool("demo", false, "")
	for _, c := range []struct{ in, want []string }{
		{[]string{"FILE", "-board", "pi5"}, []string{"-board", "pi5", "--", "FILE"}},
		{[]string{"-demo", "FILE", "-board=pi4"}, []string{"-demo", "-board=pi4", "--", "FILE"}},
		{[]string{"-demo", "--", "-5"}, []string{"-demo", "--", "-5"}},
		{[]string{"-demo"}, []string{"-demo"}},
	} {
		if got := flagsFirst(fs, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestParseFlags: -h prints the usage lines and the flags to stdout; a bad
// flag is one usage error (exit 2) that says where help is.
func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	env := cli.IO{Stdout: &out, Stderr: &out}
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.String("out", "", "private key file")
	if err := parseFlags(env, fs, []string{"-h"}, "usage: meshbox keygen"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if s := out.String(); !strings.HasPrefix(s, "usage: meshbox keygen\n") || !strings.Contains(s, "-out") {
		t.Fatalf("help: %q", s)
	}
	fs = flag.NewFlagSet("keygen", flag.ContinueOnError)
	var u *cli.UsageError
	err := parseFlags(env, fs, []string{"-nope"})
	if !errors.As(err, &u) || u.Help || !strings.Contains(u.Msg, "(meshbox keygen -h for help)") {
		t.Fatalf("bad flag: %#v", err)
	}
}
