// Entry of assets/vendor/noble-e2ee.min.js: the two audited noble libraries
// the page needs for the room cipher (WebCrypto has no ChaCha20-Poly1305).
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

globalThis.meshboxNoble = Object.freeze({ chacha20poly1305, hkdf, sha256 });
