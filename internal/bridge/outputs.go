package bridge

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

// applyWithin is how long a command may wait for its outputs to be free;
// after that it is refused with ErrBusy rather than applied late.
const applyWithin = time.Second

// domain serialises every change of a set of outputs that share an
// interlock group (transitively); an output without a group has its own.
// Its lock is a channel so a command can give up (lockWithin). It is never
// held across a sleep, a network send or a callback: only hardware writes
// and in-memory bookkeeping (event emission included) happen under it.
type domain struct {
	sem chan struct{} // cap 1: held while full

	// Guarded by the lock.
	pending *pendingOn // the scheduled switch-on after a dead time, if any
	gen     uint64     // invalidates a pending switch-on's timer
}

func newDomain() *domain { return &domain{sem: make(chan struct{}, 1)} }

func (d *domain) lock()   { d.sem <- struct{}{} }
func (d *domain) unlock() { <-d.sem }

// lockWithin takes the lock, or fails with ErrBusy after wait.
func (d *domain) lockWithin(ctx context.Context, wait time.Duration) error {
	select {
	case d.sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: not applied within %s", ErrBusy, wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pendingOn is a switch-on waiting for its interlock dead time.
type pendingOn struct {
	o     *output
	want  any
	hold  time.Duration
	timer *time.Timer
	ack   ackTo // answered when it is applied or cancelled
}

// ackTo is who to answer when a scheduled command completes (cmd "":
// nobody), and the all_off generation the command arrived in (0: none).
type ackTo struct {
	cmd, to string
	gen     uint64
}

// peer is another member of one of an output's interlock groups.
type peer struct {
	o    *output
	dead time.Duration
}

type output struct {
	// Immutable after New.
	cfg   config.Output
	kind  outKind
	boot  bootState
	exit  exitState
	out   gpio.Output // switch, momentary
	pwm   gpio.PWM    // pwm
	freq  float64
	pulse time.Duration
	dom   *domain
	peers []peer

	// Guarded by dom's lock.
	value    any       // bool, or float64 percent for pwm
	offAt    time.Time // last on->off
	onSince  time.Time // last off->on (bounds pulses while on)
	tokens   float64   // rate limiter
	lastTake time.Time
	timer    *time.Timer // pulse end or max_on
	gen      uint64      // invalidates a stale timer
	shut     bool        // exit state driven; no more changes
	exited   any         // the exit value driven (value keeps the last commanded one for restore)
	switches uint64
}

func (o *output) isOn() bool {
	switch v := o.value.(type) {
	case bool:
		return v
	case float64:
		return v > 0
	}
	return false
}

func (o *output) offValue() any {
	if o.kind == outPWM {
		return 0.0
	}
	return false
}

func outputLine(p config.Pin) gpio.Line {
	if p.Chip != "" {
		return gpio.Line{Chip: p.Chip, Offset: p.Line}
	}
	return gpio.Line{Offset: p.BCM}
}

// openOutputs opens every output at its boot state, honouring interlocks
// (a second member of a group that would boot on boots off).
func (b *Bridge) openOutputs() error {
	restored := b.loadState()
	for _, oc := range b.cfg.Outputs {
		if oc.Boot == "restore" { // typed below; the state file is needed before
			b.persistOn = b.cfg.StateDir != ""
		}
	}
	// Lock domains: union of interlock groups.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	for _, g := range b.cfg.Interlocks {
		for _, id := range g.Outputs[min(1, len(g.Outputs)):] {
			parent[find(id)] = find(g.Outputs[0])
		}
	}
	doms := map[string]*domain{}
	for _, oc := range b.cfg.Outputs {
		spec, err := resolveOutput(oc)
		if err != nil {
			return err
		}
		o := &output{cfg: oc, kind: spec.kind, boot: spec.boot, exit: spec.exit, freq: spec.freq, pulse: spec.pulse}
		root := find(oc.ID)
		if doms[root] == nil {
			doms[root] = newDomain()
		}
		o.dom = doms[root]
		b.outputs[oc.ID] = o
		b.outList = append(b.outList, o)
	}
	for _, g := range b.cfg.Interlocks {
		for _, a := range g.Outputs {
			for _, c := range g.Outputs {
				oa, oc := b.outputs[a], b.outputs[c]
				if a != c && oa != nil && oc != nil {
					oa.peers = append(oa.peers, peer{o: oc, dead: g.DeadTime})
				}
			}
		}
	}
	for _, o := range b.outList {
		want := b.bootValue(o, restored)
		if o.isOnValue(want) {
			for _, p := range o.peers {
				if p.o.isOn() {
					b.log.Warn("interlock: output boots off, a group member is already on", "output", o.cfg.ID, "other", p.o.cfg.ID)
					want = o.offValue()
					break
				}
			}
		}
		if err := b.openOutput(o, want); err != nil {
			return err
		}
		if o.boot == bootRestore && o.isOnValue(want) {
			b.log.Info("output restored on at boot", "output", o.cfg.ID, "value", want)
		}
		o.value = want
		o.tokens = math.Max(1, b.rate()) // a full bucket: the first command after boot is never refused
		b.record(o.cfg.ID, want, true, false)
		if o.isOn() {
			o.onSince = time.Now()
		}
		if o.isOn() && o.cfg.MaxOn > 0 {
			o.dom.lock()
			b.armTimer(o, o.cfg.MaxOn, "max_on")
			o.dom.unlock()
		}
		b.log.Debug("output ready", "output", o.cfg.ID, "kind", o.kind.String(), "boot", o.cfg.Boot, "value", want)
	}
	return nil
}

func (o *output) isOnValue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x > 0
	}
	return false
}

func (b *Bridge) bootValue(o *output, restored map[string]any) any {
	switch o.boot {
	case bootOn:
		if o.kind == outPWM {
			return 100.0
		}
		if o.kind == outMomentary {
			return false
		}
		return true
	case bootRestore:
		v, ok := restored[o.cfg.ID]
		if !ok || o.kind == outMomentary {
			return o.offValue()
		}
		if o.kind == outPWM {
			if p, err := toPercent(v); err == nil {
				return p
			}
			return 0.0
		}
		if on, err := toBool(v); err == nil {
			return on
		}
	}
	return o.offValue()
}

func (b *Bridge) openOutput(o *output, want any) error {
	if o.kind == outPWM {
		p, err := b.host.PWM(gpio.PWMRef{Chip: o.cfg.PWMChip, Channel: o.cfg.PWMChannel, Pin: o.cfg.Pin.BCM})
		if err != nil {
			return fmt.Errorf("output %s: open pwm: %w", o.cfg.ID, err)
		}
		o.pwm = p
		if err := o.drive(want); err != nil {
			return fmt.Errorf("output %s: %w", o.cfg.ID, err)
		}
		return nil
	}
	on, _ := want.(bool)
	out, err := b.host.Output(outputLine(o.cfg.Pin), on != o.cfg.ActiveLow)
	if err != nil {
		return fmt.Errorf("output %s: open %s: %w", o.cfg.ID, o.cfg.Pin.Raw, err)
	}
	o.out = out
	return nil
}

// drive writes a logical value to the hardware (active-low inverted).
func (o *output) drive(v any) error {
	if o.kind == outPWM {
		pct, _ := v.(float64)
		duty := pct / 100
		if o.cfg.ActiveLow {
			duty = 1 - duty
		}
		if o.pwm == nil {
			return nil
		}
		return o.pwm.Set(o.freq, duty)
	}
	on, _ := v.(bool)
	if o.out == nil {
		return nil
	}
	return o.out.Out(on != o.cfg.ActiveLow)
}

func (b *Bridge) rate() float64 {
	if b.cfg.ActuationRate > 0 {
		return b.cfg.ActuationRate
	}
	return config.DefaultActuationRate
}

// take consumes one actuation token. Guarded by o.dom's lock.
func (b *Bridge) take(o *output, now time.Time) bool {
	r := b.rate()
	burst := math.Max(1, r)
	if !o.lastTake.IsZero() {
		o.tokens = math.Min(burst, o.tokens+now.Sub(o.lastTake).Seconds()*r)
	}
	o.lastTake = now
	if o.tokens < 1 {
		return false
	}
	o.tokens--
	return true
}

// desired converts a command value for o.
func (o *output) desired(v any) (any, error) {
	if o.kind == outPWM {
		return toPercent(v)
	}
	return toBool(v)
}

// setLocked applies want to o. Guarded by o.dom's lock. user selects rate
// limiting and cancels a pending switch-on of the group (a newer command
// wins); hold overrides the automatic off timer (pulse length). When an
// interlock dead time is still running, the other members are switched off
// now and the switch-on is scheduled (scheduled is true): it happens when
// the dead time ends unless a newer command for the group comes first; ack
// is answered then.
func (b *Bridge) setLocked(o *output, want any, user bool, hold time.Duration, ack ackTo) (scheduled bool, err error) {
	if o.shut {
		return false, ErrClosed
	}
	if user {
		b.cancelPendingLocked(o.dom, errSuperseded)
	}
	if want == o.value && hold == 0 {
		return false, nil
	}
	now := time.Now()
	wasOn := o.isOn()
	if user && o.kind != outPWM && want != o.value && !b.take(o, now) {
		b.stats.rateLimited.Add(1)
		return false, ErrRateLimited
	}
	if o.isOnValue(want) && !wasOn {
		// Break before make.
		var wait time.Duration
		for _, p := range o.peers {
			if p.o.isOn() {
				if err := b.applyLocked(p.o, p.o.offValue()); err != nil {
					return false, fmt.Errorf("interlock: switching %s off: %w", p.o.cfg.ID, err)
				}
			}
			if !p.o.offAt.IsZero() {
				if w := p.o.offAt.Add(p.dead).Sub(now); w > wait {
					wait = w
				}
			}
		}
		if wait > 0 {
			b.scheduleLocked(o, want, hold, wait, ack)
			return true, nil
		}
	}
	return false, b.finishLocked(o, want, wasOn, hold)
}

// finishLocked drives want and arms o's timers: momentary pulse, pulse
// command, max_on. A pulse never keeps an output on past its on limit
// (momentary pulse, max_on), even when repeated while it is on. Guarded by
// o.dom's lock.
func (b *Bridge) finishLocked(o *output, want any, wasOn bool, hold time.Duration) error {
	if want != o.value {
		if err := b.applyLocked(o, want); err != nil {
			return err
		}
	}
	switch {
	case !o.isOn():
	case hold > 0:
		d, capped := o.holdFor(time.Now(), wasOn, hold)
		why := "pulse"
		if capped && o.cfg.MaxOn > 0 && o.cfg.MaxOn == o.onLimit() {
			why = "max_on"
		}
		b.armTimer(o, d, why)
	case o.kind == outMomentary:
		b.armTimer(o, o.onLimit(), "pulse")
	case o.cfg.MaxOn > 0 && !wasOn:
		b.armTimer(o, o.cfg.MaxOn, "max_on")
	}
	return nil
}

// scheduleLocked arms the switch-on of o after wait (the dead time left).
// Guarded by o.dom's lock; any pending switch-on was cancelled before.
func (b *Bridge) scheduleLocked(o *output, want any, hold, wait time.Duration, ack ackTo) {
	d := o.dom
	d.gen++
	gen := d.gen
	p := &pendingOn{o: o, want: want, hold: hold, ack: ack}
	p.timer = time.AfterFunc(wait, func() {
		defer b.SafeExit()
		d.lock()
		defer d.unlock()
		if d.gen != gen || d.pending != p {
			return // cancelled by a newer command, all_off or the exit
		}
		d.pending = nil
		var err error
		switch {
		case o.shut:
			err = ErrClosed
		case o.peerOn():
			err = fmt.Errorf("%w: interlock: another output of the group is on", ErrBusy)
		default:
			err = b.finishLocked(o, p.want, o.isOn(), p.hold)
		}
		b.answer(p.ack, err)
	})
	d.pending = p
}

// cancelPendingLocked drops the group's scheduled switch-on, answering its
// command with why. Guarded by d's lock.
func (b *Bridge) cancelPendingLocked(d *domain, why error) {
	p := d.pending
	if p == nil {
		return
	}
	d.pending = nil
	d.gen++
	p.timer.Stop()
	b.answer(p.ack, why)
}

// peerOn reports whether another member of o's groups is on. Guarded by
// o.dom's lock.
func (o *output) peerOn() bool {
	for _, p := range o.peers {
		if p.o.isOn() {
			return true
		}
	}
	return false
}

// applyLocked writes v to the hardware and records it (which publishes the
// state event). Guarded by o.dom's lock.
func (b *Bridge) applyLocked(o *output, v any) error {
	wasOn := o.isOn()
	if err := o.drive(v); err != nil {
		b.stats.hardwareErrors.Add(1)
		return fmt.Errorf("%w: %s: %v", ErrHardware, o.cfg.ID, err)
	}
	o.value = v
	o.switches++
	b.stats.switches.Add(1)
	if wasOn && !o.isOn() {
		o.offAt = time.Now()
		o.stopTimer()
	}
	if !wasOn && o.isOn() {
		o.onSince = time.Now()
	}
	b.record(o.cfg.ID, v, true, false)
	if b.persistOn {
		select {
		case b.persistKick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (o *output) stopTimer() {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	o.gen++
}

// armTimer switches o off after d. Guarded by o.dom's lock.
func (b *Bridge) armTimer(o *output, d time.Duration, why string) {
	o.stopTimer()
	gen := o.gen
	o.timer = time.AfterFunc(d, func() {
		defer b.SafeExit()
		o.dom.lock()
		if o.gen != gen || o.shut {
			o.dom.unlock()
			return
		}
		o.timer = nil
		err := b.applyLocked(o, o.offValue())
		o.dom.unlock() // log after: no I/O under the lock
		switch {
		case err != nil:
			b.log.Error("automatic off failed", "output", o.cfg.ID, "reason", why, "err", err)
		case why == "max_on":
			b.log.Info("output switched off: max_on reached", "output", o.cfg.ID, "max_on", d)
		}
	})
}

// setOutput is the one path for every output change requested from outside
// (phone, page, MQTT, commands). It returns the value after the change;
// errScheduled when the switch-on waits for an interlock dead time (ack
// is answered then).
func (b *Bridge) setOutput(ctx context.Context, o *output, v any, hold time.Duration, ack ackTo) (any, error) {
	want, err := o.desired(v)
	if err != nil {
		return nil, err
	}
	if err := o.dom.lockWithin(ctx, applyWithin); err != nil {
		return nil, err
	}
	if ack.gen != 0 && ack.gen != b.offGen.Load() {
		now := o.value
		o.dom.unlock()
		return now, errAllOff // an all_off came after this command
	}
	before := o.switches
	scheduled, err := b.setLocked(o, want, true, hold, ack)
	if o.switches == before {
		// No change of o (a refusal, a no-op, a scheduled switch-on): tell
		// everyone the actual state anyway, so a phone that showed an
		// optimistic value re-syncs.
		b.record(o.cfg.ID, o.value, true, true)
	}
	now := o.value
	o.dom.unlock()
	if err == nil && scheduled {
		b.log.Debug("interlock: switch-on scheduled after the dead time", "output", o.cfg.ID)
		err = errScheduled
	}
	return now, err
}

// driveExit drives every opened output to its exit state and stops its
// timers; after it no change is accepted.
func (b *Bridge) driveExit() {
	var logs []func() // logged after the locks: no I/O under them
	for _, o := range b.outList {
		o.dom.lock()
		b.cancelPendingLocked(o.dom, ErrClosed)
		o.stopTimer()
		o.shut = true
		var v any
		switch o.exit {
		case exitKeep:
			v = o.value
		case exitOn:
			if o.kind == outPWM {
				v = 100.0
			} else {
				v = true
			}
		default:
			v = o.offValue()
		}
		if o.kind == outMomentary {
			v = false
		}
		if o.isOnValue(v) {
			for _, p := range o.peers {
				if pv := p.o.exited; (pv != nil && p.o.isOnValue(pv)) || (pv == nil && p.o.isOn()) {
					id, other := o.cfg.ID, p.o.cfg.ID
					logs = append(logs, func() {
						b.log.Warn("interlock: output exits off, a group member is on", "output", id, "other", other)
					})
					v = o.offValue()
					break
				}
			}
		}
		if (o.out != nil || o.pwm != nil) && v != nil {
			if err := o.drive(v); err != nil {
				id := o.cfg.ID
				logs = append(logs, func() { b.log.Error("exit state", "output", id, "err", err) })
			} else {
				o.exited = v
			}
		}
		o.dom.unlock()
	}
	for _, l := range logs {
		l()
	}
}
