# Sourced by the build scripts beside it (build-apiserver.sh, build-helm.sh): the Go toolchain
# they build with, and one build per cached output at a time. The caller defines log and die.

# GO, and an environment in which go never downloads another toolchain (go.mod's "go" and
# "toolchain" lines) nor picks up the caller's go.work or GOFLAGS.
use_local_go() {
  GO="${GO:-$(command -v go || true)}"
  [[ -n "$GO" ]] || GO=/usr/local/go/bin/go
  [[ -x "$GO" ]] || die "no Go toolchain found (set GO=/path/to/go)"
  export GO GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
  unset GOFLAGS
}

# lock_or_reuse DIR OUTPUT WHAT: take DIR's build lock, waiting while another build of WHAT
# holds it; if that build left OUTPUT behind, print its path and end the script there.
lock_or_reuse() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    log "another build of $3 is running; waiting for it"
    flock 9
  fi
  if [[ -x "$2" ]]; then
    echo "$2"
    exit 0
  fi
}
