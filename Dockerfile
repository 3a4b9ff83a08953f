# Build stage: compile the release binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin branchdb

# Run stage: the binary alone on a slim base.
FROM debian:bookworm-slim
COPY --from=build /src/target/release/branchdb /usr/local/bin/branchdb
VOLUME /data
EXPOSE 27017
ENTRYPOINT ["branchdb"]
CMD ["serve", "--bind", "0.0.0.0:27017", "--data-dir", "/data"]
