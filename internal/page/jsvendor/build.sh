#!/bin/sh
# Rebuilds internal/page/assets/vendor/noble-e2ee.min.js from the npm
# registry (pinned versions in package.json / package-lock.json):
#   internal/page/jsvendor/build.sh
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund >/dev/null
out=../assets/vendor
mkdir -p "$out"
ciphers=$(node -p 'require("./node_modules/@noble/ciphers/package.json").version')
hashes=$(node -p 'require("./node_modules/@noble/hashes/package.json").version')
{
  printf '/*! meshbox vendor bundle: @noble/ciphers %s (chacha20poly1305) + @noble/hashes %s (hkdf, sha256),\n' "$ciphers" "$hashes"
  printf ' * MIT License, Copyright (c) Paul Miller (https://paulmillr.com); see noble-ciphers.LICENSE, noble-hashes.LICENSE.\n'
  printf ' * Built by internal/page/jsvendor/build.sh (esbuild, iife, minified). Exposes globalThis.meshboxNoble. */\n'
  ./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --target=es2020 --legal-comments=none
} > "$out/noble-e2ee.min.js"
cp node_modules/@noble/ciphers/LICENSE "$out/noble-ciphers.LICENSE"
cp node_modules/@noble/hashes/LICENSE "$out/noble-hashes.LICENSE"
echo "wrote $out/noble-e2ee.min.js ($(wc -c < "$out/noble-e2ee.min.js") bytes)"
