# pier in a container: the release binary on Debian 12, run by an unprivileged user.
#
#   docker build -t pier .
#   docker run -p 8000:8000 -v "$PWD/plugins.d:/plugins:ro" -v pier-data:/data pier
#
# Plugins are read from /plugins (mount them read-only); compiled plugins (the AOT
# cache) and the sled store live in /data. pier stops on SIGTERM: it stops accepting,
# gives requests in flight server.shutdown-grace-ms (10 s) to finish, closes sessions
# and exits; give the container at least 15 s to stop.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p pier \
 && install -m 0755 target/release/pier /usr/local/bin/pier

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin pier \
 && mkdir -p /plugins /data \
 && chown pier:pier /data
COPY --from=build /usr/local/bin/pier /usr/local/bin/pier
ENV PIER_SERVER_LISTEN=0.0.0.0:8000 \
    PIER_PLUGINS_DIR=/plugins \
    PIER_DATA_DIR=/data \
    PIER_LOG_FORMAT=json
VOLUME ["/plugins", "/data"]
EXPOSE 8000
USER 10001:10001
STOPSIGNAL SIGTERM
# No curl in the image: bash opens the socket itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["pier"]
CMD ["serve"]
