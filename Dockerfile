# syntax=docker/dockerfile:1
# One image with the seven binaries and the demo seed; compose picks one per service with
# `command`. cargo-chef builds the dependencies in their own layer, so editing the code does
# not rebuild them. Both stages are Debian bookworm: a binary linked against a newer glibc
# than the runtime's would not start. Every base is pinned; e2e/tests/stack/image checks it.

FROM lukemathwalker/cargo-chef:0.1.77-rust-1.95.0-bookworm AS chef
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# GATEWAY_PGO=1 builds the gateway with profile-guided optimisation (scripts/pgo-build), which
# trains an instrumented build on a load first (a private Redis, wrk and llvm-profdata for
# that) and compiles it twice: a faster gateway for a build several times longer. By default
# the gateway is built with its own profile (fat LTO, one unit) and the services plainly.
ARG GATEWAY_PGO=0
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && if [ "$GATEWAY_PGO" = 1 ]; then \
      apt-get install -y --no-install-recommends redis-server wrk \
      && rustup component add llvm-tools; \
    fi \
 && rm -rf /var/lib/apt/lists/*
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --locked --release --recipe-path recipe.json \
 && cargo chef cook --locked --profile gateway --recipe-path recipe.json -p gateway
COPY . .
# The first build's --locked refuses a Cargo.lock out of date for the whole workspace, so
# scripts/pgo-build's builds after it resolve nothing anew either.
RUN cargo build --locked --release -p auth-service -p order-service -p restaurant-service \
       -p delivery-service -p tracking-service -p payment-service -p seed \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/order-service \
       target/release/restaurant-service target/release/delivery-service \
       target/release/tracking-service target/release/payment-service \
       target/release/seed /out/ \
 && if [ "$GATEWAY_PGO" = 1 ]; then \
      cp "$(./scripts/pgo-build)" /out/gateway; \
    else \
      cargo build --locked --profile gateway -p gateway && cp target/gateway/gateway /out/; \
    fi

# No curl here: each binary is its own health check (`gateway healthcheck`).
FROM debian:bookworm-20260918-slim AS runtime
# A named volume mounted on the provisioning folder starts with its owner, so that
# auth-service (running as app) can write the seed's token there, and the gateway its
# development certificate in the TLS folder.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home app \
 && mkdir -p /var/lib/food-delivery/provisioning /var/lib/food-delivery/tls \
 && chown app /var/lib/food-delivery/provisioning /var/lib/food-delivery/tls
COPY --from=builder /out/ /usr/local/bin/
USER app
ENV LOG_FORMAT=json RUST_LOG=info
EXPOSE 3000 3001 3002 3003 3004 3005 3006 3443
CMD ["gateway"]
