# Latchkey server image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p latchkey

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/latchkey latchkey \
    && mkdir -p /var/lib/latchkey && chown latchkey /var/lib/latchkey
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
USER latchkey
WORKDIR /var/lib/latchkey
ENV LATCHKEY_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["latchkey"]
CMD ["serve"]
