#!/usr/bin/env bash
# Build the interop suite's Go peers into $1 (default: target/go-peers):
#   go-legacy-codec, go-legacy-client   (go-fil-markets, go-data-transfer, go-graphsync)
#   go-legacy-retrieve, go-legacy-provider (go-fil-markets' retrieval client and provider, paid)
#   go-legacy-v0-codec                  (go-fil-markets v1.25's retrieval tuple forms)
#   go-boost-codec, go-boost-client     (boost's storagemarket/types)
#   lassie                              (pinned in lassie/go.mod)
#   go-graphsync-peer                   (lassie's go-graphsync: serve a CAR, or fetch with a selector)
#   go-data-transfer-peer               (lassie's go-data-transfer: metered pull channels, both sides)
#   go-ipni-peer                        (lassie's go-libipni: reads an advertisement chain as an indexer)
#   go-prom-parse                       (prometheus/common expfmt: parses a metrics exposition)
#   graphsplit, graphsplit-manifest6    (go-graphsplit v0.5.0's own command; its manifest in the
#                                        current six-column form, through Go's encoding/csv)
# Modules come from the Go module proxy at the versions in each go.mod/go.sum; the module and
# build caches (GOMODCACHE, GOCACHE) live outside the clone, so a second build is quick.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../target/go-peers}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# No cgo, so nothing can link filecoin-ffi; no toolchain downloads; go.mod files stay as pinned.
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly

build() { # module, package, binary
    (cd "$here/$1" && go build -trimpath -o "$out/$3" "$2")
}

no_ffi() { # module
    if (cd "$here/$1" && go list -deps ./... | grep -q 'filecoin-project/filecoin-ffi'); then
        echo "tests/go/$1 imports filecoin-ffi; the interop peers must not" >&2
        exit 1
    fi
}

no_ffi legacy
build legacy ./codec go-legacy-codec
build legacy ./client go-legacy-client
build legacy ./retrieve go-legacy-retrieve
build legacy ./provider go-legacy-provider
no_ffi legacy-v0
build legacy-v0 ./codec go-legacy-v0-codec
no_ffi boost
build boost ./codec go-boost-codec
build boost ./client go-boost-client
# lassie's version comes from go.mod, stamped as its release build stamps it.
lassie_version="$(cd "$here/lassie" && go list -m -f '{{.Version}}' github.com/filecoin-project/lassie)"
(cd "$here/lassie" && go build -trimpath \
    -ldflags "-X github.com/filecoin-project/lassie/pkg/build.version=$lassie_version" \
    -o "$out/lassie" github.com/filecoin-project/lassie/cmd/lassie)
no_ffi lassie
build lassie ./gspeer go-graphsync-peer
build lassie ./dtpeer go-data-transfer-peer
build lassie ./ipnipeer go-ipni-peer
build lassie ./promparse go-prom-parse
# go-graphsplit reaches filecoin-ffi only for commP; its module swaps in the pure-Go shim
# (tests/go/shims/filecoin-ffi), which must be what the build resolves.
shim="$(cd "$here/graphsplit" && go list -m -f '{{with .Replace}}{{.Path}}{{end}}' github.com/filecoin-project/filecoin-ffi)"
if [ "$shim" != "../shims/filecoin-ffi" ]; then
    echo "tests/go/graphsplit must replace filecoin-ffi with ../shims/filecoin-ffi (got '$shim')" >&2
    exit 1
fi
build graphsplit github.com/filedrive-team/go-graphsplit/cmd/graphsplit graphsplit
build graphsplit ./manifest6 graphsplit-manifest6
echo "Go peers in $out: $(ls "$out" | tr '\n' ' ')"
