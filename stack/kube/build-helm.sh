#!/usr/bin/env bash
# Build helm from its Go module (helm.sh/helm/v4) and cache the binary, for the chart's
# checks (`helm lint`, `helm template`, `helm install` into the local kube-apiserver).
#
#   stack/kube/build-helm.sh            -> prints the path of helm
#   HELM_VERSION=v4.3.1 stack/kube/build-helm.sh
#
# helm.sh/helm/v4 is an ordinary module (no replace directives), so `go install
# module@version` builds it with exactly the dependencies its go.sum pins.
#
# Output: ${SHOPSTREAM_CACHE:-$HOME/.cache/shopstream}/helm/<version>/helm
# If it is already there the script only prints the path (fast path, no Go).
# Progress goes to stderr, the binary's path alone to stdout.
#
# Environment:
#   HELM_VERSION      helm.sh/helm/v4 release (default below)
#   SHOPSTREAM_CACHE  cache root (default $HOME/.cache/shopstream)
#   GO                go binary (default: go on PATH, else /usr/local/go/bin/go)
#   BUILD_JOBS        go build -p (default 1: the machine is shared while it builds)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
OUT_DIR="${SHOPSTREAM_CACHE:-$HOME/.cache/shopstream}/helm/$HELM_VERSION"
OUT="$OUT_DIR/helm"

if [[ -x "$OUT" ]]; then
  echo "$OUT"
  exit 0
fi

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$HELM_VERSION" =~ ^v4\.[0-9]+\.[0-9]+$ ]] || die "HELM_VERSION must look like v4.MINOR.PATCH (got '$HELM_VERSION')"

# shellcheck source=stack/kube/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"
use_local_go
lock_or_reuse "$OUT_DIR" "$OUT" "helm $HELM_VERSION"

start=$(date +%s)
log "Go: $("$GO" version); building helm $HELM_VERSION (nice 19, -p ${BUILD_JOBS:-1}; 5-10 min on 2 cores when nothing is cached)"
tmp_bin="$OUT_DIR/bin.tmp.$$"
trap 'rm -rf "$tmp_bin"' EXIT
# `helm version` reports the module's version only when it is stamped in.
GOBIN="$tmp_bin" nice -n 19 "$GO" install -p "${BUILD_JOBS:-1}" -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
mv -f "$tmp_bin/helm" "$OUT"
log "built $("$OUT" version --short 2>/dev/null || echo helm) in $(( $(date +%s) - start ))s ($(du -h "$OUT" | cut -f1))"
echo "$OUT"
