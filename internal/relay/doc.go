// Package relay is meshbox's embedded MeshSocket relay: a drop-in for the
// reference Python relay (0.2.0 hardening), built on gorilla/websocket. The
// contract is shared/spec/meshsocket-protocol.md §2–§11 and the §18 profile.
//
// A Server is an http.Handler (WebSocket upgrade on any path); internal/box
// serves it on the box's listener. In-process members (the hardware bridge)
// join through Server.Pipe (PipeWith Quiet: no own echoes, no "sent"
// replies) and go through the same identify/permission/limit state
// machine. Server.Close closes every connection with 1001 and waits.
//
// # Connections
//
// Each connection has a reader goroutine, which reads and handles frames
// strictly in order, and at most one writer goroutine, the only one that
// writes to the transport while it runs. ServeHTTP returns right after the
// upgrade, so net/http's per-connection goroutine and buffers are released.
// Once identified, the reader continues on a fresh goroutine (identify's
// deep path grew the first one's stack) and writes welcome itself when no
// writer runs; a writer is started by the next queued frame, keepalive
// ping, pong or close, and exits after a second without work. An idle
// member so costs one small goroutine and a few KB (BenchmarkIdleMembers).
// Handlers never block: they enqueue frames on the recipient's bounded
// queue. A broadcast is encoded once and shared by all its copies; each
// recipient's writer writes a fresh id into its copy while framing the
// batch straight into one buffer, sent with one system call and a write
// deadline of Config.SendTimeout. Fan-out reads copy-on-write member lists
// and takes no lock but the recipient queue's.
//
// # Overflow policy (slow consumers)
//
// A recipient whose queue already holds Config.QueueSize frames (default
// 512) or Config.QueueBytes bytes (4 MiB) when a new frame arrives, or
// whose socket accepts nothing for Config.SendTimeout (2 s), is a slow
// consumer: it is reaped — the frame is dropped, the connection is closed
// with 1000 "slow consumer" and removed from the tables (a roster push
// follows), like the reference relay's 2 s fan-out timeout. Nobody else
// waits for it, and a member never silently misses frames and stays
// connected: it reconnects and resynchronises.
//
// # Rate limit of in-process members
//
// Sockets get Config.RateLimit (50 frames/s, the reference default). Pipes
// get Config.PipeRateLimit (1000 frames/s by default): the bridge is trusted
// code that may publish for many sensors and echo every state change, but a
// runaway loop is still cut off (1008) instead of flooding every phone.
//
// # Names of in-process members
//
// Same-name eviction (last writer wins, §4.5) applies between sockets and
// between pipes, but a socket cannot evict an in-process member: it is
// closed 1008 "name in use by the box" instead, so a phone misnamed after
// the hub cannot knock the bridge off the mesh.
//
// # Keepalive
//
// The writer pings every PingInterval; the reader's deadline is
// PingInterval+PingTimeout after the last frame or pong, after which the
// socket is closed 1011. Pipes have no pings.
//
// # Locking
//
// Server.mu guards the member tables and counters (fan-out reads the
// published snapshot instead); conn.qmu guards a send queue and the writer
// state, conn.pmu the routes waiting on a member. Order: Server.mu before
// conn.qmu or conn.pmu; qmu and pmu are never held together. Enqueueing
// under Server.mu is fine (it never blocks); socket writes happen under no
// relay lock.
package relay
