# Asterisk for the PBX: the public andrius/asterisk build of Asterisk 22 LTS
# (22.10.1, the release the protocol captures come from) plus what that
# image leaves out: English prompts and music on hold. Without them queue
# announcements, voicemail menus and hold music are silent.
ARG ASTERISK_BASE_IMAGE=andrius/asterisk:22.10.1_debian-trixie
FROM ${ASTERISK_BASE_IMAGE}

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        asterisk-core-sounds-en \
        asterisk-core-sounds-en-wav \
        asterisk-moh-opsound-wav \
    && rm -rf /var/lib/apt/lists/*

COPY asterisk-entrypoint.sh /usr/local/bin/pbx-asterisk-entrypoint.sh
RUN chmod 0755 /usr/local/bin/pbx-asterisk-entrypoint.sh

# The base files are bind-mounted here by compose.yaml (asterisk_conf/).
ENV PBX_BASE_CONF_DIR=/opt/pbx/asterisk_conf

ENTRYPOINT ["/usr/local/bin/pbx-asterisk-entrypoint.sh"]
# -f: stay in the foreground as the container's main process; -n: no colour
# codes in the collected log; -U/-G: drop root once the ports are bound.
CMD ["/usr/sbin/asterisk", "-f", "-n", "-U", "asterisk", "-G", "asterisk"]
