#!/usr/bin/env bash
# Installs what the compatibility and fault tests (test/compat, test/faults) drive: Apache Kafka's
# broker, CLI tools and Java clients, kcat, the Python clients, a franz-go program, the npm clients,
# and MinIO (the S3-compatible server the S3 object store is tested against). Everything but kcat
# (a Debian package) lands in the git-ignored .cache/ at the repository root.
#
# Idempotent: each part keeps a stamp (a hash of the files that define it) and is skipped when
# the stamp matches, so a warm run takes about a second. Needs Java 17+, Maven, Go, Python 3.11+
# and npm; run as root (or with kcat already installed).
#
# Usage: scripts/install-test-deps.sh [--force]   (--force rebuilds every part)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$REPO/.cache"
# Downloads (Maven repository, Go modules and build cache, MinIO builds) live outside the clone, so
# a fresh clone on the same machine (CI) reuses them; what the tests run is still put in .cache/.
DOWNLOADS="${STRAIT_DOWNLOAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/strait}"
mkdir -p "$DOWNLOADS"
KAFKA_VERSION=4.3.1
# MinIO publishes no tagged Go module versions, so it is pinned to a pseudo-version (a commit).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

started=$SECONDS
summary=()
log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"; }

# stamp_of FILE... prints one hash over the named files' contents (and any extra words in $EXTRA).
stamp_of() { { cat "$@"; printf '%s' "${EXTRA:-}"; } | sha256sum | cut -d' ' -f1; }
fresh() { [[ $FORCE == 0 && -f "$1" && "$(cat "$1")" == "$2" ]]; }

mkdir -p "$CACHE/bin"

# --- Apache Kafka jars from Maven Central -------------------------------------------------------
install_kafka() {
  local pom="$REPO/test/java/pom.xml" libs="$CACHE/kafka/libs" stamp_file="$CACHE/kafka/.stamp" stamp
  stamp=$(stamp_of "$pom")
  if fresh "$stamp_file" "$stamp" && [[ -d "$libs" ]]; then
    summary+=("kafka $KAFKA_VERSION cached ($(ls "$libs" | wc -l) jars)")
    return
  fi
  need java "install a JDK 17+"
  need mvn "install Maven"
  log "copying Apache Kafka $KAFKA_VERSION jars into .cache/kafka/libs"
  rm -rf "$libs.tmp"
  mkdir -p "$CACHE/kafka"
  mvn -B -q -f "$pom" -Dmaven.repo.local="$DOWNLOADS/m2" -Dstyle.color=never \
    dependency:copy-dependencies -DoutputDirectory="$libs.tmp" -DincludeScope=runtime \
    >"$CACHE/kafka/mvn.log" 2>&1 || { cat "$CACHE/kafka/mvn.log" >&2; die "mvn could not copy the Kafka jars"; }
  # A quick proof that the tools load: TopicCommand prints its usage.
  local usage
  usage=$(java -cp "$libs.tmp/*" org.apache.kafka.tools.TopicCommand --help 2>&1 || true)
  [[ "$usage" == *"--bootstrap-server"* ]] || die "TopicCommand did not run from the copied jars: $usage"
  # And MirrorMaker 2 (bench/link-vs-mm2.ts runs it in dedicated mode) prints its own.
  usage=$(java -cp "$libs.tmp/*" org.apache.kafka.connect.mirror.MirrorMaker --help 2>&1 || true)
  [[ "$usage" == *"mm2.properties"* ]] || die "MirrorMaker did not run from the copied jars: $usage"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  echo "$stamp" >"$stamp_file"
  summary+=("kafka $KAFKA_VERSION installed ($(ls "$libs" | wc -l) jars)")
}

# --- kcat (Debian package) ----------------------------------------------------------------------
install_kcat() {
  if command -v kcat >/dev/null 2>&1; then
    summary+=("kcat $(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p' | head -1) found")
    return
  fi
  need apt-get "kcat must be installed by hand on this system"
  log "installing kcat with apt-get"
  # Install straight away when the package lists are there; refresh them only if that fails.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2
  fi
  summary+=("kcat installed")
}

# --- Python clients in .cache/venv --------------------------------------------------------------
install_python() {
  local req="$REPO/test/compat/clients/requirements.txt" venv="$CACHE/venv" stamp_file="$CACHE/venv/.stamp"
  local python=${PYTHON:-python3} stamp
  need "$python" "install Python 3.11+"
  local version
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  stamp=$(EXTRA="$version" stamp_of "$req")
  if fresh "$stamp_file" "$stamp" && [[ -x "$venv/bin/python" ]]; then
    summary+=("python venv cached")
    return
  fi
  log "creating .cache/venv (Python $version) with the Python Kafka clients"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  "$venv/bin/python" -c 'import confluent_kafka, kafka, lz4, snappy, zstandard, cramjam' \
    || die "the Python clients do not import"
  echo "$stamp" >"$stamp_file"
  summary+=("python venv installed")
}

# --- small Go programs under test/compat (franz-go clients) --------------------------------------
# install_go_program DIR NAME: builds test/compat/DIR into .cache/bin/NAME when its sources changed.
install_go_program() {
  local src="$REPO/test/compat/$1" bin="$CACHE/bin/$2" stamp_file="$CACHE/bin/.$2.stamp" stamp
  stamp=$(stamp_of "$src/go.mod" "$src/go.sum" "$src/main.go")
  if fresh "$stamp_file" "$stamp" && [[ -x "$bin" ]]; then
    summary+=("$2 cached")
    return
  fi
  need go "install Go"
  log "building .cache/bin/$2"
  (
    cd "$src"
    export GOPATH="$DOWNLOADS/go" GOMODCACHE="$DOWNLOADS/go/mod" GOCACHE="$DOWNLOADS/go/cache"
    export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
    go build -o "$bin.tmp" . >&2
  )
  mv "$bin.tmp" "$bin"
  echo "$stamp" >"$stamp_file"
  summary+=("$2 built")
}

# --- MinIO (built from source with the Go module proxy) -------------------------------------------
# A cold build downloads about 1.6 GB of modules into .cache/go/mod and takes a few minutes; the
# module and build caches are shared with the franz-go build.
install_minio() {
  local bin="$CACHE/bin/minio" stamp_file="$CACHE/bin/.minio.stamp" stamp
  stamp=$(EXTRA="$MINIO_MODULE@$MINIO_VERSION" stamp_of /dev/null)
  if fresh "$stamp_file" "$stamp" && [[ -x "$bin" ]]; then
    summary+=("minio cached")
    return
  fi
  local built="$DOWNLOADS/bin/minio-$MINIO_VERSION"
  if [[ $FORCE == 0 && -x "$built" ]]; then
    mkdir -p "$CACHE/bin"
    cp "$built" "$bin"
    echo "$stamp" >"$stamp_file"
    summary+=("minio copied from $DOWNLOADS")
    return
  fi
  need go "install Go"
  log "building .cache/bin/minio ($MINIO_VERSION) from source; a cold build takes a few minutes"
  local gobin="$DOWNLOADS/go/bin.minio.tmp"
  rm -rf "$gobin"
  (
    export GOPATH="$DOWNLOADS/go" GOMODCACHE="$DOWNLOADS/go/mod" GOCACHE="$DOWNLOADS/go/cache" GOBIN="$gobin"
    export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
    # Outside any module, so `go install pkg@version` uses MinIO's own go.mod and go.sum.
    cd "$CACHE"
    go install -trimpath "$MINIO_MODULE@$MINIO_VERSION" >&2
  )
  # A quick proof that the binary runs.
  "$gobin/minio" --version >/dev/null 2>&1 || die "the MinIO binary built but does not run"
  mkdir -p "$DOWNLOADS/bin"
  mv "$gobin/minio" "$built"
  cp "$built" "$bin"
  rm -rf "$gobin"
  echo "$stamp" >"$stamp_file"
  summary+=("minio built")
}

# --- npm clients (devDependencies) --------------------------------------------------------------
install_npm() {
  if [[ -f "$REPO/node_modules/kafkajs/package.json" && -f "$REPO/node_modules/@platformatic/kafka/package.json" ]]; then
    summary+=("npm clients found")
    return
  fi
  need npm "install Node.js and npm"
  log "installing npm devDependencies (kafkajs, @platformatic/kafka)"
  (cd "$REPO" && npm ci --no-audit --no-fund >&2)
  summary+=("npm clients installed")
}

install_kafka
install_kcat
install_python
install_go_program franz franz-client
install_go_program franz-data franz-data
install_go_program franz-groups franz-groups
install_minio
install_npm

joined=$(printf '%s; ' "${summary[@]}")
printf 'install-test-deps: %s (%ss)\n' "${joined%; }" "$((SECONDS - started))"
