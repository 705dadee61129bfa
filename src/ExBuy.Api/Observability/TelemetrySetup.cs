using ExBuy.Api.Data;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ExBuy.Api.Observability;

/// <summary>
/// Metrics (OpenTelemetry SDK → Prometheus text at <c>/metrics</c>) and, only when an OTLP endpoint is configured,
/// tracing. Meters are listed explicitly: each one listened to costs on the path where it records.
/// </summary>
public static class TelemetrySetup
{
    /// <summary>
    /// The meters exported. Left out on purpose: <c>Microsoft.AspNetCore.Routing</c> (a measurement per route match),
    /// <c>System.Net.Http</c> (the app makes no outgoing calls), <c>Microsoft.AspNetCore.MemoryPool</c> (per buffer).
    /// </summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Diagnostics",
        "System.Runtime",
        "Npgsql",
        "Microsoft.EntityFrameworkCore",
        ExBuyMetrics.MeterName,
    ];

    public const string MetricsPath = "/metrics";

    public static WebApplicationBuilder AddExBuyObservability(this WebApplicationBuilder builder)
    {
        var options = ObservabilityOptions.FromConfiguration(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.AddExBuyLogging(options);
        if (!options.Metrics && !options.Tracing)
        {
            return builder;
        }

        var version = typeof(TelemetrySetup).Assembly.GetName().Version?.ToString(3);
        var otel = builder.Services.AddOpenTelemetry().ConfigureResource(r =>
            r.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "exbuy", serviceVersion: version));
        if (options.Metrics)
        {
            otel.WithMetrics(m => m
                .AddMeter(Meters)
                .AddView("http.server.request.duration", new ExplicitBucketHistogramConfiguration { Boundaries = ExBuyMetrics.LatencyBuckets })
                .AddView("db.client.operation.duration", new ExplicitBucketHistogramConfiguration { Boundaries = ExBuyMetrics.LatencyBuckets })
                // No response cache: a scrape right after a request sees it (the exporter caches 300 ms by default).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
            // After OpenTelemetry's own hosted service (registered above), which builds the meter provider.
            builder.Services.AddHostedService<ZeroSeries>();
        }
        if (options.Tracing)
        {
            var postgres = DatabaseOptions.FromConfiguration(builder.Configuration).IsPostgres;
            otel.WithTracing(t =>
            {
                // Server spans honour an incoming W3C traceparent (ASP.NET Core's default propagator).
                t.AddAspNetCoreInstrumentation(o => o.Filter = context => context.Request.Path != MetricsPath);
                // Database spans: Npgsql's own ActivitySource on PostgreSQL; EF's diagnostics on SQLite, whose provider
                // has none (on PostgreSQL both would record every command twice).
                if (postgres)
                {
                    t.AddSource("Npgsql");
                }
                else
                {
                    t.AddEntityFrameworkCoreInstrumentation();
                }
                // Endpoint, protocol and headers from the standard OTEL_EXPORTER_OTLP_* variables.
                t.AddOtlpExporter();
            });
        }
        return builder;
    }

    /// <summary><c>GET /metrics</c> when METRICS is on; its own scrapes are left out of the HTTP metrics.</summary>
    public static WebApplication MapExBuyMetrics(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ObservabilityOptions>().Metrics)
        {
            app.MapPrometheusScrapingEndpoint(MetricsPath).DisableHttpMetrics();
        }
        return app;
    }
}

/// <summary>Starts after the meter provider exists, so the zero series reach it (<see cref="ExBuyMetrics.PublishZeroSeries"/>).</summary>
internal sealed class ZeroSeries : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ExBuyMetrics.PublishZeroSeries();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
