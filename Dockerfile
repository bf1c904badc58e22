# syntax=docker/dockerfile:1
# execgov image: one binary, `execgov`, run as a non-root user.
#
#   docker build -t execgov:dev .
#   docker run --rm execgov:dev --help
#
# The runtime stage installs exactly the Debian packages that hold the shared
# libraries the binary links; hack/check-image-libs.sh compares that list with
# `ldd` of a build (a test runs it), so the image cannot miss a library.

# Build on the same Debian release, with the same packages, as development and
# CI: hack/install-deps.sh is the one list.
FROM debian:bookworm AS build
COPY hack/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DEXECGOV_BUILD_TESTS=OFF -DEXECGOV_BUILD_BENCH=OFF -DEXECGOV_E2E=OFF \
 && cmake --build /build --target execgov \
 && strip /build/src/cmd/execgov

FROM debian:bookworm-slim
# runtime-packages: begin (one per line; hack/check-image-libs.sh reads them)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libbrotli1 \
      libc6 \
      libcpprest2.10 \
      libgcc-s1 \
      libprometheus-cpp-core1.0 \
      libsimdjson14 \
      libsodium23 \
      libssl3 \
      libstdc++6 \
      libtcmalloc-minimal4 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
# runtime-packages: end
# The uid the chart runs the pods as (runAsUser 65532).
RUN groupadd --system --gid 65532 execgov \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin execgov
COPY --from=build /build/src/cmd/execgov /usr/local/bin/execgov
USER 65532:65532
# Webhook TLS port and the plain metrics/health port.
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/execgov"]
