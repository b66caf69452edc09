package mqttlink

import (
	"context"
	"errors"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// retainDoNotSend is MQTT 5 retain handling 2: the broker does not send
// retained messages when the subscription is made.
const retainDoNotSend = 2

// subscriptions are the link's subscriptions: commands (never their
// retained copies) and, with discovery, Home Assistant's status topic.
func (l *Link) subscriptions() []paho.SubscribeOptions {
	subs := []paho.SubscribeOptions{{Topic: l.opts.Base + "/+/set", QoS: l.opts.QoS, RetainHandling: l.setRetainHandling}}
	if l.opts.Discovery {
		subs = append(subs, paho.SubscribeOptions{Topic: l.opts.haStatusTopic(), QoS: l.opts.QoS, RetainHandling: retainDoNotSend})
	}
	return subs
}

// received handles an incoming publish; it runs on paho's goroutine and must
// not block.
func (l *Link) received(p *paho.Publish) {
	if l.opts.Discovery && p.Topic == l.opts.haStatusTopic() {
		if string(p.Payload) == "online" {
			l.enqueue(command{haOnline: true})
		}
		return
	}
	id := l.opts.commandTarget(p.Topic)
	if id == "" {
		return
	}
	if p.Retain {
		// A retained command is an old one: acting on it at every start
		// or reconnect is how garage doors open when the Wi-Fi blips.
		l.droppedRetained(p.Topic, p.Payload)
		return
	}
	l.enqueue(command{id: id, payload: append([]byte(nil), p.Payload...)})
}

// enqueue hands c to the command worker without blocking.
func (l *Link) enqueue(c command) {
	select {
	case l.cmds <- c:
	default:
		l.mu.Lock()
		l.stats.Dropped++
		l.mu.Unlock()
		l.log.Warn("mqtt command dropped: too many in flight", "target", c.id)
	}
}

// droppedRetained counts a retained command and logs it once per topic.
func (l *Link) droppedRetained(topic string, payload []byte) {
	l.mu.Lock()
	l.stats.Retained++
	first := !l.retainedSeen[topic]
	l.retainedSeen[topic] = true
	l.mu.Unlock()
	if first {
		l.log.Warn("mqtt: ignoring a retained command; clear it on the broker (publish an empty retained message to the topic)",
			"topic", topic, "payload", truncate(payload, 64),
			"clear", "mosquitto_pub -r -n -t '"+topic+"'")
	}
}

// haOnline re-publishes discovery and every state when Home Assistant
// announces itself (its birth message, "online"): a restarted Home
// Assistant or a broker that lost its retained messages shows the box again.
func (l *Link) haOnline() {
	l.log.Info("mqtt: Home Assistant is online; publishing discovery and every state again")
	l.republishAll()
	l.queueDiscovery()
	l.signal()
}

// republishAll marks every kept topic (states, availability) pending.
// One-shot messages (errors) are not repeated.
func (l *Link) republishAll() {
	l.mu.Lock()
	for t, m := range l.latest {
		if !m.once {
			l.pending[t] = true
		}
	}
	l.mu.Unlock()
}

func (l *Link) commandLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-l.cmds:
			if c.haOnline {
				l.haOnline()
				continue
			}
			l.apply(ctx, c)
		}
	}
}

// ErrUnknownControl is reported for a command topic naming no control.
var ErrUnknownControl = errors.New("unknown control")

// apply runs one live command through the hub (the phone's path). A
// refused command gets a (not retained) message on <base>/<id>/error with
// the reason; an applied one re-publishes the resulting state, so a client
// waiting for a reply gets one even when nothing changed.
func (l *Link) apply(ctx context.Context, c command) {
	ctl, ok := l.controls[c.id]
	var err error
	var v, result any
	if !ok {
		err = ErrUnknownControl
	} else if v, err = parseCommand(ctl.Kind, c.payload); err == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		result, err = l.hub.Apply(actx, c.id, v, "mqtt")
		cancel()
	}
	l.mu.Lock()
	if err != nil {
		l.stats.BadCommands++
	} else {
		l.stats.Commands++
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Info("mqtt command refused", "target", c.id, "payload", truncate(c.payload, 64), "err", err)
		l.publishOnce(l.opts.errorTopic(c.id), []byte(err.Error()))
		return
	}
	if result != nil {
		l.changed(c.id, result, false)
	}
}

// publishOnce queues a message published once, not retained and not
// repeated after a reconnect.
func (l *Link) publishOnce(topic string, payload []byte) {
	l.mu.Lock()
	l.latest[topic] = message{payload: payload, once: true}
	l.pending[topic] = true
	l.mu.Unlock()
	l.signal()
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
