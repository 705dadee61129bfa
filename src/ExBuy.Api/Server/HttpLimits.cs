using ExBuy.Api.Data;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ExBuy.Api.Server;

/// <summary>
/// Kestrel's limits, set deliberately so slow, idle or abusive clients cannot pin the server, and SIGTERM's drain
/// time. Configurable where a load test may need another value (<c>HTTP_*</c>, <c>SHUTDOWN_TIMEOUT</c>); the rest are
/// fixed here and listed in the README.
/// </summary>
public sealed class HttpLimits
{
    /// <summary>Open connections at most (HTTP_MAX_CONNECTIONS); past it a new connection is accepted and closed at once.</summary>
    public long MaxConnections { get; init; } = 10_000;

    /// <summary>Time a client has to send a request's headers (HTTP_HEADERS_TIMEOUT); a slow-header client is cut off.</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time an idle keep-alive connection stays open (HTTP_KEEPALIVE_TIMEOUT).</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long SIGTERM waits for in-flight requests (SHUTDOWN_TIMEOUT): new connections are refused at once; requests
    /// still running at the end are aborted, which rolls their transactions back. Below Docker's 10 s stop grace.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// How long SIGTERM keeps serving with readiness at 503 before the listener closes (SHUTDOWN_DELAY; default 0), so a
    /// load balancer's health check moves traffic away first (<see cref="ShutdownDrain"/>). Part of SHUTDOWN_TIMEOUT.
    /// </summary>
    public TimeSpan ShutdownDelay { get; init; } = TimeSpan.Zero;

    /// <summary>A request body (or response) slower than this, after a grace period, is aborted.</summary>
    public const double MinDataRateBytesPerSecond = 240;

    public static readonly TimeSpan MinDataRateGrace = TimeSpan.FromSeconds(5);
    public const int MaxRequestLineBytes = 8 * 1024;
    public const int MaxRequestHeadersBytes = 32 * 1024;
    public const int MaxRequestHeaderCount = 100;

    public static HttpLimits FromConfiguration(IConfiguration c)
    {
        var limits = new HttpLimits();
        limits = new HttpLimits
        {
            MaxConnections = DatabaseOptions.ParseInt(c, "HTTP_MAX_CONNECTIONS", (int)limits.MaxConnections),
            HeadersTimeout = DatabaseOptions.ParseDuration(c, "HTTP_HEADERS_TIMEOUT", limits.HeadersTimeout),
            KeepAliveTimeout = DatabaseOptions.ParseDuration(c, "HTTP_KEEPALIVE_TIMEOUT", limits.KeepAliveTimeout),
            ShutdownTimeout = DatabaseOptions.ParseDuration(c, "SHUTDOWN_TIMEOUT", limits.ShutdownTimeout),
            ShutdownDelay = DatabaseOptions.ParseDuration(c, "SHUTDOWN_DELAY", limits.ShutdownDelay),
        };
        Check("HTTP_MAX_CONNECTIONS", limits.MaxConnections is >= 1 and <= 1_000_000, "1..1000000");
        Check("HTTP_HEADERS_TIMEOUT", limits.HeadersTimeout >= TimeSpan.FromMilliseconds(100) && limits.HeadersTimeout <= TimeSpan.FromMinutes(10), "100ms..10m");
        Check("HTTP_KEEPALIVE_TIMEOUT", limits.KeepAliveTimeout >= TimeSpan.FromMilliseconds(100) && limits.KeepAliveTimeout <= TimeSpan.FromHours(1), "100ms..1h");
        Check("SHUTDOWN_TIMEOUT", limits.ShutdownTimeout >= TimeSpan.Zero && limits.ShutdownTimeout <= TimeSpan.FromMinutes(10), "0..10m");
        if (limits.ShutdownDelay < TimeSpan.Zero || (limits.ShutdownDelay > TimeSpan.Zero && limits.ShutdownDelay >= limits.ShutdownTimeout))
        {
            throw new ConfigurationError($"SHUTDOWN_DELAY='{c["SHUTDOWN_DELAY"]}' must be 0 or less than SHUTDOWN_TIMEOUT ({limits.ShutdownTimeout.TotalSeconds:0.###} s), "
                + "which bounds the delay and the drain after it together: e.g. SHUTDOWN_DELAY=3s with SHUTDOWN_TIMEOUT=10s.");
        }
        return limits;

        void Check(string key, bool ok, string range)
        {
            if (!ok)
            {
                throw new ConfigurationError($"{key}='{c[key]}' is out of range: use {range}.");
            }
        }
    }

    public void Apply(KestrelServerLimits k)
    {
        k.MaxConcurrentConnections = MaxConnections;
        k.MaxConcurrentUpgradedConnections = MaxConnections;
        k.RequestHeadersTimeout = HeadersTimeout;
        k.KeepAliveTimeout = KeepAliveTimeout;
        k.MinRequestBodyDataRate = new MinDataRate(MinDataRateBytesPerSecond, MinDataRateGrace);
        k.MinResponseDataRate = new MinDataRate(MinDataRateBytesPerSecond, MinDataRateGrace);
        k.MaxRequestLineSize = MaxRequestLineBytes;
        k.MaxRequestHeadersTotalSize = MaxRequestHeadersBytes;
        k.MaxRequestHeaderCount = MaxRequestHeaderCount;
    }
}
