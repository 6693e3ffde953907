#!/usr/bin/env bash
# Debian packages the project needs outside Python:
#   gettext  msgfmt, used by `manage.py compilemessages` for the Swedish/English UI;
#   ffmpeg   pydub converts uploaded voice prompts into Asterisk's formats with it;
#   asterisk-core-sounds-en  the stock prompts (as the Asterisk image has them): the config checker
#            refuses a dialplan that plays one that is not there.
# Installs what is missing when running as root (CI, containers); otherwise says what to install.
set -euo pipefail

missing=()
command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
[ -d /usr/share/asterisk/sounds/en ] || missing+=(asterisk-core-sounds-en)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing missing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them first, e.g. on Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
