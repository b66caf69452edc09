package meshsocket_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/meshbox/meshbox/meshsocket"
	"github.com/meshbox/meshbox/meshsocket/meshsockettest"
)

// The seed's "minimal server: push telemetry + handle a command", in Go:
// actions from the phone arrive as broadcast frames (demultiplexed on
// msg_type), and metrics are broadcast every second.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	client, err := meshsocket.New(meshsocket.Options{
		URL:          "ws://192.168.1.50:8765", // your relay; wss:// + Token for a gateway
		Name:         "Demo-Server",
		Token:        os.Getenv("MESH_AUTH_TOKEN"),
		Channel:      "home",
		Role:         "hub",
		CanBroadcast: meshsocket.Bool(true),
		CanRoute:     meshsocket.Bool(true),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// device → server: actions arrive as "broadcast", demux on msg_type.
	client.On("broadcast", func(_ context.Context, f meshsocket.Frame) (any, error) {
		var p struct {
			MsgType string `json:"msg_type"`
			Command string `json:"command"`
			Target  string `json:"target"`
			Value   any    `json:"value"`
		}
		if json.Unmarshal(f.Payload, &p) != nil {
			return nil, nil
		}
		switch p.MsgType {
		case "command":
			log.Println("command:", p.Command)
		case "set":
			log.Println("set:", p.Target, "→", p.Value)
		}
		return nil, nil // no reply: fire-and-forget
	})

	if err := client.Start(ctx); err != nil { // returns once welcomed
		log.Fatal(err)
	}
	log.Println("connected to the relay on channel home")

	// server → device: broadcast metrics every second.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = client.Emit(ctx, "broadcast_request", map[string]any{
			"msg_type": "metrics",
			"cpu":      rand.IntN(101),
			"mem":      rand.IntN(101),
		})
	}
}

// A runnable version against an in-process test relay: a hub handles a
// command from a phone, answers a routed request, and pushes telemetry.
func Example_hubAndPhone() {
	relay := meshsockettest.New()
	srv := httptest.NewServer(relay)
	defer relay.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	hub, _ := meshsocket.New(meshsocket.Options{URL: url, Name: "hub", Channel: "home", Role: "hub",
		CanBroadcast: meshsocket.Bool(true), CanRoute: meshsocket.Bool(true)})
	defer hub.Close()
	commands := make(chan string, 1)
	hub.On("broadcast", func(_ context.Context, f meshsocket.Frame) (any, error) {
		var p struct {
			MsgType string `json:"msg_type"`
			Command string `json:"command"`
		}
		if json.Unmarshal(f.Payload, &p) == nil && p.MsgType == "command" {
			commands <- p.Command
		}
		return nil, nil
	})
	hub.On("get_doc", func(_ context.Context, f meshsocket.Frame) (any, error) {
		return map[string]string{"title": "README"}, nil // becomes the reply
	})

	phone, _ := meshsocket.New(meshsocket.Options{URL: url, Name: "phone", Channel: "home", Role: "controller",
		CanBroadcast: meshsocket.Bool(true), CanRoute: meshsocket.Bool(true)})
	defer phone.Close()
	metrics := make(chan string, 1)
	phone.On("broadcast", func(_ context.Context, f meshsocket.Frame) (any, error) {
		var p struct {
			MsgType string `json:"msg_type"`
			CPU     int    `json:"cpu"`
		}
		if json.Unmarshal(f.Payload, &p) == nil && p.MsgType == "metrics" {
			metrics <- fmt.Sprint("cpu=", p.CPU)
		}
		return nil, nil
	})
	if err := hub.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := phone.Start(ctx); err != nil {
		log.Fatal(err)
	}

	_ = phone.Broadcast(ctx, map[string]string{"msg_type": "command", "command": "reboot"})
	fmt.Println("hub got command:", <-commands)
	_ = hub.Broadcast(ctx, map[string]any{"msg_type": "metrics", "cpu": 42})
	fmt.Println("phone got metrics:", <-metrics)
	doc, err := phone.Route(ctx, hub.ID(), "get_doc", map[string]string{"path": "README.md"})
	fmt.Println("routed reply:", string(doc), err)
	// Output:
	// hub got command: reboot
	// phone got metrics: cpu=42
	// routed reply: {"title":"README"} <nil>
}
