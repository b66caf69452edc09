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
// Each connection has two goroutines: the reader reads and handles frames
// strictly in order, and the writer is the only goroutine that writes to the
// transport. ServeHTTP returns right after the upgrade, so net/http's
// per-connection goroutine and buffers are released (an idle member costs
// about 22 KB).
// Handlers never block: they enqueue encoded frames on the recipient's
// bounded queue. The writer drains the queue in batches and flushes each
// batch with one system call (bufConn), with a write deadline of
// Config.SendTimeout.
//
// # Credentials and scopes
//
// Config.AuthToken is a hub credential: full mesh rights, exactly the
// reference relay's shared key, so the reference Python clients and servers
// work unchanged (an empty AuthToken and no Credentials is an open relay:
// every member is a hub). Config.Credentials (the token store) admits more
// tokens, each with a Scope. The shared key is compared in constant time
// (both sides hashed). ScopeController (a phone that actuates) broadcasts
// and routes as its identify flags say but never monitors, never routes
// across channels and broadcasts to its channel only. ScopeViewer is
// read-only: it gets broadcasts and snapshots and may send
// control_sync_request, but its command-shaped frames are not forwarded — a
// broadcast_request whose payload msg_type is cmd, set or command gets the
// reply {"error":"read-only","status":"failed"} and, when it carries "_cmd",
// the broadcast a hub sends for a refused command, to the viewer only:
// {"msg_type":"command_ack","cmd_id":…,"to":<viewer>,"ok":false,"error":"read-only"};
// its route_msg and route_msg_noreply get "routing not allowed" (and the
// same command_ack when the inner payload carries "_cmd"). A member with a
// phone scope cannot take the name of a member with more rights (1008 "name
// in use by a member with more rights"). Server.Members lists members with
// their scope; Server.Revalidate closes members whose token was revoked.
//
// # Before identify
//
// An unidentified connection may send one frame of at most
// Config.PreAuthMaxSize bytes (4 KiB; larger: 1009), and only identify is
// parsed; after identify the limit is MaxSize. Besides the per-IP pending
// cap (reference, 4429) a global cap, Config.MaxPending (128, well below
// MaxConnections), closes the oldest unidentified socket when a new one
// arrives (4429), so unidentified sockets from any number of addresses can
// never fill MaxConnections. After Config.AuthFailures (10) refused tokens
// from one IP, that IP is blocked for AuthFailBlock (1 s), doubling with
// each further failure up to 5 minutes; while blocked, its identifies are
// refused "unauthorized" without a token comparison. Log lines any client
// can trigger (refused identifies, auth timeouts, rate limit, invalid
// UTF-8) are rate-limited. No log line holds a token or a hash of one. A
// configured token shorter than MinTokenLength (16) is logged as a WARN
// at start and reported by Server.WeakToken and Server.Warnings.
//
// # Invalid UTF-8
//
// A frame (text or binary) that is not valid UTF-8 is never parsed or
// forwarded: its sender is closed 1007 "invalid UTF-8" (what the
// reference's websockets library does for a text frame), and nobody else
// sees it, since every browser and the Python client drop a connection that
// receives invalid UTF-8.
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
// Server.mu guards the member tables and counters; conn.qmu guards a send
// queue, conn.pmu the routes waiting on a member. Order: Server.mu before
// conn.qmu or conn.pmu; qmu and pmu are never held together. Enqueueing
// under Server.mu is fine (it never blocks); socket writes happen under no
// relay lock.
package relay
