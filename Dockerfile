# syntax=docker/dockerfile:1
# One image with the seven binaries; compose picks one per service with `command`.
# cargo-chef builds the dependencies in their own layer, so editing the code does not
# rebuild them.

FROM lukemathwalker/cargo-chef:latest-rust-1 AS chef
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
RUN cargo chef cook --release --recipe-path recipe.json \
 && cargo chef cook --profile gateway --recipe-path recipe.json -p gateway
COPY . .
RUN cargo build --release -p auth-service -p order-service -p restaurant-service \
       -p delivery-service -p tracking-service -p payment-service \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/order-service \
       target/release/restaurant-service target/release/delivery-service \
       target/release/tracking-service target/release/payment-service /out/ \
 && if [ "$GATEWAY_PGO" = 1 ]; then \
      cp "$(./scripts/pgo-build)" /out/gateway; \
    else \
      cargo build --profile gateway -p gateway && cp target/gateway/gateway /out/; \
    fi

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home app
COPY --from=builder /out/ /usr/local/bin/
USER app
ENV LOG_FORMAT=json RUST_LOG=info
EXPOSE 3000 3001 3002 3003 3004 3005 3006
CMD ["gateway"]
