# Build stage: dependencies first, in their own cached layer, then the
# service; the release binary is stripped.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/api \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/scoring.rs && touch tests/api/main.rs \
    && cargo build --release --locked --bin chokepoint \
    && rm -rf src benches tests
COPY . .
# The placeholder sources are older than the real ones: rebuild the crate.
RUN touch src/main.rs src/lib.rs \
    && CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_DEBUG=false \
       cargo build --release --locked --bin chokepoint

# Runtime stage: the binary and what it needs at run time, as a normal user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home chokepoint
COPY --from=build /src/target/release/chokepoint /usr/local/bin/chokepoint
COPY --from=build /src/data/public /usr/local/share/chokepoint/public
USER chokepoint
WORKDIR /home/chokepoint
EXPOSE 8080
ENV CHOKEPOINT_HOST=0.0.0.0 CHOKEPOINT_PORT=8080 \
    CHOKEPOINT_PUBLIC_DATA=/usr/local/share/chokepoint/public
ENTRYPOINT ["chokepoint"]
CMD ["serve"]
