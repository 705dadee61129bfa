# ExBuy.NET container images. Two targets from one build stage:
#   docker build -t exbuy .                              the API (the default: the last stage)
#   docker build --target load -t exbuy-load .           the load runner (exbuy-load) with load/ beside it
#   docker build --build-arg PUBLISH_PROFILE=Jit -t exbuy:jit .   the API without ReadyToRun (start-up baseline)
# Pass the commit so /api/info and the image labels report it:
#   docker build --build-arg EXBUY_COMMIT="$(git rev-parse --short HEAD)" -t exbuy .
# docker-compose.yml builds both (README, Docker).

# ---------------------------------------------------------------------------------------------------------------------
# Build: restore in its own layer (re-run only when a project or props file changes), then publish.
# global.json pins SDK 10.0.100 with rollForward latestFeature: any 10.0 SDK (this image's) satisfies it.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# BuildKit sets TARGETARCH (amd64, arm64); the classic builder does not, then the build host's architecture counts.
ARG TARGETARCH
WORKDIR /src
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The ReadyToRun publish is architecture-specific: its runtime identifier follows the target platform.
RUN case "${TARGETARCH:-$(uname -m)}" in \
      amd64|x86_64) echo linux-x64 ;; \
      arm64|aarch64) echo linux-arm64 ;; \
      *) echo "unsupported architecture ${TARGETARCH:-$(uname -m)}" >&2; exit 1 ;; \
    esac > /tmp/rid

COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ExBuy.Api/ExBuy.Api.csproj src/ExBuy.Api/
COPY src/ExBuy.Load/ExBuy.Load.csproj src/ExBuy.Load/
# The API for the ReadyToRun publish (runtime identifier + crossgen2 pack), the runner portable.
RUN dotnet restore src/ExBuy.Api/ExBuy.Api.csproj -r "$(cat /tmp/rid)" -p:PublishReadyToRun=true \
    && dotnet restore src/ExBuy.Load/ExBuy.Load.csproj

COPY src/ src/
# The API with a publish profile of src/ExBuy.Api/Properties/PublishProfiles/: ReadyToRun (default: precompiled,
# framework-dependent; README, Server variants: serving 35 % sooner) or Jit (the same without precompilation, the
# start-up baseline). -o replaces the profile's publish/r2r/ or publish/jit/.
ARG PUBLISH_PROFILE=ReadyToRun
RUN dotnet publish src/ExBuy.Api/ExBuy.Api.csproj --no-restore \
      -p:PublishProfile="$PUBLISH_PROFILE" -r "$(cat /tmp/rid)" -o /out/api \
    && dotnet publish src/ExBuy.Load/ExBuy.Load.csproj --no-restore -c Release -o /out/load

# ---------------------------------------------------------------------------------------------------------------------
# The load runner: HTTP only, so the plain .NET runtime is enough.
#   docker run --rm exbuy-load run --scenario mixed --base-url http://host.docker.internal:8000 --duration 60s
FROM mcr.microsoft.com/dotnet/runtime:10.0 AS load
ARG EXBUY_COMMIT=unknown
LABEL org.opencontainers.image.title="exbuy-load" \
      org.opencontainers.image.description="exbuy-load: load/scenarios.json against an ExBuy contract server" \
      org.opencontainers.image.revision="${EXBUY_COMMIT}" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/runtime:10.0"
WORKDIR /app
COPY --from=build /out/load ./
# scenarios.json is found upwards from the working directory; fault timelines are passed as load/faults/<name>.json.
COPY load/ ./load/
# Results go to /app/results (a volume or bind mount; compose mounts ./results).
RUN mkdir -p /app/results && chown "$APP_UID:$APP_UID" /app/results
USER $APP_UID
ENTRYPOINT ["dotnet", "exbuy-load.dll"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------------------------------
# The API (the default target).
#   docker run --rm -p 127.0.0.1:8000:8000 exbuy                   SQLite in /app/data, seeded with the small preset
#   docker run --rm -p 127.0.0.1:8000:8000 -e DB_ENGINE=postgres -e DB_HOST=... -e DB_PASSWORD=... exbuy
# Every setting is an environment variable (.env.example); GC_MODE (or DOTNET_gcServer) chooses the GC at run time.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS api
ARG EXBUY_COMMIT=unknown
LABEL org.opencontainers.image.title="exbuy" \
      org.opencontainers.image.description="ExBuy.NET: a miniature commerce API built to be load-tested" \
      org.opencontainers.image.revision="${EXBUY_COMMIT}" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/aspnet:10.0"
WORKDIR /app
COPY --from=build /out/api ./
# Writable state lives under /app/data only, owned by the image's non-root `app` user; the app itself stays root-owned.
RUN mkdir -p /app/data/uploads && chown -R "$APP_UID:$APP_UID" /app/data

# Every interface on 8000 (the healthcheck command turns the wildcard into 127.0.0.1). ASPNETCORE_HTTP_PORTS, which
# the base image sets to 8080, is cleared so the one listen URL is this one. SQLite file and uploads under /app/data.
ENV ASPNETCORE_URLS=http://+:8000 \
    ASPNETCORE_HTTP_PORTS= \
    DB_PATH=/app/data/exbuy.db \
    UPLOAD_DIR=/app/data/uploads \
    EXBUY_COMMIT=${EXBUY_COMMIT}
EXPOSE 8000
USER $APP_UID

# `healthcheck` GETs /api/health/ready once (5 s bound): 200 → healthy. The start period covers migrations and the
# SQLite start-up seed.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dotnet", "ExBuy.Api.dll", "healthcheck"]
ENTRYPOINT ["dotnet", "ExBuy.Api.dll"]
