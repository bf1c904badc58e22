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
# The governance console's web app (docs/console.md): npm ci from the
# committed lockfile, then tsc and the Vite build into console/dist. No
# browser is downloaded (Playwright is a test dependency only).
RUN cd console \
 && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
 && npm run --silent build

FROM debian:bookworm-slim
# runtime-packages: begin (one per line; hack/check-image-libs.sh reads them)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libbrotli1 \
      libc6 \
      libcom-err2 \
      libcpprest2.10 \
      libcurl4 \
      libffi8 \
      libgcc-s1 \
      libgmp10 \
      libgnutls30 \
      libgssapi-krb5-2 \
      libhogweed6 \
      libidn2-0 \
      libk5crypto3 \
      libkeyutils1 \
      libkrb5-3 \
      libkrb5support0 \
      libldap-2.5-0 \
      libnettle8 \
      libnghttp2-14 \
      libp11-kit0 \
      libprometheus-cpp-core1.0 \
      libpsl5 \
      librtmp1 \
      libsasl2-2 \
      libsimdjson14 \
      libsodium23 \
      libssh2-1 \
      libssl3 \
      libstdc++6 \
      libtasn1-6 \
      libtcmalloc-minimal4 \
      libunistring2 \
      libyaml-cpp0.7 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
# runtime-packages: end
# The uid the chart runs the pods as (runAsUser 65532).
RUN groupadd --system --gid 65532 execgov \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin execgov
COPY --from=build /build/src/cmd/execgov /usr/local/bin/execgov
# `kubectl execgov ...`: kubectl runs plugins named kubectl-<name> on PATH.
RUN ln -s execgov /usr/local/bin/kubectl-execgov
# Beside the binary, where `execgov console` looks without --assets
# (/usr/local/bin/../share/execgov/console).
COPY --from=build /src/console/dist /usr/local/share/execgov/console
USER 65532:65532
# Webhook TLS port, the plain metrics/health port, the console's HTTPS port.
EXPOSE 8443 8080 8444
ENTRYPOINT ["/usr/local/bin/execgov"]
