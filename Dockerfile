# The upkeep binaries in a small image for scheduled jobs (see examples/schedules/).
# Build: docker build -t upkeep .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p maintain -p move-branches -p deploy-token

FROM debian:bookworm-slim
# git for pushes (upkeep shells out to git for compare-and-swap pushes), make for the
# projects' targets, ca-certificates for HTTPS, openssh-client for SSH remotes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git make ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 upkeep
COPY --from=build /src/target/release/maintain /src/target/release/move-branches /src/target/release/deploy-token /usr/local/bin/
USER upkeep
WORKDIR /home/upkeep
ENTRYPOINT []
CMD ["maintain", "--help"]
