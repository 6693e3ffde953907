#!/bin/bash
# Prepares /etc/asterisk, then hands over to the base image's entrypoint
# (which maps the asterisk user to PUID/PGID) and to Asterisk itself.
#
# Runs as root. It:
#  - refuses to start without strong AMI/ARI credentials in the environment;
#  - replaces the image's sample configuration with the base files mounted
#    read-only at $PBX_BASE_CONF_DIR (the repository's asterisk_conf/);
#  - writes manager_secrets.conf and ari_secrets.conf (asterisk-access.sh:
#    the ARI password as a crypt, AMI/ARI open to the stack's networks only)
#    and pjsip_nat.conf, which the base files include;
#  - makes the volumes shared with the web and worker containers writable
#    by the asterisk user (uid/gid PUID/PGID, the same ids as the app user).
set -euo pipefail

BASE_CONF_DIR="${PBX_BASE_CONF_DIR:-/opt/pbx/asterisk_conf}"
ETC_DIR=/etc/asterisk
PUID="${PUID:-1000}"
PGID="${PGID:-1000}"

# die, the credential checks and write_access_files (manager_secrets.conf,
# ari_secrets.conf) live in one script, so an Asterisk outside compose gets
# the same access rules.
# shellcheck source=asterisk-access.sh
source "${PBX_ACCESS_SCRIPT:-/usr/local/lib/pbx/asterisk-access.sh}"

[[ "$PUID" =~ ^[0-9]+$ && "$PGID" =~ ^[0-9]+$ ]] || die "PUID and PGID must be numeric"

# Networks directly attached to this container, e.g. "172.18.0.0/255.255.0.0",
# read from the kernel's routing table (its addresses are little-endian hex).
connected_networks() {
    local iface dest gw flags refcnt use metric mask rest
    while read -r iface dest gw flags refcnt use metric mask rest; do
        [ "$iface" = "Iface" ] && continue
        [ "$gw" = "00000000" ] && [ "$dest" != "00000000" ] || continue
        printf '%d.%d.%d.%d/%d.%d.%d.%d\n' \
            "0x${dest:6:2}" "0x${dest:4:2}" "0x${dest:2:2}" "0x${dest:0:2}" \
            "0x${mask:6:2}" "0x${mask:4:2}" "0x${mask:2:2}" "0x${mask:0:2}"
    done </proc/net/route
}

pjsip_nat_conf() {
    local external="${ASTERISK_EXTERNAL_ADDRESS:-}" local_nets net transport
    echo "; Written by asterisk-entrypoint.sh from the environment at start-up."
    [ -n "$external" ] || return 0
    [[ "$external" =~ ^[A-Za-z0-9.:-]+$ ]] \
        || die "ASTERISK_EXTERNAL_ADDRESS must be a host name or an IP address"
    if [ -n "${ASTERISK_LOCAL_NET:-}" ]; then
        local_nets="${ASTERISK_LOCAL_NET//,/ }"
    else
        # Only the container's own networks are "local": phones on the
        # office LAN reach Asterisk through the host and need the external
        # address, even when that LAN is a private range too.
        local_nets="$(connected_networks | tr '\n' ' ')"
    fi
    for net in $local_nets; do
        [[ "$net" =~ ^[0-9A-Fa-f.:/]+$ ]] || die "bad network '$net' in ASTERISK_LOCAL_NET"
    done
    for transport in transport-udp transport-tcp transport-wss; do
        echo "[$transport](+)"
        echo "external_media_address = $external"
        echo "external_signaling_address = $external"
        for net in $local_nets; do
            echo "local_net = $net"
        done
    done
}

# Computed before anything is written, so a bad value stops the start-up
# with /etc/asterisk untouched.
nat_conf="$(pjsip_nat_conf)"

# Only the stack may reach AMI and ARI: by default the networks this container
# is attached to (the compose network, where web, bridge and worker are),
# besides loopback, which the templates permit.
if [ -z "${ASTERISK_STACK_NETS:-}" ]; then
    ASTERISK_STACK_NETS="$(connected_networks | tr '\n' ' ')"
fi
export ASTERISK_STACK_NETS
check_access_env

compgen -G "$BASE_CONF_DIR/*.conf" >/dev/null \
    || die "no *.conf in $BASE_CONF_DIR (mount the repository's asterisk_conf/ there)"

mkdir -p "$ETC_DIR/generated"

# The image ships Asterisk's samples in /etc/asterisk (a volume that outlives
# the container): remove every top-level file so only our base files count.
# Directories (generated/) are left alone.
find "$ETC_DIR" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) -delete
cp "$BASE_CONF_DIR"/*.conf "$ETC_DIR"/

umask 027

# Writes stdin to $1 atomically, readable by the asterisk group only.
write_conf() {
    local path="$1" tmp
    tmp="$(mktemp "$path.XXXXXX")"
    cat >"$tmp"
    chmod 0640 "$tmp"
    mv -f "$tmp" "$path"
}

write_access_files "$ETC_DIR"

printf '%s\n' "$nat_conf" | write_conf "$ETC_DIR/pjsip_nat.conf"

# Debian's prompt package installs under /usr/share; Asterisk looks in
# /var/lib/asterisk/sounds/<language>, a volume of the base image. An empty
# directory left there by the base image is replaced; one with files is not.
sounds_en=/var/lib/asterisk/sounds/en
if [ -d /usr/share/asterisk/sounds/en ] \
        && { [ ! -e "$sounds_en" ] || rmdir "$sounds_en" 2>/dev/null; }; then
    ln -s /usr/share/asterisk/sounds/en "$sounds_en"
fi

# Volumes shared with the web and worker containers, which run as the same
# uid/gid. Only the top directory is chowned: recordings can be many files.
for dir in "$ETC_DIR/generated" \
           /var/lib/asterisk/sounds/custom \
           /var/spool/asterisk/monitor \
           /var/spool/asterisk/voicemail \
           /var/lib/asterisk/astdb; do
    mkdir -p "$dir"
    chown "$PUID:$PGID" "$dir"
    chmod 2775 "$dir"
done
chown "$PUID:$PGID" "$ETC_DIR" "$ETC_DIR"/*.conf

if [ -x /usr/local/bin/entrypoint.sh ]; then
    exec /usr/local/bin/entrypoint.sh "$@"
fi
exec "$@"
