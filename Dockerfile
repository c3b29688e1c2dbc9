# A bit4bit verifier node in a container.
#
#   docker build -t bit4bit .
#   docker run --privileged --user 0 -v bit4bit-data:/data -p 4001:4001 -p 127.0.0.1:8080:8080 bit4bit
#   docker run -e BIT4BIT_BUILD=none -v bit4bit-data:/data -p 4001:4001 -p 127.0.0.1:8080:8080 bit4bit   # observer, no privileges
#
# The base is pinned by digest (never a bare tag). To move it, pull the new
# node:20-bookworm-slim, read its digest (`docker buildx imagetools inspect`), and
# change NODE_IMAGE in one commit.
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
FROM ${NODE_IMAGE}

# The build toolchain (buildah, skopeo, mmdebstrap, mkosi from bookworm-backports):
# the same script a host install uses, so both stay in step. `apt-get clean` in the same
# layer: the downloaded .debs and apt's caches must not stay in the image even on a base
# without Debian's docker-clean apt hook.
COPY scripts/install-system-packages /usr/local/sbin/bit4bit-install-system-packages
RUN bit4bit-install-system-packages && apt-get clean && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/bit4bit
# Dependencies exactly as locked; no install scripts run (classic-level ships prebuilds).
# npm's cache and logs (~70 MB in /root/.npm) go in the same layer they are made in.
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && rm -rf /root/.npm
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY node-config ./node-config
COPY scripts/container-entrypoint ./scripts/container-entrypoint
RUN npx tsc -p tsconfig.json \
 && rm -rf test bench dist/test dist/bench \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf /root/.npm

# An unprivileged user owns the state; builds need --privileged (namespaces), in which
# case run as root with `--user 0`. uid and gid are both fixed (10001): a host directory
# mounted on /data is prepared with `chown 10001:10001`, whatever groups the base has.
RUN groupadd --system --gid 10001 bit4bit \
 && useradd --system --uid 10001 --gid bit4bit --home-dir /data --shell /usr/sbin/nologin bit4bit \
 && mkdir -p /data && chown bit4bit:bit4bit /data
USER bit4bit
ENV BIT4BIT_HOME=/data NODE_ENV=production
VOLUME /data
EXPOSE 4001 8080
ENTRYPOINT ["/opt/bit4bit/scripts/container-entrypoint"]
