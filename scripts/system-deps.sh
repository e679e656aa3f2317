#!/usr/bin/env bash
# Debian packages the real-tool tests use: buildah + docker-registry (build-images), prometheus
# (auto-rollback). Installed only when missing; needs root (CI and the dev machines run as root).
set -euo pipefail
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v prometheus >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
