#!/usr/bin/env bash
# Makes this machine ready for the tests and the demo: Debian's runsc (the 2022 build, for the
# compatibility run) and static busybox, the npm packages, the current gVisor runsc and the
# Temporal dev server binary (each built once per machine with Go, from a pinned module), and a
# busybox root filesystem. Idempotent; seconds when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=runsc-builds.sh
source scripts/runsc-builds.sh
temporal_version="v1.5.1" # newest CLI release whose go.mod has no replace directive
temporal_bin="$cache/bin/temporal-$temporal_version"

step() { printf '[setup] %s\n' "$*"; }
timed() { # timed <label> <command...>: runs it and says how long it took
  local label=$1 start=$SECONDS; shift
  "$@"
  step "$label took $((SECONDS - start)) s"
}

has_static_busybox() {
  local bb
  for bb in /usr/bin/busybox /bin/busybox; do
    [[ -x $bb ]] && file -L "$bb" | grep -Eq 'statically linked|static-pie' && return 0
  done
  return 1
}

install_system_packages() {
  local missing=()
  [[ -x $runsc_debian2022 ]] || missing+=(runsc)
  has_static_busybox || missing+=(busybox-static)
  command -v flock >/dev/null || missing+=(util-linux)
  command -v file >/dev/null || missing+=(file)
  # Images: skopeo fetches them, umoci unpacks them; docker-registry is the tests' local registry.
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v umoci >/dev/null || missing+=(umoci)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    step "missing ${missing[*]}: run this script as root, or install them with apt-get"
    exit 1
  fi
  step "installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  # docker-registry's postinst would start (and enable) a registry on port 5000 for good; the
  # tests start their own on 127.0.0.1 and stop it. A policy-rc.d that refuses service starts
  # keeps the package from starting one (only while we install, and only if none is there).
  local own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
    return 1
  }
  [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
  stop_packaged_registry
}

# A registry service left by the package (installed before, or by someone else): stopped and
# disabled, so nothing answers on port 5000 that the tests did not start.
stop_packaged_registry() {
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
}

# The demo's image: an OCI layout made with umoci from the busybox root filesystem, built aside
# and moved into place (an interrupted setup leaves no half layout).
build_demo_image() {
  local layout="$cache/images/demo" staging
  [[ -f $layout/index.json ]] && return 0
  staging=$(mktemp -d "$cache/images.XXXXXX")
  umoci init --layout "$staging/demo"
  umoci new --image "$staging/demo:busybox"
  umoci insert --image "$staging/demo:busybox" "$cache/rootfs/busybox" / >/dev/null
  umoci config --image "$staging/demo:busybox" \
    --config.env='GREETING=hello from the demo image' \
    --config.cmd=/bin/sh --config.cmd=-c --config.cmd='echo "$GREETING (busybox $(busybox | head -1 | cut -d" " -f2))"'
  mkdir -p "$cache/images"
  mv "$staging/demo" "$layout"
  rm -rf "$staging"
}

install_npm_packages() {
  if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    return 0
  fi
  step "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
}

# go_install_to <destination> <binary name> <go install arguments...>: builds in a temporary
# folder and moves the binary into place, so an interrupted build never leaves a half binary at
# the path the tests use.
go_install_to() {
  local destination=$1 name=$2 gobin
  shift 2
  gobin=$(mktemp -d)
  (cd "$gobin" && GOBIN="$gobin" GOFLAGS=-mod=mod go install "$@")
  mkdir -p "$(dirname "$destination")"
  mv "$gobin/$name" "$destination.partial"
  mv "$destination.partial" "$destination"
  rm -rf "$gobin"
}

install_temporal_cli() {
  if [[ -n ${TEMPORAL_CLI_PATH:-} ]]; then
    [[ -x $TEMPORAL_CLI_PATH ]] || { step "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not executable"; exit 1; }
    return 0
  fi
  [[ -x $temporal_bin ]] && return 0
  if ! command -v go >/dev/null; then
    step "no Go toolchain: the tests will let @temporalio/testing download the dev server (needs internet)"
    return 0
  fi
  step "building the Temporal CLI $temporal_version with Go (once per machine)"
  go_install_to "$temporal_bin" temporal "github.com/temporalio/cli/cmd/temporal@$temporal_version"
}

# The version label is what `runsc --version` prints (and what checkpoint/restore compares), so
# it names the release the module was cut from.
install_current_runsc() {
  [[ -x $runsc_current ]] && return 0
  if ! command -v go >/dev/null; then
    step "no Go toolchain: cannot build the current runsc ($runsc_release); install Go 1.26 or newer"
    exit 1
  fi
  step "building runsc $runsc_release with Go (once per machine, about 2 minutes)"
  CGO_ENABLED=0 go_install_to "$runsc_current" runsc \
    -ldflags "-X gvisor.dev/gvisor/runsc/version.version=$runsc_release-go" "$runsc_module"
}

# The Python SDK for examples/python and its test (test/integration/python-sdk.test.ts): a venv
# of its own, remade (beside the old one, then moved into place) when the pinned requirements
# change; `.requirements` in it records what it holds.
install_python_sdk() {
  local venv="$cache/python/venv" requirements=examples/python/requirements.txt
  cmp -s "$requirements" "$venv/.requirements" 2>/dev/null && return 0
  if ! command -v python3 >/dev/null; then
    step "no python3: the Python SDK test needs Python 3.9 or newer (apt-get install python3-venv)"
    exit 1
  fi
  step "installing the Python SDK ($(grep -v '^#' "$requirements" | tr '\n' ' ')) into $venv"
  mkdir -p "$cache/python"
  rm -rf "$venv.partial"
  python3 -m venv "$venv.partial"
  "$venv.partial/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv.partial/.requirements"
  rm -rf "$venv"
  mv "$venv.partial" "$venv"
}

build_rootfs() {
  node_modules/.bin/tsx scripts/ensure-rootfs.ts
}

timed "system packages" install_system_packages
timed "npm packages" install_npm_packages
timed "temporal dev server" install_temporal_cli
timed "current runsc" install_current_runsc
timed "python sdk" install_python_sdk
timed "busybox rootfs" build_rootfs
timed "demo image" build_demo_image
