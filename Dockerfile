# firedrill in a container: for `firedrill schedule run-due` from a Kubernetes CronJob
# (docs/schedule.md) or any other scheduler. Not built in CI; keep it in step with
# Cargo.toml (rust-version) and what the commands need at run time:
# - TLS roots are compiled in (rustls with webpki roots via reqwest and the AWS SDK), and
#   the time-zone database is bundled (jiff), so the image needs neither ca-certificates
#   nor tzdata for firedrill itself;
# - `command` probes and faults run `sh -c`, so the image keeps a shell (Debian slim).
#
#   docker build -t firedrill .
#   docker run --rm -v "$PWD:/work" -w /work firedrill validate scenarios/calendar.yaml

FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
COPY schema ./schema
COPY README.md ./
# fuzz/ is a workspace member: cargo needs its manifest even when building only firedrill.
COPY fuzz/Cargo.toml ./fuzz/
COPY fuzz/fuzz_targets ./fuzz/fuzz_targets
RUN cargo build --release --locked --bin firedrill \
 && strip target/release/firedrill

FROM debian:bookworm-slim
# ca-certificates for `command` probes that call curl over HTTPS, should a scenario add
# curl to a derived image; firedrill itself does not need it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin firedrill \
 && mkdir -p /state /calendar && chown firedrill /state
COPY --from=build /src/target/release/firedrill /usr/local/bin/firedrill
USER 10001
WORKDIR /home/firedrill
ENV FIREDRILL_STATE_DIR=/state
ENTRYPOINT ["firedrill"]
CMD ["--help"]
