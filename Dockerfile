# newsbot: the bot and its command line in one image.
#
#   docker build -t newsbot .
#   docker run -d --name newsbot --restart unless-stopped --stop-timeout 30 \
#     -e NEWSBOT_TOKEN=123456:ABC... \
#     -v newsbot-data:/data -v "$PWD/config.toml:/config/config.toml:ro" \
#     newsbot
#
# The store lives on the /data volume (the working directory, so the default
# [storage] path = "newsbot.db" lands there); the config is a mounted file; the token comes
# from the environment and is never part of the image. The image runs as uid:gid 10001:10001,
# which must own /data when it is a bind mount. The sample articles and the commented config
# are in /usr/local/share/newsbot. See docs/deployment.md.
#
# No HEALTHCHECK: /healthz exists only when [metrics] is enabled, which it is not by default,
# and a check that fails on a default config would mark a working bot unhealthy (and make
# Swarm restart it in a loop). docs/deployment.md gives the health check to add when it is on.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# .dockerignore lets in only what `pip install .` needs, the samples and the example config:
# no store, no local config, no .git.
WORKDIR /src
COPY . .
# The group gets the same fixed id as the user, so that `chown 10001:10001` on the host means
# this user and its group (a --user-group of a system user would get whatever id is free).
RUN pip install . \
    && install -d /usr/local/share/newsbot \
    && cp -r samples config.example.toml /usr/local/share/newsbot/ \
    && rm -rf /src \
    && groupadd --system --gid 10001 newsbot \
    && useradd --system --uid 10001 --gid newsbot --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin newsbot \
    && mkdir -p /data /config \
    && chown newsbot:newsbot /data

ENV NEWSBOT_CONFIG=/config/config.toml
WORKDIR /data
VOLUME ["/data"]
USER newsbot

# 8443: [telegram.webhook] behind a TLS proxy; 9464: [metrics]. Neither is used by default
# (long polling, metrics off); in a container both need listen = "0.0.0.0" to be reachable.
EXPOSE 8443 9464

# newsbot is PID 1 and handles SIGTERM itself: in-flight sends finish and are recorded, the
# rest stays owed. Give it more than Docker's default 10 s (--stop-timeout 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["newsbot"]
CMD ["run"]
