#!/usr/bin/env bash
# Installs what shopstream needs on a Debian 12 machine: Debian packages, then the Python
# environment (.venv) from requirements.lock, then the linters that come from npm
# (lint/package-lock.json). Idempotent: once done, a run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${SHOPSTREAM_CACHE_DIR:-$HOME/.cache/shopstream}
UV_VERSION=0.13.9
APT_PACKAGES=(
  python3 python3-venv            # the venv's interpreter
  openjdk-17-jre-headless maven   # Kafka runs from Maven Central jars
  postgresql-15                   # PostgreSQL server
  rabbitmq-server                 # AMQP + MQTT (stands in for Amazon MQ)
  curl openssl procps iproute2
  etcd-server etcd-client         # kube-apiserver's store, for the operator's tests
  chromium                        # the storefront's browser tests (Playwright drives it)
  buildah mmdebstrap podman runc  # the container image, built and run without a daemon
)
# Node.js and npm run spectral (`make lint`); a machine with its own Node.js keeps it (Debian's
# npm package would conflict with another distribution of Node.js).
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

step() { printf 'shopstream: %s\n' "$*"; }
fail() { printf 'shopstream: error: %s\n' "$*" >&2; exit 1; }

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || fail "need root to install ${missing[*]}: run as root or install sudo"
    sudo=(sudo)
  fi
  step "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  # Services do not start on install here; the stack runs its own instances on its own ports.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

python=$(command -v python3.11 || true)
[[ -n $python ]] || fail "Python 3.11 not found: apt-get install python3 (Debian 12 ships 3.11)"

uv_home="$CACHE_DIR/tools/uv-$UV_VERSION"
uv="$uv_home/bin/uv"
if [[ ! -x $uv ]]; then
  step "installing uv $UV_VERSION (the Python package installer)"
  rm -rf "$uv_home"
  "$python" -m venv "$uv_home"
  "$uv_home/bin/pip" install -q "uv==$UV_VERSION"
fi

wanted=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f .venv/.installed || $(cat .venv/.installed) != "$wanted" ]]; then
  [[ -x .venv/bin/python ]] || { step "creating .venv"; "$uv" venv -q -p "$python" .venv; }
  step "installing Python packages from requirements.lock"
  # Compiled now: processes run with PYTHONDONTWRITEBYTECODE set would otherwise compile every
  # import at every start (5-10 s each).
  "$uv" pip sync -p .venv/bin/python --compile-bytecode requirements.lock
  "$uv" pip install -q -p .venv/bin/python --no-deps -e .
  echo "$wanted" > .venv/.installed
fi

# The linters from npm, spectral among them (the gateway's OpenAPI document): the tree that
# lint/package-lock.json pins, installed once per lock in the cache and linked into .venv/bin.
lint_lock=$(sha256sum lint/package-lock.json | cut -c1-16)
lint_home="$CACHE_DIR/tools/npm-lint-$lint_lock"
if [[ ! -x $lint_home/node_modules/.bin/spectral ]]; then
  step "installing the npm linters from lint/package-lock.json"
  rm -rf "$lint_home" "$lint_home.partial"
  mkdir -p "$lint_home.partial"
  cp lint/package.json lint/package-lock.json "$lint_home.partial/"
  # No install scripts: the linters need none, and one dependency's would report the install.
  npm ci --prefix "$lint_home.partial" --ignore-scripts --no-audit --no-fund --loglevel=error
  mv "$lint_home.partial" "$lint_home"
fi
ln -sfn "$lint_home/node_modules/.bin/spectral" .venv/bin/spectral
