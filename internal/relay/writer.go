package relay

import (
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// outMsg is one queued frame. A fan-out copy shares its bytes with every
// other copy of the same broadcast (encoded once); fresh says that b holds a
// placeholder id at b[idStart:idEnd] which the writer replaces by a fresh id
// while copying the frame out, so every copy still gets its own id (§3)
// without an allocation per delivery.
type outMsg struct {
	b     []byte
	fresh bool
}

const (
	idStart = len(`{"id":"`)
	idEnd   = idStart + 36
	// writerLinger: a writer goroutine with nothing to write exits after this
	// long, so an idle member costs one goroutine (the reader), not two; it is
	// started again by the next frame, keepalive ping or close.
	writerLinger = time.Second
	// maxSpareQueue: the largest queue slice a busy writer keeps for reuse.
	maxSpareQueue = 1024
)

// requestClose asks the writer to send a close frame and tear the
// connection down. Only the first request counts. It never blocks.
func (c *conn) requestClose(code int, why string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeWhy = code, why
		c.closing.Store(true)
		c.qmu.Lock()
		c.qClosed = true
		c.q = nil
		c.closeWanted = true
		c.kickLocked()
		c.qmu.Unlock()
	})
}

// kickLocked makes sure a writer goroutine will look at the queue: it wakes
// a lingering one or starts one. The reader's WaitGroup slot is always held
// here (see the callers), so the Add never races Server.Close's Wait.
func (c *conn) kickLocked() {
	if c.writing {
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return
	}
	c.writing = true
	c.s.wg.Add(1)
	go c.writeLoop()
}

// enqueue queues one encoded frame for the writer. It never blocks.
// Overflow policy: a connection whose queue already holds QueueSize frames
// or QueueBytes bytes is a slow consumer; the frame is dropped and the
// connection is reaped (closed 1000 "slow consumer", removed from the
// tables), the way the reference reaps a peer whose send stalls. A write
// that makes no progress for SendTimeout reaps the peer too (writeLoop).
func (c *conn) enqueue(msg []byte) bool { return c.enqueueOut(outMsg{b: msg}) }

func (c *conn) enqueueOut(m outMsg) bool {
	c.qmu.Lock()
	if c.qClosed {
		c.qmu.Unlock()
		c.s.stats.dropped.Add(1)
		return false
	}
	if len(c.q) >= c.s.cfg.QueueSize || c.qBytes+int64(len(m.b)) > c.s.cfg.QueueBytes {
		c.qmu.Unlock()
		c.s.stats.dropped.Add(1)
		c.reap("send queue full")
		return false
	}
	c.q = append(c.q, m)
	c.qBytes += int64(len(m.b))
	if len(c.q) == 1 { // empty before: the writer may be lingering or gone
		c.kickLocked()
	}
	c.qmu.Unlock()
	return true
}

// sendFirst queues welcome, the first frame of a member. When no writer
// runs (the usual case: nothing was sent before identify), the reader
// claims the writer's role and writes it itself right after admission
// (writeFirst), so a join does not start a writer goroutine that would
// linger and exit, leaving holes between the members' reader stacks.
// Called under Server.mu by the reader.
func (c *conn) sendFirst(msg []byte) {
	c.qmu.Lock()
	if c.writing || c.qClosed || len(c.q) > 0 {
		c.qmu.Unlock()
		c.enqueue(msg)
		return
	}
	c.writing = true // frames queued from now on wait for writeFirst
	c.first = msg
	c.qmu.Unlock()
}

// writeFirst writes the frame claimed by sendFirst (reader goroutine, no
// lock held) and hands the writer's role back, starting a writer if work
// arrived meanwhile.
func (c *conn) writeFirst() {
	msg := c.first
	if msg == nil {
		return
	}
	c.first = nil
	err := c.sk.writeBatch([][]byte{msg}, time.Now().Add(c.s.cfg.SendTimeout))
	if err == nil {
		c.s.stats.framesOut.Add(1)
	}
	c.qmu.Lock()
	c.writing = false
	if len(c.q) > 0 || c.closeWanted || c.pingWanted || c.pong != nil {
		c.kickLocked()
	}
	c.qmu.Unlock()
	if err != nil {
		c.writeFailed(err)
	}
}

// pingDue runs on the keepalive timer.
func (c *conn) pingDue() {
	c.qmu.Lock()
	if !c.qClosed {
		c.pingWanted = true
		c.kickLocked()
	}
	c.qmu.Unlock()
}

// pingReceived is the WebSocket ping handler (reader goroutine): the pong
// is written by the writer, keeping the reader's stack shallow.
func (c *conn) pingReceived(data string) error {
	c.qmu.Lock()
	if !c.qClosed {
		c.pong = &data
		c.kickLocked()
	}
	c.qmu.Unlock()
	return nil
}

// reap closes a slow consumer (see enqueue): it aborts a write in progress
// and takes the member out of the tables right away, without waiting for its
// goroutines. It never blocks (it may run under Server.mu's read lock).
func (c *conn) reap(why string) {
	if c.closing.Load() {
		return
	}
	c.s.stats.reaped.Add(1)
	c.logger().Warn("relay: slow consumer reaped", "reason", why)
	c.requestClose(websocket.CloseNormalClosure, "slow consumer")
	c.sk.abort()
	go c.s.unregister(c)
}

// outWriter is a sock that writes outMsgs itself (the WebSocket: frames are
// built straight into one buffer per batch). Other socks get plain frames.
type outWriter interface {
	writeOut(msgs []outMsg, ids *idGen, deadline time.Time) error
}

// writeLoop is the connection's only writer while it runs: queued frames in
// batches, keepalive pings, and finally the close frame. It exits after
// writerLinger without work (kickLocked starts it again).
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	var spare []outMsg
	for {
		c.qmu.Lock()
		if c.closeWanted {
			c.qmu.Unlock() // writing stays true: no writer starts after this one
			c.finish()
			return
		}
		batch, ping, pong := c.q, c.pingWanted, c.pong
		c.q, c.qBytes, c.pingWanted, c.pong = spare[:0], 0, false, nil
		c.qmu.Unlock()
		// The spare array is the queue's now: enqueue appends into it. The
		// writer may only keep batch (below), never both, or a later batch
		// would be written while enqueue appends into the same array.
		spare = nil
		if len(batch) == 0 && !ping && pong == nil {
			spare = batch
			if idle == nil {
				idle = time.NewTimer(writerLinger)
			} else {
				idle.Reset(writerLinger)
			}
			select {
			case <-c.wake:
				continue
			case <-idle.C:
			}
			c.qmu.Lock()
			if len(c.q) == 0 && !c.pingWanted && c.pong == nil && !c.closeWanted {
				c.writing = false
				c.qmu.Unlock()
				return
			}
			c.qmu.Unlock()
			continue
		}
		deadline := time.Now().Add(c.s.cfg.SendTimeout)
		if len(batch) == 0 {
			spare = batch // a ping or pong only: the empty batch is free for reuse
		}
		if len(batch) > 0 {
			var err error
			if w, ok := c.sk.(outWriter); ok {
				err = w.writeOut(batch, c.s.ids, deadline)
			} else {
				err = c.sk.writeBatch(c.materialize(batch), deadline)
			}
			n := len(batch)
			clear(batch)
			spare = nil
			if cap(batch) <= maxSpareQueue {
				spare = batch[:0] // kept while this writer runs, dropped when it exits
			}
			if err != nil {
				c.writeFailed(err)
				continue
			}
			c.s.stats.framesOut.Add(uint64(n))
		}
		if pong != nil {
			if p, ok := c.sk.(interface{ pong(string, time.Time) error }); ok {
				if err := p.pong(*pong, deadline); err != nil {
					c.writeFailed(err)
					continue
				}
			}
		}
		if ping {
			if err := c.sk.ping(deadline); err != nil {
				c.writeFailed(err)
				continue
			}
			if t := c.pingTimer.Load(); t != nil {
				t.Reset(c.s.cfg.PingInterval)
			}
		}
	}
}

// materialize turns shared frames into private copies with fresh ids (for
// socks that take plain frames: the in-process pipe).
func (c *conn) materialize(batch []outMsg) [][]byte {
	out := make([][]byte, len(batch))
	for i, m := range batch {
		if !m.fresh {
			out[i] = m.b
			continue
		}
		b := make([]byte, 0, len(m.b))
		b = append(b, m.b[:idStart]...)
		b = c.s.ids.appendID(b)
		out[i] = append(b, m.b[idEnd:]...)
	}
	return out
}

func (c *conn) writeFailed(err error) {
	if c.closing.Load() {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.reap("send timeout")
		return
	}
	c.logger().Debug("relay: write failed", "err", err)
	c.requestClose(websocket.CloseNormalClosure, "")
}

// finish sends the close frame, gives the peer closeGrace to answer, then
// closes the transport.
func (c *conn) finish() {
	_ = c.sk.writeClose(c.closeCode, c.closeWhy, time.Now().Add(closeGrace))
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
		// No answer yet, and the peer may still be sending (a flood past the
		// rate limit). A close now, with its input unread, would reset the
		// connection and could drop our close frame: half-close and let the
		// reader discard for one more grace period.
		if h, ok := c.sk.(interface{ halfClose(time.Time) }); ok {
			h.halfClose(time.Now().Add(closeGrace))
			<-c.readDone // bounded by that read deadline
		}
	}
	if d, ok := c.sk.(interface{ drain(int64) }); ok && c.linger.Load() {
		d.drain(4 * c.s.cfg.MaxSize) // the reader stopped mid-frame (oversize)
	}
	c.sk.close()
}
