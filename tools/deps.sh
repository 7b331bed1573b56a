#!/usr/bin/env bash
# Installs the Debian packages streamrec builds, tests and runs with, when
# missing: apt-get as root, else through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  librdkafka-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler
  libopenblas-serial-dev libjansson-dev libcmocka-dev libxxhash-dev
  libhttp-parser-dev libavro-dev
  kcat curl bc jq clang libclang-rt-14-dev clang-format
  python3-yaml yamllint systemd strace procps
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "streamrec: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "streamrec: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
