#!/usr/bin/env bash
# Build the shopstream image from the Dockerfile with buildah (no daemon), on a Debian base
# made here (build-base.sh), into buildah's local storage.
#
#   deploy/image/build-image.sh           -> prints the image's name
#   IMAGE=localhost/shopstream:dev deploy/image/build-image.sh
#
# buildah keeps every step's layer (--layers): a second build with the same inputs reuses them
# all and takes seconds. The build's steps reach Debian's packages and PyPI over the host's
# network (--network host): no container network is needed, and trust the host's CA bundle
# (CA_BUNDLE, passed as a build secret).
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${IMAGE:-localhost/shopstream:latest}"
log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

base=$(deploy/image/build-base.sh)
start=$(date +%s)
log "building $IMAGE on $base"
nice -n 10 buildah build --quiet --layers --isolation chroot --network host --pull=never \
  --secret "id=cacerts,src=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" \
  --build-arg "BASE=$base" --file Dockerfile --tag "$IMAGE" . >&2
log "built $IMAGE in $(( $(date +%s) - start ))s ($(buildah images --format '{{.Size}}' "$IMAGE"))"
echo "$IMAGE"
