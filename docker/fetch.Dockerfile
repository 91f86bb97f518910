# The fetch-predictor init container: git and docker/kanri-fetch-predictor, on Debian's slim base (no Python).
# It clones the application's predictor repository into /srv/fetched-predictor when GIT_URL is set; the pods
# kanri renders run it as istio-proxy's uid 1337 with the pod's group 10001, so any uid works.
#
#   docker build -f docker/fetch.Dockerfile -t REGISTRY/kanri-fetch:VERSION .
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 kanri \
    && useradd --uid 10001 --gid kanri --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kanri
COPY docker/kanri-fetch-predictor /usr/local/bin/kanri-fetch-predictor
USER 10001:10001
ENTRYPOINT ["kanri-fetch-predictor"]
CMD ["/srv/fetched-predictor"]
