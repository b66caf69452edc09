package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/meshsocket/meshsockettest"
)

func TestClientCommands(t *testing.T) {
	r := meshsockettest.New()
	r.Token = "tok"
	srv := httptest.NewServer(r)
	defer r.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	getenv := func(k string) string {
		if k == "MESH_AUTH_TOKEN" {
			return "tok"
		}
		return ""
	}
	var out, errb bytes.Buffer
	env := &Env{Args: []string{"request", url, "ping", "--json"}, Getenv: getenv, Stdout: &out, Stderr: &errb}
	if err := run(ctx, env); err != nil || out.String() != "\"pong\"\n" {
		t.Fatalf("meshbox request ping = %q, %v", out.String(), err)
	}
	out.Reset()
	env.Args = []string{"send", "--channel", "home", url, "broadcast_request", `{"msg_type":"metrics"}`}
	if err := run(ctx, env); err != nil {
		t.Fatalf("meshbox send = %v", err)
	}
	env.Args = []string{"nodes", url}
	if err := run(ctx, env); err != nil || !strings.HasPrefix(out.String(), "NAME") {
		t.Fatalf("meshbox nodes = %q, %v", out.String(), err)
	}
	env.Args = []string{"request", url, "ping", "--token", "wrong"}
	if err := run(ctx, env); err == nil || !strings.Contains(err.Error(), "relay refused identify: 1008 unauthorized") || exitCode(err) != 1 {
		t.Fatalf("bad token = %v", err)
	}
	env.Args = []string{"send", url}
	if err := run(ctx, env); exitCode(err) != 2 {
		t.Fatalf("usage error = %v (exit %d); want exit 2", err, exitCode(err))
	}
}
