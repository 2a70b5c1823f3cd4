# syntax=docker/dockerfile:1
# Emu-OnCall: the server binary, the first-party plugins and the example config.
#   docker build -t emu-oncall .
#   docker run -e EMU_ONCALL_APP__AUTH_TOKEN="$(openssl rand -hex 24)" \
#     -e EMU_ONCALL_APP__ADMIN_TOKEN="$(openssl rand -hex 24)" \
#     -e EMU_ONCALL_DB__URL=postgres://… -p 8880:8880 emu-oncall
# The image carries no token: `serve` refuses to start until both are set (24+ characters).

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
# The symbol table is a fifth of the binary (12 MB) and nothing in the image reads it.
RUN scripts/build-plugins \
 && CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release --locked -p emu-oncall

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/emu-oncall --create-home emu
COPY --from=build /src/target/release/emu-oncall /usr/local/bin/emu-oncall
COPY --from=build /src/target/plugins/ /usr/lib/emu-oncall/plugins/
COPY examples/emu-oncall.toml /etc/emu-oncall/emu-oncall.toml
ENV EMU_ONCALL_CONFIG=/etc/emu-oncall/emu-oncall.toml \
    EMU_ONCALL_APP__PORT=:8880 \
    EMU_ONCALL_APP__PLUGINS_DIR=/usr/lib/emu-oncall/plugins \
    EMU_ONCALL_APP__PLUGIN_CACHE_DIR=/var/lib/emu-oncall/plugin-cache
USER emu
EXPOSE 8880
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD curl -fsS http://127.0.0.1:8880/readyz || exit 1
ENTRYPOINT ["emu-oncall"]
CMD ["serve"]
