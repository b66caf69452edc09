#!/usr/bin/python3
"""Join N idle phones to a MeshSocket relay through Python websockets (the
reference client's transport), 8 at a time, and hold them: the figure that
meshload -mode idle -client python reproduces.

    /usr/bin/python3 pyidle.py ws://127.0.0.1:8765/ TOKEN 1000 HOLD_SECONDS

Needs the websockets package (Debian: apt-get install python3-websockets).
Prints "joined N" once all are in, then "alive N" after the hold.
"""
import asyncio, json, sys, uuid

import websockets


async def phone(url, token, i, sem, joined, stop):
    async with sem:  # 8 handshakes and identifies at a time
        ws = await websockets.connect(url, open_timeout=30)
        await ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "identify", "payload": {
            "name": f"py-phone-{i}", "token": token, "channel": "load", "role": "controller",
            "can_broadcast": True, "can_route": False, "can_monitor": False}, "reply_to": None}))
        while True:
            f = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if f.get("type") == "welcome":
                break
    joined.append(ws)
    try:
        await stop.wait()
        await ws.send(json.dumps({"id": f"ping-{i}", "type": "ping", "payload": None, "reply_to": None}))
        while True:
            f = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if f.get("reply_to") == f"ping-{i}":
                return True
    finally:
        await ws.close()


async def main():
    url, token, n, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    joined, stop, sem = [], asyncio.Event(), asyncio.Semaphore(8)
    tasks = [asyncio.create_task(phone(url, token, i, sem, joined, stop)) for i in range(n)]
    while len(joined) < n:
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()
        await asyncio.sleep(0.05)
    print("joined", n, flush=True)
    await asyncio.sleep(hold)
    stop.set()
    ok = sum(1 for r in await asyncio.gather(*tasks, return_exceptions=True) if r is True)
    print("alive", ok, flush=True)

asyncio.run(main())
