# syntax=docker/dockerfile:1
# The service in a container: built in a Rust image, run in Debian slim as a user of
# its own, healthy once /readyz answers (the database answers).
#
#   docker build -t studio-bff --build-arg GIT_COMMIT=$(git rev-parse --short HEAD) .
#   docker run --rm -p 127.0.0.1:8000:8000 \
#     -e DATABASE_URL=postgres://user:password@host:5432/studio \
#     -e STUDIO_JWT_SECRET="$(openssl rand -base64 48)" studio-bff
#
# compose.yaml starts it with PostgreSQL. .dockerignore keeps .git out of the build,
# so the commit that `studio-bff --version` shows comes from the GIT_COMMIT argument.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ARG GIT_COMMIT=unknown
ENV GIT_COMMIT=${GIT_COMMIT}
# The registry and the target folder are cache mounts: a rebuild after a change in
# src/ compiles the service, not its dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin studio-bff \
    && cp target/release/studio-bff /usr/local/bin/studio-bff

FROM debian:bookworm-slim
# curl for the health check; ca-certificates for a database reached over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/studio-bff studio
COPY --from=build /usr/local/bin/studio-bff /usr/local/bin/studio-bff
USER studio
WORKDIR /var/lib/studio-bff
# Every interface of the container; logs as JSON lines on stderr. The health check
# below asks port 8000: change both together.
ENV STUDIO_ADDR=0.0.0.0:8000 \
    STUDIO_LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS --max-time 2 http://127.0.0.1:8000/readyz || exit 1
ENTRYPOINT ["studio-bff"]
