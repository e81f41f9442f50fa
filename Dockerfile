# callrec: one binary (Control Panel + recording engine). Build with cgo (SQLite).
# docker build -t callrec . && docker run -p 8080:8080 -p 5060:5060/udp -p 5060:5060/tcp \
#   -p 20000-20999:20000-20999/udp -e CALLREC_RTP_PORTS=20000-20999 \
#   -e CALLREC_PUBLIC_IP=<the host's address> -e CALLREC_TRUNK=<sbc:5060> \
#   -e CALLREC_SIP_TRUSTED=<sbc address>/32 -v callrec-data:/data callrec
# CALLREC_PUBLIC_IP is required here: SIP listens on 0.0.0.0, and SDP must name an address the
# peers can reach. So is CALLREC_SIP_TRUSTED (the proxy's or carrier's CIDR): a SIP port other
# machines can reach refuses to start without it (README, Security).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces the SIP library with the patched copy in third_party (see its PATCHES.md).
COPY third_party ./third_party
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/callrec ./cmd/callrec

FROM debian:bookworm-slim
# espeak-ng renders edited announcement texts to speech; ca-certificates for outgoing TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin callrec \
 && mkdir -p /data && chown callrec:callrec /data
COPY --from=build /out/callrec /usr/local/bin/callrec
USER callrec
WORKDIR /data
VOLUME ["/data"]
ENV CALLREC_DATA=/data \
    CALLREC_HTTP=0.0.0.0:8080 \
    CALLREC_SIP=0.0.0.0:5060 \
    CALLREC_RTP_PORTS=20000-29999
# HTTP, SIP (UDP and TCP), RTP range; FTPS/SFTP only when CALLREC_FTP/CALLREC_SFTP are set.
EXPOSE 8080 5060/udp 5060/tcp 20000-29999/udp
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/callrec", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/callrec"]
CMD ["serve"]
