#!/bin/bash
# Who may talk to Asterisk's AMI and ARI, and with what credentials. Sourced by
# asterisk-entrypoint.sh at container start; also usable on its own for an
# Asterisk outside compose (local runs, tests):
#
#   ASTERISK_AMI_USER=... ASTERISK_AMI_SECRET=... ASTERISK_ARI_USER=... \
#   ASTERISK_ARI_PASSWORD=... ASTERISK_STACK_NETS="172.18.0.0/16" \
#       docker/asterisk-access.sh /etc/asterisk
#
# It writes, atomically and readable by the group only:
#   manager_secrets.conf  [<AMI user>](orchestrator-user), its secret, and a
#                         permit for each network of the stack;
#   ari_secrets.conf      [<ARI user>](orchestrator-user), the password as a
#                         SHA-512 crypt (never the password itself), and the
#                         same permits.
# The templates in manager.conf/ari.conf deny everything but loopback; with
# ASTERISK_STACK_NETS empty only loopback may connect.

die() {
    echo "asterisk-access: $*" >&2
    exit 1
}

# A section name in manager.conf/ari.conf: also what clients log in with.
require_user_name() {
    local name="$1" value="${!1:-}"
    [[ "$value" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] \
        || die "$name must be 1-64 letters, digits, '.', '_' or '-'"
    case "$value" in
        general|orchestrator-user) die "$name must not be '$value' (a section of the base config)" ;;
    esac
}

require_secret() {
    local name="$1" value="${!1:-}"
    [ -n "$value" ] || die "$name is not set (see .env.example)"
    [ "${#value}" -ge 16 ] || die "$name must be at least 16 characters"
    case "${value,,}" in
        *change-me*|*changeme*) die "$name still holds a placeholder" ;;
    esac
    # Asterisk's config parser starts a comment at ';', ends the value at a
    # line break and strips surrounding blanks: any of these would silently
    # change the secret (or inject options).
    [[ "$value" != *";"* && "$value" != *$'\n'* && "$value" != *$'\r'* ]] \
        || die "$name must not contain ';' or line breaks"
    [[ ! "$value" =~ ^[[:space:]] && ! "$value" =~ [[:space:]]$ ]] \
        || die "$name must not start or end with a blank"
}

# "a.b.c.d/nn" or "a.b.c.d/m.m.m.m" (IPv4; the listeners bind IPv4 only).
# Never everything: a /0 would undo the template's deny.
require_networks() {
    local net bits
    for net in "$@"; do
        [[ "$net" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/(([0-9]{1,2})|([0-9]{1,3}\.){3}[0-9]{1,3})$ ]] \
            || die "bad network '$net' in ASTERISK_STACK_NETS (a.b.c.d/nn)"
        bits="${net#*/}"
        case "$bits" in
            0|0.0.0.0) die "ASTERISK_STACK_NETS must not permit every address ('$net')" ;;
        esac
    done
}

# The password as crypt(3) SHA-512 with a random salt, read from stdin so it
# never appears in a process list.
ari_crypt() {
    printf '%s\n' "$ASTERISK_ARI_PASSWORD" | openssl passwd -6 -stdin
}

# Writes stdin to $1 atomically, readable by the owner's group only.
write_private() {
    local path="$1" tmp
    tmp="$(mktemp "$path.XXXXXX")"
    cat >"$tmp"
    chmod 0640 "$tmp"
    mv -f "$tmp" "$path"
}

check_access_env() {
    require_user_name ASTERISK_AMI_USER
    require_secret ASTERISK_AMI_SECRET
    require_user_name ASTERISK_ARI_USER
    require_secret ASTERISK_ARI_PASSWORD
    # shellcheck disable=SC2086  # word splitting is the point
    require_networks ${ASTERISK_STACK_NETS//,/ }
    command -v openssl >/dev/null || die "openssl is needed to store the ARI password as a crypt"
}

write_access_files() {
    local dir="$1" hash net permits=""
    check_access_env
    hash="$(ari_crypt)" || die "openssl could not crypt the ARI password"
    [[ "$hash" == '$6$'* ]] || die "openssl did not return a SHA-512 crypt"
    for net in ${ASTERISK_STACK_NETS//,/ }; do
        permits+="permit = $net"$'\n'
    done
    write_private "$dir/manager_secrets.conf" <<EOF
; Written by asterisk-access.sh from the environment at start-up.
[$ASTERISK_AMI_USER](orchestrator-user)
secret = $ASTERISK_AMI_SECRET
$permits
EOF
    write_private "$dir/ari_secrets.conf" <<EOF
; Written by asterisk-access.sh from the environment at start-up.
[$ASTERISK_ARI_USER](orchestrator-user)
password = $hash
$permits
EOF
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    [ $# -eq 1 ] && [ -d "$1" ] || die "usage: $0 ASTERISK_ETC_DIR"
    write_access_files "$1"
fi
