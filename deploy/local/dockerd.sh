#!/usr/bin/env bash
# A private Docker engine (with BuildKit) in DIR, on its own unix socket, with no
# bridge network: builds and containers use --network none.
#   dockerd.sh start DIR   prints the DOCKER_HOST value
#   dockerd.sh stop DIR [--remove-containers]
#     Without --remove-containers, containers with a restart policy come back when the
#     engine starts again (what `slipway dev` wants across restarts).
# Also makes the base image slipway/busybox:latest from the static busybox, since
# nothing can be pulled from the internet here.
source "$(dirname "$0")/common.sh"

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: dockerd.sh start|stop DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/docker.sock"
# containerd's sockets live under the exec root; unix socket paths are short, so keep it in /tmp.
exec_root="/tmp/slipway-exec-$(echo -n "$dir" | md5sum | cut -c1-10)"
BASE_IMAGE=${SLIPWAY_BASE_IMAGE:-slipway/busybox:latest}

api() { curl -sf --unix-socket "$sock" "$@"; }

import_base_image() {
    api "http://engine/v1.41/images/$BASE_IMAGE/json" >/dev/null && return 0
    local busybox; busybox=$(command -v busybox || true)
    [ -x /bin/busybox ] && busybox=/bin/busybox
    [ -n "$busybox" ] || die "busybox is not installed; run deploy/install.sh"
    local rootfs; rootfs=$(mktemp -d)
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root" "$rootfs/home/app"
    chmod 1777 "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"; done
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\nnobody:x:65534:\n' > "$rootfs/etc/group"
    chown 1000:1000 "$rootfs/home/app"
    local repo=${BASE_IMAGE%:*} tag=${BASE_IMAGE##*:}
    tar -C "$rootfs" -c . | curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' --data-binary @- \
        "http://engine/v1.41/images/create?fromSrc=-&repo=$repo&tag=$tag" >/dev/null || die "importing $BASE_IMAGE failed"
    rm -rf "$rootfs"
    echo "imported $BASE_IMAGE" >&2
}

case "$cmd" in
start)
    if ! api http://engine/_ping >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "dockerd must run as root; run this as root or set DOCKER_HOST to an engine you can use"
        command -v dockerd >/dev/null || die "dockerd is not installed; run deploy/install.sh"
        mkdir -p "$dir/data" "$exec_root"
        nohup dockerd --iptables=false --ip6tables=false --bridge=none --data-root "$dir/data" --exec-root "$exec_root" \
            --host "unix://$sock" --pidfile "$dir/docker.pid" >"$dir/dockerd.log" 2>&1 &
        wait_for dockerd 240 api http://engine/_ping || die "dockerd did not start; see $dir/dockerd.log"
    fi
    import_base_image
    echo "unix://$sock"
    ;;
stop)
    if [ "${3:-}" = --remove-containers ] && api http://engine/_ping >/dev/null 2>&1; then
        for id in $(api "http://engine/v1.41/containers/json?all=1" | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))'); do
            api -X DELETE "http://engine/v1.41/containers/$id?force=1" >/dev/null || true
        done
    fi
    stop_pidfile "$dir/docker.pid" dockerd
    # Mounts the engine left behind would make the folder impossible to delete.
    grep -oE " ($dir|$exec_root)[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$exec_root"
    ;;
*) die "unknown command $cmd" ;;
esac
