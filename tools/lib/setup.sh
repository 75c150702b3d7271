# Sourced by tools/run-tests and tools/run-demo: install what is missing (Debian packages,
# node-q from npm into tests/node_modules), then configure and build. Idempotent: when
# everything is present it only runs ninja.
set -euo pipefail

QGATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QGATE_BUILD=${QGATE_BUILD:-$QGATE_ROOT/build}
# The sanitizer build (ASan + UBSan): only the programs the node suites run, no unit tests.
QGATE_SAN_BUILD=${QGATE_SAN_BUILD:-$QGATE_ROOT/build-asan}
export QGATE_ROOT QGATE_BUILD QGATE_SAN_BUILD
qgate_san_targets=(src/app/qgate tools/qmock/qmock tools/qbench/qbench tools/qipc/qipc)

qgate_packages=(
  g++ meson ninja-build pkg-config cmake
  liburing-dev libmimalloc-dev libxxhash-dev doctest-dev libbenchmark-dev libtomlplusplus-dev
  libssl-dev openssl python3 clang libclang-rt-14-dev clang-tidy haproxy nodejs npm iproute2
  python3-matplotlib prometheus systemd chromium etcd-server libcurl4-openssl-dev
)

qgate_log() { printf '[setup] %s\n' "$*" >&2; }

qgate_install_packages() {
  local missing=()
  for p in "${qgate_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  # nodejs from another source may ship npm itself; only ask apt for npm when it is absent.
  if command -v npm >/dev/null 2>&1; then
    local kept=(); for p in "${missing[@]}"; do [[ $p == npm || $p == nodejs ]] || kept+=("$p"); done
    missing=("${kept[@]+"${kept[@]}"}")
  fi
  [[ ${#missing[@]} -eq 0 ]] && return 0
  qgate_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The haproxy package starts a system service; qgate's benchmarks run their own instance.
  # So do prometheus (the admin_prometheus test runs its own, on loopback) and its exporter,
  # and etcd (the fleet tests start their own on free loopback ports).
  if command -v systemctl >/dev/null 2>&1; then
    for s in haproxy prometheus prometheus-node-exporter etcd; do
      systemctl disable --now "$s" >/dev/null 2>&1 || true
    done
  fi
}

qgate_install_node_modules() {
  [[ -f $QGATE_ROOT/tests/node_modules/node-q/package.json ]] && return 0
  qgate_log "installing node-q from npm into tests/node_modules"
  (cd "$QGATE_ROOT/tests" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
}

qgate_build() {
  if [[ ! -f $QGATE_BUILD/build.ninja ]]; then
    meson setup "$QGATE_BUILD" "$QGATE_ROOT" --buildtype=debugoptimized -Dwerror=true >/dev/null
  fi
  ninja -C "$QGATE_BUILD" >/dev/null || ninja -C "$QGATE_BUILD"
}

# The node suites' programs again under ASan + UBSan (tools/run-tests runs interop and
# integration against them). Same build type as the plain build; b_lundef=false because the
# sanitizer runtimes resolve symbols at load time.
qgate_build_san() {
  if [[ ! -f $QGATE_SAN_BUILD/build.ninja ]]; then
    CXX=clang++ meson setup "$QGATE_SAN_BUILD" "$QGATE_ROOT" --buildtype=debugoptimized -Dwerror=true \
      -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false >/dev/null || return 1
  fi
  ninja -C "$QGATE_SAN_BUILD" "${qgate_san_targets[@]}" >/dev/null ||
    ninja -C "$QGATE_SAN_BUILD" "${qgate_san_targets[@]}"
}

qgate_setup() {
  qgate_install_packages
  qgate_install_node_modules
  qgate_build
}
