#!/usr/bin/env bash
# Builds a real kube-apiserver and kube-controller-manager (v1.20.2) from Debian 12's
# source package, offline, into $KANRI_KUBE_CACHE/bin (default ~/.cache/kanri-tests/kubernetes-1.20.2).
# Idempotent: a second run finds the binaries and exits at once ("cached").
# Recipe and why each step is there: see docs/real-kubernetes.md.
set -euo pipefail
CACHE=${KANRI_KUBE_CACHE:-$HOME/.cache/kanri-tests/kubernetes-1.20.2}
BIN=$CACHE/bin
if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ]; then
  echo "cached: $BIN"; exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
SOURCES=/etc/apt/sources.list.d/kanri-deb-src.sources
if [ ! -f "$SOURCES" ]; then
  # apt-get source needs deb-src lines; bookworm's sources, kept in a file of our own.
  $SUDO tee "$SOURCES" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
echo "installing the toolchain (golang-1.19-go, etcd-server, reflect2 1.0.2, dpkg-dev)"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends golang-1.19-go etcd-server golang-github-modern-go-reflect2-dev dpkg-dev >/dev/null
WORK=$CACHE/work
rm -rf "$WORK"; mkdir -p "$WORK" "$BIN"
cd "$WORK"
echo "fetching the kubernetes source package"
apt-get source -qq kubernetes >/dev/null 2>&1 || apt-get source kubernetes
SRC=$(ls -d "$WORK"/kubernetes-*/ | head -1); SRC=${SRC%/}
# The vendored reflect2 1.0.1 makes the server panic on the first create that decodes a map.
R=$SRC/vendor/github.com/modern-go/reflect2
rm -rf "$R" && mkdir -p "$R" && cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R"/
export PATH=/usr/lib/go-1.19/bin:$PATH GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOPROXY=off
export GOPATH=$WORK/gopath GOCACHE=$CACHE/go-build
mkdir -p "$GOPATH/src/k8s.io" && ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
echo "generating the OpenAPI definitions (the source package lacks them)"
make gen_openapi >/dev/null
LDFLAGS="-s -w"
for V in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  LDFLAGS="$LDFLAGS -X $V.gitVersion=v1.20.2 -X $V.gitMajor=1 -X $V.gitMinor=20 -X $V.gitTreeState=clean -X $V.buildDate=1970-01-01T00:00:00Z"
done
for CMD in kube-apiserver kube-controller-manager; do
  echo "building $CMD (minutes on a cold cache)"
  go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/$CMD.partial" ./cmd/$CMD
  mv "$BIN/$CMD.partial" "$BIN/$CMD"
done
rm -rf "$WORK" "$CACHE/go-build"
echo "built: $BIN"
