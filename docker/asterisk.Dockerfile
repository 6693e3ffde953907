# Asterisk for the PBX: the public andrius/asterisk build of Asterisk 22 LTS
# (22.10.1, the release the protocol captures come from) plus what that
# image leaves out: English prompts and music on hold. Without them queue
# announcements, voicemail menus and hold music are silent.
ARG ASTERISK_BASE_IMAGE=andrius/asterisk:22.10.1_debian-trixie
FROM ${ASTERISK_BASE_IMAGE}

USER root
# openssl: the entrypoint stores the ARI password as a SHA-512 crypt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        asterisk-core-sounds-en \
        asterisk-core-sounds-en-wav \
        asterisk-moh-opsound-wav \
        openssl \
    && rm -rf /var/lib/apt/lists/*

# modules.conf does not load these, but "module load" (AMI ModuleLoad, ARI
# loadModule) would: the modules that can run a program or a shell are not in
# the image at all. The same list as the first noload block of modules.conf
# (tests/test_asterisk_modules.py keeps them equal).
ARG PBX_REMOVED_MODULES="app_system.so func_shell.so app_externalivr.so res_agi.so app_mp3.so app_jack.so func_env.so func_curl.so pbx_spool.so res_http_post.so"
RUN set -eu; \
    moddir="$(dirname "$(find / -xdev -type f -name app_dial.so -path '*asterisk/modules/*' | head -n 1)")"; \
    [ -d "$moddir" ] && [ "$moddir" != . ]; \
    for module in $PBX_REMOVED_MODULES; do rm -f "$moddir/$module"; done; \
    for module in $PBX_REMOVED_MODULES; do [ ! -e "$moddir/$module" ]; done

COPY asterisk-access.sh /usr/local/lib/pbx/asterisk-access.sh
COPY asterisk-entrypoint.sh /usr/local/bin/pbx-asterisk-entrypoint.sh
RUN chmod 0755 /usr/local/bin/pbx-asterisk-entrypoint.sh /usr/local/lib/pbx/asterisk-access.sh

# The base files are bind-mounted here by compose.yaml (asterisk_conf/).
ENV PBX_BASE_CONF_DIR=/opt/pbx/asterisk_conf

ENTRYPOINT ["/usr/local/bin/pbx-asterisk-entrypoint.sh"]
# -f: stay in the foreground as the container's main process; -n: no colour
# codes in the collected log; -U/-G: drop root once the ports are bound.
CMD ["/usr/sbin/asterisk", "-f", "-n", "-U", "asterisk", "-G", "asterisk"]
