#!/usr/bin/env bash
# A Debian 12 base image made here with mmdebstrap and committed into buildah's local storage,
# for machines that reach Debian's packages but no image registry.
#
#   deploy/image/build-base.sh          -> prints the image's name
#
# The image is what `debian:bookworm-slim` is (the minbase variant) with Python 3.11 and the
# CA certificates already in; the Dockerfile's BASE argument takes it. Built once: while the
# image is in local storage, the script only prints its name.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-localhost/shopstream-base:bookworm}"
log() { printf '[build-base %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install buildah mmdebstrap"
done
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "$BASE_IMAGE"
  exit 0
fi

start=$(date +%s)
log "making $BASE_IMAGE with mmdebstrap (minbase, python3, ca-certificates; about a minute)"
container=$(buildah from scratch)
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$container")
# The tree goes straight into the container's root. Apt's lists and caches are left out: the
# Dockerfile's own apt-get update brings current ones.
nice -n 10 mmdebstrap --quiet --variant=minbase --include=python3,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$root" </dev/null >&2
buildah umount "$container" >/dev/null
buildah config --cmd /bin/bash --label org.opencontainers.image.description="Debian 12 minbase, python3" "$container"
buildah commit --quiet --rm "$container" "$BASE_IMAGE" >/dev/null
trap - EXIT
log "made $BASE_IMAGE in $(( $(date +%s) - start ))s"
echo "$BASE_IMAGE"
