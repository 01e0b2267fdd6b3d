#!/usr/bin/env bash
# skaffold's custom builder: build $IMAGE with buildah (build-image.sh), and push it when
# skaffold asks ($PUSH_IMAGE=true; buildah uses the registry login of `buildah login`).
set -euo pipefail
: "${IMAGE:?skaffold sets IMAGE to the image reference to build}"
cd "$(dirname "$0")/../.."
IMAGE="$IMAGE" deploy/image/build-image.sh >/dev/null
if [[ "${PUSH_IMAGE:-false}" == true ]]; then
  buildah push "$IMAGE" "docker://$IMAGE"
fi
