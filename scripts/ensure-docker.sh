#!/usr/bin/env bash
# Makes this machine ready for prevu and its end-to-end tests: a running Docker engine, the
# Compose v2 plugin, OpenSSH server and client binaries, debootstrap, gpg and openssl (the
# Lightsail user-data test's Debian root and its stand-in Docker repository), Debian's chromium
# (the dashboard's browser test drives it with playwright-core), redis-server (the tunnel-server
# cluster test), and the base images
# busybox:latest and node:20-slim (built from host binaries: no image registry is needed).
# Idempotent; returns in well under 2 s when everything is in place. Where it cannot install (not
# root, not Debian), it prints what to install and exits 1.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
sshd_bin() { [ -x /usr/sbin/sshd ] || have sshd; }

ready() {
  have docker && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 &&
    sshd_bin && have ssh && have ssh-keygen && have debootstrap && have gpg && have openssl && have chromium && have redis-server &&
    docker image inspect busybox:latest node:20-slim >/dev/null 2>&1
}

if ready; then
  log "ready: $(docker version --format 'engine {{.Server.Version}}') / compose $(docker compose version --short)"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! have apt-get; then
  missing=()
  have docker || missing+=("Docker Engine (https://docs.docker.com/engine/install/)")
  if have docker && ! docker info >/dev/null 2>&1; then missing+=("a running Docker daemon you can reach (start it, or add your user to the docker group)"); fi
  if have docker && ! docker compose version >/dev/null 2>&1; then missing+=("the Docker Compose v2 plugin (docker-compose-plugin)"); fi
  sshd_bin || missing+=("OpenSSH server (openssh-server)")
  have ssh || missing+=("OpenSSH client (openssh-client)")
  have debootstrap || missing+=("debootstrap")
  have gpg || missing+=("GnuPG (gnupg)")
  have openssl || missing+=("openssl")
  have chromium || missing+=("chromium (Debian's package; the dashboard's browser test)")
  have redis-server || missing+=("redis-server")
  if have docker && docker info >/dev/null 2>&1 && ! docker image inspect busybox:latest node:20-slim >/dev/null 2>&1; then
    missing+=("the images busybox:latest and node:20-slim (docker pull busybox:latest node:20-slim, or rerun this script as root)")
  fi
  log "cannot install here ($( [ "$(id -u)" != 0 ] && echo 'not root' || echo 'not Debian' )); please install:"
  for m in "${missing[@]}"; do printf '  - %s\n' "$m" >&2; done
  exit 1
fi

apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install docker.io containerd runc iptables openssh-server openssh-client busybox-static iproute2 ca-certificates debootstrap gnupg openssl chromium redis-server

if ! docker info >/dev/null 2>&1; then
  # A dockerd that was just killed may still be dying: wait for it, then drop its pid file.
  if [ -f /var/run/docker.pid ]; then
    old=$(cat /var/run/docker.pid)
    for _ in $(seq 1 40); do kill -0 "$old" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$old" 2>/dev/null || rm -f /var/run/docker.pid
  fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 2; }
fi

# Debian bookworm ships only compose v1: take the v2 plugin from the next release's package.
plugin_dir=/usr/local/lib/docker/cli-plugins
if ! docker compose version >/dev/null 2>&1; then
  log "installing the docker compose v2 plugin"
  work=$(mktemp -d)
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$work/sources.list"
  opts=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives")
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  dpkg -x "$work"/docker-compose_*.deb "$work/x"
  mkdir -p "$plugin_dir"
  install -m 0755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugin_dir/docker-compose"
  rm -rf "$work"
  docker compose version >/dev/null
fi

# Base images from host binaries, because no registry may be reachable.
if ! docker image inspect busybox:latest >/dev/null 2>&1; then
  log "building busybox:latest from busybox-static"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www"
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - busybox:latest >/dev/null
  rm -rf "$root"
fi

if ! docker image inspect node:20-slim >/dev/null 2>&1; then
  log "building node:20-slim from the host node binary"
  root=$(mktemp -d)
  node_bin=$(readlink -f "$(command -v node)")
  mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc" "$root/bin"
  cp "$node_bin" "$root/usr/local/bin/node"
  for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
  done
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ls cat env wget nc sleep; do ln -sf busybox "$root/bin/$a"; done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ca-certificates.crt" 2>/dev/null || true
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'node:x:1000:1000:node:/home/node:/bin/sh' >> "$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' > "$root/etc/group"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/bin:/bin' -c 'CMD ["node"]' - node:20-slim >/dev/null
  rm -rf "$root"
fi

ready || { log "set-up finished but something is still missing"; exit 2; }
log "ready: $(docker version --format 'engine {{.Server.Version}}') / compose $(docker compose version --short) / images busybox:latest node:20-slim"
