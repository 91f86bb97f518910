# The stand-in for python:3.11-slim-bookworm: Debian's python3 (3.11.2) and pip on the debootstrapped base,
# pip allowed system-wide and `python` on PATH as in the official image. ca/ holds the extra certificate
# authorities the host trusts (an intercepting proxy's), so pip and apt inside builds can reach the indexes.
FROM localhost/debian:bookworm
COPY ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8
CMD ["python3"]
