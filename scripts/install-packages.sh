#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when any is
# missing. Runs apt-get only then, as root or through sudo.
set -euo pipefail

PACKAGES=(build-essential cmake git pkg-config clang libclang-rt-14-dev curl python3
          ca-certificates virgl-server libdrm-dev)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm fetches the pinned llama.cpp release; any npm on the PATH will do
command -v npm >/dev/null || missing+=(npm)

[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null ||
        { echo "[packages] error: missing ${missing[*]}; install them as root" >&2; exit 1; }
    sudo=(sudo)
fi
log=$(mktemp)
echo "[packages] installing ${missing[*]} (log: $log)"
if ! { "${sudo[@]}" apt-get update -q &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
       >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "[packages] error: apt-get could not install ${missing[*]}; see $log" >&2
    exit 1
fi
rm -f "$log"
