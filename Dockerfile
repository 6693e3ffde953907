# The Python image for web, bridge and worker (compose.yaml runs all three
# from it with different commands).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffprobe and ffmpeg, run under prlimit (util-linux), convert uploaded prompts to Asterisk's formats
# (pbx/audio.py); the config checker reads the names of the stock prompts from the same sound package
# the Asterisk image installs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg util-linux gettext asterisk-core-sounds-en \
    && rm -rf /var/lib/apt/lists/*

# The same uid/gid as the asterisk user in the Asterisk container (PUID/PGID
# there), so both can write the volumes they share: generated config,
# prompts, recordings, voicemail.
ARG APP_UID=1000
ARG APP_GID=1000
RUN groupadd --gid "${APP_GID}" pbx \
    && useradd --uid "${APP_UID}" --gid "${APP_GID}" --create-home --shell /usr/sbin/nologin pbx

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# collectstatic imports the settings, which refuse to run without a
# SECRET_KEY. This one exists only in this build step; it is not an ENV and
# is never in the image's environment.
ARG BUILD_SECRET_KEY=collectstatic-only-not-a-secret
RUN SECRET_KEY="${BUILD_SECRET_KEY}" DEBUG=false python manage.py collectstatic --noinput \
    && SECRET_KEY="${BUILD_SECRET_KEY}" DEBUG=false python manage.py compilemessages --ignore=".*"

# Mount points of the shared volumes, at the same paths as in the Asterisk
# container so a path means the same file on both sides. A new named volume
# takes the owner of its mount point from the image.
RUN mkdir -p /data/media \
        /etc/asterisk/generated \
        /var/lib/asterisk/sounds/custom \
        /var/spool/asterisk/monitor \
        /var/spool/asterisk/voicemail \
    && chown pbx:pbx /data/media \
        /etc/asterisk/generated \
        /var/lib/asterisk/sounds/custom \
        /var/spool/asterisk/monitor \
        /var/spool/asterisk/voicemail \
    && chmod 2775 /etc/asterisk/generated \
        /var/lib/asterisk/sounds/custom \
        /var/spool/asterisk/monitor \
        /var/spool/asterisk/voicemail

USER pbx
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "pbx.asgi:application"]
