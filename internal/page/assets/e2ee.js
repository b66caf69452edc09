// meshbox page: the app's room cipher (spec §15.5, frozen "v2", room mode
// "grp v2") on top of the vendored noble bundle. A room seals under its own
// random per-session salt and opens other members' envelopes, refusing
// replays (per salt: counters above the highest seen, or unseen ones in a
// 64-wide window; at most 64 salts tracked).
'use strict';
(() => {
  const N = globalThis.meshboxNoble;
  const enc = new TextEncoder(), dec = new TextDecoder();
  const INFO = enc.encode('grp v2');
  const WINDOW = 64, MAX_SALTS = 64;

  function b64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function unb64(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) throw new Error('bad base64');
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function nonce(n) {
    const b = new Uint8Array(12);
    new DataView(b.buffer).setBigUint64(4, BigInt(n), false);
    return b;
  }
  function isEnvelope(p) {
    return !!p && typeof p === 'object' && !Array.isArray(p) && p.e2ee === 2;
  }

  function create(keyB64) {
    const secret = unb64(keyB64);
    if (secret.length !== 32) throw new Error('the room key is not 32 bytes');
    const derive = (salt) => N.hkdf(N.sha256, secret, salt, INFO, 32);
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const saltB64 = b64(salt);
    const sealKey = derive(salt);
    let next = 0;
    const senders = new Map(); // salt b64 -> {key, top, seen:Set}

    function seal(payload) {
      const n = next++;
      const ct = N.chacha20poly1305(sealKey, nonce(n)).encrypt(enc.encode(JSON.stringify(payload)));
      return { e2ee: 2, s: saltB64, n, ct: b64(ct) };
    }

    // open returns the payload, or undefined for anything that must be
    // ignored (not an envelope, own echo, wrong key, tampered, replayed).
    function open(env) {
      if (!isEnvelope(env) || typeof env.s !== 'string' || env.s === saltB64) return undefined;
      const n = env.n;
      if (!Number.isSafeInteger(n) || n < 0) return undefined;
      let st = senders.get(env.s), pt;
      try {
        const s = unb64(env.s);
        if (s.length !== 16) return undefined;
        const key = st ? st.key : derive(s);
        if (st && (n <= st.top - WINDOW || st.seen.has(n))) return undefined;
        pt = N.chacha20poly1305(key, nonce(n)).decrypt(unb64(env.ct));
        if (!st) {
          st = { key, top: -1, seen: new Set() };
          senders.set(env.s, st);
          if (senders.size > MAX_SALTS) senders.delete(senders.keys().next().value);
        }
      } catch {
        return undefined;
      }
      if (n <= st.top - WINDOW || st.seen.has(n)) return undefined;
      st.seen.add(n);
      if (n > st.top) {
        st.top = n;
        for (const x of st.seen) if (x <= n - WINDOW) st.seen.delete(x);
      }
      try { return JSON.parse(dec.decode(pt)); } catch { return undefined; }
    }

    return { seal, open, salt: saltB64 };
  }

  globalThis.meshboxRoom = Object.freeze({ create, isEnvelope });
})();
