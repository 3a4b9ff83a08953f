# The branchdb image: the release binary on Debian bookworm, run as a non-root user,
# with a health check. The binary is built first, outside the image, where the
# toolchain is (the README's Docker section and scripts/docker-smoke.sh do this):
#
#   cargo build --release --locked --bin branchdb
#   docker build -t branchdb .        # or: podman build -t branchdb .
FROM debian:bookworm-slim
RUN useradd --system --uid 999 --user-group --home-dir /data --no-create-home branchdb \
    && mkdir -p /data && chown branchdb:branchdb /data
COPY target/release/branchdb /usr/local/bin/branchdb
USER branchdb
VOLUME /data
EXPOSE 27017
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["branchdb", "ping"]
ENTRYPOINT ["branchdb"]
CMD ["serve", "--bind", "0.0.0.0:27017", "--data-dir", "/data"]
