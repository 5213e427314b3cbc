#!/usr/bin/env bash
# Build gpubp's image (docker/Dockerfile) with docker or, where no docker daemon answers, podman.
#
#   docker/build.sh                      # CUDA 12 image, gpubp:cuda12
#   docker/build.sh --cuda 13            # CUDA 13 image, gpubp:cuda13
#   docker/build.sh --cpu --test         # CPU-only image, gpubp:cpu, then its suite on the CPU
#
# Options:
#   --cuda 12|13        the CUDA major version (cupy-cuda1Nx[ctk]); default 12
#   --cpu               a CPU-only image (no CuPy)
#   --tag NAME          the image's name; default gpubp:cuda12, gpubp:cuda13 or gpubp:cpu
#   --base IMAGE        the base image; default nvidia/cuda:12.6.3-base-ubuntu24.04,
#                       nvidia/cuda:13.0.1-base-ubuntu24.04 or ubuntu:24.04 (--cpu)
#   --debian-base       build the base from Debian's packages (mmdebstrap) without trying a registry
#   --suite NAME        the Debian (or Ubuntu) release of that base; default the host's
#   --mirror URL        its mirror; default the one apt's sources give for that release
#   --ca-bundle FILE    CA certificates for HTTPS inside the build (pip behind a TLS-inspecting
#                       proxy); default $PIP_CERT, $REQUESTS_CA_BUNDLE or $SSL_CERT_FILE if set
#   --engine docker|podman   which engine; default docker if its daemon answers, else podman
#   --test              after the build, run the image's test command on the CPU
#   --rm                with --test: remove the image afterwards (a build that only checks)
#   --check             only say which engine would build and exit (0: usable, 3: not)
#
# Exit status: 0 built (and tested); 1 the build or the test failed; 2 bad options;
# 3 nothing here can build an image (no usable engine, or no base image and no way to make one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
temps=()  # temporary files, removed on exit
trap 'rm -rf "${temps[@]}"' EXIT
say() { echo "build.sh: $*" >&2; }
cannot() { say "$*"; exit 3; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

cuda=12 tag="" base="" debian_base=0 suite="" mirror="" ca="" engine="" run_test=0 rm=0 check=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cuda) cuda=${2:-}; shift ;;
        --cpu) cuda=cpu ;;
        --tag) tag=${2:-}; shift ;;
        --base) base=${2:-}; shift ;;
        --debian-base) debian_base=1 ;;
        --suite) suite=${2:-}; shift ;;
        --mirror) mirror=${2:-}; shift ;;
        --ca-bundle) ca=${2:-}; shift ;;
        --engine) engine=${2:-}; shift ;;
        --test) run_test=1 ;;
        --rm) rm=1 ;;
        --check) check=1 ;;
        -h|--help) usage ;;
        *) say "unknown option '$1'"; usage ;;
    esac
    shift
done
case "$cuda" in
    12) extra=cuda12 default_base=docker.io/nvidia/cuda:12.6.3-base-ubuntu24.04 ;;
    13) extra=cuda13 default_base=docker.io/nvidia/cuda:13.0.1-base-ubuntu24.04 ;;
    cpu) extra=cpu default_base=docker.io/library/ubuntu:24.04 ;;
    *) say "--cuda must be 12 or 13, not '$cuda' (--cpu for an image without CUDA)"; exit 2 ;;
esac
tag=${tag:-gpubp:$extra}
base=${base:-$default_base}

# --- the engine ---------------------------------------------------------------------------
# podman on a sandbox or CI machine needs a few settings (measured in the project's notes):
# ulimits no higher than the hard limits (the runtime cannot raise them; podman's defaults
# are higher), and for processes no higher than kernel.pid_max (on the machine this was
# written on, nproc 32768 = pid_max works and 32769 is refused, though the hard limit is
# 96369); runc where crun refuses a hybrid cgroup setup; cgroupfs and a file event log where
# no systemd runs. A user's own CONTAINERS_CONF wins.
podman_conf() {
    local conf n u pid_max
    conf=$(mktemp "${TMPDIR:-/tmp}/gpubp-containers.XXXXXX.conf")
    n=$(ulimit -Hn) u=$(ulimit -Hu) pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 0)
    if [ "$pid_max" -gt 0 ] && { [ "$u" = unlimited ] || [ "$u" -gt "$pid_max" ]; }; then
        u=$pid_max
    fi
    {
        echo "[containers]"
        printf 'default_ulimits = ['
        [ "$n" != unlimited ] && printf '"nofile=%s:%s"' "$n" "$n"
        [ "$n" != unlimited ] && [ "$u" != unlimited ] && printf ', '
        [ "$u" != unlimited ] && printf '"nproc=%s:%s"' "$u" "$u"
        echo "]"
        echo "[engine]"
        command -v runc >/dev/null && echo 'runtime = "runc"'
        echo 'cgroup_manager = "cgroupfs"'
        echo 'events_logger = "file"'
    } >"$conf"
    echo "$conf"
}

is_podman() { "$1" --version 2>/dev/null | grep -qi podman; }
if [ -z "$engine" ]; then
    if command -v docker >/dev/null && ! is_podman docker && docker info >/dev/null 2>&1; then
        engine=docker
    elif command -v podman >/dev/null; then
        engine=podman
    elif command -v docker >/dev/null; then
        cannot "no usable container engine: docker is installed but its daemon does not answer" \
               "(docker info fails) and podman is not installed (apt-get install podman)"
    else
        cannot "no container engine: install docker, or podman (apt-get install podman)"
    fi
fi
case "$engine" in docker|podman) ;; *) say "--engine must be docker or podman"; exit 2 ;; esac
command -v "$engine" >/dev/null || cannot "--engine $engine: $engine is not installed"
if [ "$engine" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    CONTAINERS_CONF=$(podman_conf)
    export CONTAINERS_CONF
    temps+=("$CONTAINERS_CONF")
fi
info=$("$engine" info 2>&1 >/dev/null) || cannot "$engine is not usable here ($engine info: ${info##*$'\n'})"
say "engine: $engine ($("$engine" --version))"

# --- the base image -----------------------------------------------------------------------
# The Debian or Ubuntu release and mirror that apt uses here (deb822 .sources or one-line .list).
apt_mirror() {  # prints "URI COMPONENTS" (components comma-separated) for suite $1
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in
            *.sources) awk -v suite="$1" '
                function flush() { if (deb && ok && uri != "") { print uri, comps; found = 1; exit } }
                /^[ \t]*$/ { flush(); deb = ok = 0; uri = comps = ""; next }
                /^Types:/ { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
                /^URIs:/ { uri = $2 }
                /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
                /^Components:/ { comps = $2; for (i = 3; i <= NF; i++) comps = comps "," $i }
                END { if (!found) flush() }' "$f" ;;
            *) sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$1" '
                $1 == "deb" && $3 == suite {
                    comps = $4; for (i = 5; i <= NF; i++) comps = comps "," $i
                    print $2, comps; exit }' ;;
        esac
    done | head -n 1
}

debian_base_image() {  # makes (once) localhost/gpubp-debian-base:SUITE[-cudaN]; prints its name
    local os_suite plain image tmp comps found out
    os_suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    suite=${suite:-${os_suite:-bookworm}}
    plain=localhost/gpubp-debian-base:$suite
    image=$plain
    [ "$extra" != cpu ] && image=$plain-$extra
    if "$engine" image inspect "$image" >/dev/null 2>&1; then
        say "$1; base: $image (made earlier from Debian's packages by build.sh)"
        echo "$image"; return
    fi
    if ! "$engine" image inspect "$plain" >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null \
            || cannot "no base image: $1, and mmdebstrap is not installed (apt-get install mmdebstrap)"
        comps=main
        if [ -z "$mirror" ]; then
            found=$(apt_mirror "$suite")
            [ -n "$found" ] || cannot "no base image: $1, and apt's sources name no mirror for" \
                                      "'$suite' (pass --mirror URL and --suite NAME)"
            mirror=${found%% *} comps=${found#* }
        fi
        say "$1; building the base from Debian's packages with mmdebstrap ($suite from $mirror)"
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpubp-base.XXXXXX")  # (a subshell: no EXIT trap here)
        mmdebstrap --quiet --variant=minbase --components="$comps" \
            --include=python3,python3-venv,ca-certificates "$suite" "$tmp/base.tar" "$mirror" >&2 \
            || { rm -rf "$tmp"; cannot "mmdebstrap could not build the base from $mirror"; }
        out=$("$engine" import --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$plain" 2>&1) \
            || { rm -rf "$tmp"; cannot "$engine could not import the base that mmdebstrap made: $out"; }
        rm -rf "$tmp"
    else
        say "$1; base: $plain (made earlier from Debian's packages by build.sh)"
    fi
    if [ "$image" != "$plain" ]; then
        # What nvidia/cuda's -base images set, so that the NVIDIA Container Toolkit mounts the
        # host's driver and refuses one too old for this CUDA major version.
        local ctr
        ctr=$("$engine" create "$plain" true)
        "$engine" commit --change "ENV NVIDIA_VISIBLE_DEVICES=all" \
            --change "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility" \
            --change "ENV NVIDIA_REQUIRE_CUDA=cuda>=$cuda.0" "$ctr" "$image" >/dev/null
        "$engine" rm "$ctr" >/dev/null
    fi
    echo "$image"
}

if [ "$check" = 1 ]; then
    if [ "$debian_base" = 0 ] && ! "$engine" image inspect "$base" >/dev/null 2>&1 \
        && ! command -v mmdebstrap >/dev/null; then
        say "note: without a registry the build needs mmdebstrap (apt-get install mmdebstrap)"
    fi
    say "ok: $engine can build $tag"
    exit 0
fi

if [ "$debian_base" = 1 ]; then
    base=$(debian_base_image "base from Debian's packages as asked (--debian-base)") || exit $?
elif ! "$engine" image inspect "$base" >/dev/null 2>&1; then
    if pulled=$("$engine" pull "$base" 2>&1); then
        say "base: $base (pulled)"
    else
        base=$(debian_base_image "no registry reachable (pulling $base: ${pulled##*$'\n'})") \
            || exit $?
    fi
fi
# Can this engine run a container at all? (A sandbox may allow builds' storage but not runs.)
ran=$("$engine" run --rm "$base" true 2>&1) || cannot "$engine cannot run a container here: ${ran##*$'\n'}"

# --- the build ----------------------------------------------------------------------------
if [ -z "$ca" ]; then
    for v in PIP_CERT REQUESTS_CA_BUNDLE SSL_CERT_FILE; do
        if [ -n "${!v:-}" ] && [ -f "${!v}" ]; then ca=${!v}; say "CA bundle: \$$v ($ca)"; break; fi
    done
fi
secret=$(mktemp "${TMPDIR:-/tmp}/gpubp-ca.XXXXXX")  # empty: no CA bundle
temps+=("$secret")
if [ -n "$ca" ]; then
    [ -f "$ca" ] || { say "--ca-bundle $ca: no such file"; exit 2; }
    cat "$ca" >"$secret"
fi

say "building $tag (CUDA_EXTRA=$extra, base $base)"
start=$(date +%s)
build=("$engine" build -f "$ROOT/docker/Dockerfile" --build-arg "CUDA_EXTRA=$extra"
       --build-arg "CUDA_IMAGE=$base" --secret "id=ca_bundle,src=$secret" -t "$tag")
[ "$engine" = podman ] && build+=(--ignorefile "$ROOT/docker/Dockerfile.dockerignore")
[ "$engine" = docker ] && export DOCKER_BUILDKIT=1
"${build[@]}" "$ROOT" || { say "the build of $tag failed"; exit 1; }
size=$("$engine" image inspect --format '{{.Size}}' "$tag")
say "built $tag in $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"

if [ "$run_test" = 1 ]; then
    say "running the image's test command on the CPU: $engine run --rm $tag bash docker/selftest.sh --cpu"
    start=$(date +%s)
    passed=1
    "$engine" run --rm "$tag" bash docker/selftest.sh --cpu || passed=0
    if [ "$rm" = 1 ]; then "$engine" rmi "$tag" >/dev/null && say "removed $tag (--rm)"; fi
    [ "$passed" = 1 ] || { say "the suite failed in $tag"; exit 1; }
    say "the suite passed in $tag in $(( $(date +%s) - start )) s"
fi
