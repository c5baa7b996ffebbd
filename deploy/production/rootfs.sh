#!/usr/bin/env bash
# Assembles the root file system of Slipway's container image from a built binary:
#
#     deploy/production/rootfs.sh .build/release/slipway /tmp/slipway-rootfs
#     docker build -f deploy/production/Dockerfile -t slipway:1.0 /tmp/slipway-rootfs
#
# No base image is needed (none can be pulled on an offline builder): the binary, every shared
# library it links as ldd resolves them here (glibc, libgit2 and its TLS/SSH libraries, the Swift
# runtime) at the same paths, the dynamic loader, CA certificates, a non-root user (uid 10001),
# and the static docker CLI when this machine has one (builds with BuildKit secrets use it).
set -euo pipefail
bin=${1:?usage: rootfs.sh SLIPWAY_BINARY OUT_DIR}
out=${2:?usage: rootfs.sh SLIPWAY_BINARY OUT_DIR}
[ -x "$bin" ] || { echo "rootfs.sh: $bin is not an executable; build it first (swift build -c release --product slipway)" >&2; exit 1; }

# The context holds root/ (the file system, owned by root) and home/slipway (copied with
# --chown: a COPY creates what it copies as root otherwise).
rm -rf "$out"
home=$out/home/slipway
out=$out/root
mkdir -p "$out"/usr/local/bin "$out"/usr/bin "$out"/etc/ssl/certs "$out"/tmp "$out"/var/lib \
         "$out"/etc/slipway/policies "$out"/run/secrets/slipway "$home"
touch "$home/.keep"
chmod 1777 "$out/tmp"
install -m 0755 "$bin" "$out/usr/local/bin/slipway"
# Debug information is for the build machine; symbols stay (Swift's runtime reads them).
if command -v strip >/dev/null; then strip --strip-debug "$out/usr/local/bin/slipway"; fi

# Every library at the path the loader found it, plus the loader itself.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
missing=$(ldd "$bin" | grep -c "not found" || true)
[ "$missing" = 0 ] || { echo "rootfs.sh: $missing libraries not found: $(ldd "$bin" | grep 'not found')" >&2; exit 1; }

cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nslipway:x:10001:10001:Slipway:/var/lib/slipway:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\nslipway:x:10001:\n' > "$out/etc/group"
printf 'hosts: files dns\n' > "$out/etc/nsswitch.conf"
docker_cli=$(command -v docker || true)
if [ -n "$docker_cli" ] && file -L "$docker_cli" 2>/dev/null | grep -q "statically linked"; then
    install -m 0755 "$docker_cli" "$out/usr/bin/docker"
fi
echo "rootfs.sh: $(du -sh "$out" | cut -f1) in $out"
