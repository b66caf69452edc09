// Package meshsocket is a MeshSocket client: the Go counterpart of the Python
// socketCore.MeshSocket and the Swift MeshSocket (protocol spec §12).
//
// A Client dials a relay (ws:// or wss://, or any wire.Transport through
// Options.Dial, such as the meshbox relay's in-process pipe), identifies, and
// becomes ready when the relay answers with welcome. It then dispatches
// inbound frames to handlers registered with On (a handler's non-nil return
// value becomes the reply), sends fire-and-forget frames with Send/Emit and
// request/reply pairs with Request (matched by reply_to only).
//
// Handlers for one frame type run one at a time, in arrival order (a "set
// on" followed by "set off" is never applied the other way round); handlers
// for different types run concurrently, at most MaxInflight frames queued
// or running. Replies to pending requests never reach handlers, and
// unmatched ("stray") replies are dropped.
//
// Replayed offline frames are paced (ReplayRate, 40 per second by default)
// so a backlog never trips the relay's inbound rate limit (50 frames/s in
// the reference relay, closed with 1008).
//
// The client supervises its connection: it redials with exponential backoff
// (2 s doubling to 30 s, ±20 % jitter; reset whenever a transport opens, as
// the Python client does), re-identifies and keeps its handlers. A keepalive
// (WebSocket ping every 30 s, 10 s to answer) detects a relay that stopped
// reading and redials. OnConnect and OnDisconnect are called in pairs, once
// per real admission.
//
// Offline buffering: while not admitted, Send queues frames in RAM (at most
// MaxOfflineBuffer). When the RAM queue is full and OfflineFile is set, the
// whole RAM queue plus the new frame is appended to the file (mode 0600, one
// JSON frame per line) and fsynced before it leaves RAM, so a crash never
// loses a frame that was already moved to disk. With MaxOfflineBuffer 0 and an
// OfflineFile, every offline frame goes straight to disk (durable mode).
// After the next welcome the file is replayed first, then RAM, in order and
// with the original frame ids, before OnConnect runs. Replay drops junk
// lines, non-objects, frames without a string id and type, and forged
// identify/welcome frames. Frames from the file are delivered at least once:
// if the process dies after a replayed frame was written to the relay but
// before the file was trimmed, that frame is sent again by the next process
// (with the same id, so receivers can deduplicate).
//
// All methods are safe for concurrent use; every blocking call takes a
// context; Close stops every goroutine the client started.
package meshsocket
