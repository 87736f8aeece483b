# The contivctl agent image: the agent (`contivctl agent`), the static contiv-cni, Debian's loopback
# and portmap, and `contivctl install-cni`, which the chart's init container runs to put them on the node.
#
#   docker build -t contivctl:0.1.0 .        (docs/install.md: building and checking the image)
#
# Three stages: contiv-cni is built by Go into one static executable (it runs on the host, where
# nothing of this image is); the agent is built into a wheel; the last stage holds only what runs.

ARG GO_IMAGE=golang:1.26-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${GO_IMAGE} AS cni
WORKDIR /src
COPY cni-plugin/ cni-plugin/
RUN bash cni-plugin/build.sh /out/contiv-cni

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contivctl/ contivctl/
RUN python3 -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# containernetworking-plugins: /usr/lib/cni/{loopback,portmap}, install-cni's default source;
# iproute2 and nftables: what an operator reaches for inside the agent's container
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        containernetworking-plugins=1.1.1+ds1-3+b5 \
        iproute2=6.1.0-3 \
        nftables=1.0.6-2+deb12u2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /wheels/ /wheels/
# the wheel's own pins (pyproject.toml) decide the dependencies' versions
RUN python3 -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=cni /out/contiv-cni /usr/local/bin/contiv-cni
ENTRYPOINT ["contivctl"]
CMD ["agent"]
