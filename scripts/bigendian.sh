#!/usr/bin/env bash
# Runs the result package's byte-level tests on a big-endian machine (s390x,
# under qemu-user), installing qemu-user-static from apt when it is missing.
# The Renderer reads a line's bytes eight at a time (result/renderfast.go):
# on a big-endian machine a plain load put them the other way round, and
# "abc" passed for a number, which no test on amd64 could see.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

QEMU=qemu-s390x-static
if ! command -v "$QEMU" >/dev/null 2>&1; then
  echo "bigendian.sh: installing qemu-user-static with apt-get" >&2
  apt-get update || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static
fi
GOARCH=s390x "${GO:-go}" test -count=1 -exec "$QEMU" -run 'ValueLen|NumberLen|Render|Reference|Fragment' ./result
