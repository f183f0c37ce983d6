# Build stage: compile the release binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin chokepoint

# Runtime stage: the binary and what it needs at run time, as a normal user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home chokepoint
COPY --from=build /src/target/release/chokepoint /usr/local/bin/chokepoint
USER chokepoint
WORKDIR /home/chokepoint
EXPOSE 8080
ENV CHOKEPOINT_HOST=0.0.0.0 CHOKEPOINT_PORT=8080
ENTRYPOINT ["chokepoint"]
CMD ["serve"]
