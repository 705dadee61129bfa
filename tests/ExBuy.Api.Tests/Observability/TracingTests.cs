using System.Diagnostics;
using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace ExBuy.Api.Tests.Observability;

/// <summary>
/// Tracing is registered when OTEL_EXPORTER_OTLP_ENDPOINT is set (here a closed loopback port: nothing is sent
/// anywhere); the tests add an in-memory exporter beside the OTLP one and read the spans the app produced.
/// </summary>
public interface ITracedApp
{
    IReadOnlyCollection<Activity> Spans { get; }
}

internal static class TracedApp
{
    public static IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
    };

    public static void AddInMemoryExporter(IWebHostBuilder builder, List<Activity> spans) =>
        builder.ConfigureTestServices(services =>
            services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));

    public static Activity[] Snapshot(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans];
        }
    }
}

public sealed class TracedSqliteApp : SqliteApp, ITracedApp
{
    private readonly List<Activity> _spans = [];

    public IReadOnlyCollection<Activity> Spans => TracedApp.Snapshot(_spans);

    protected override IDictionary<string, string?> VariantSettings() => TracedApp.Settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder) => TracedApp.AddInMemoryExporter(builder, _spans);
}

public sealed class TracedPostgresApp(PostgresCluster cluster) : PostgresApp(cluster), ITracedApp
{
    private readonly List<Activity> _spans = [];

    public IReadOnlyCollection<Activity> Spans => TracedApp.Snapshot(_spans);

    protected override IDictionary<string, string?> VariantSettings() => TracedApp.Settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder) => TracedApp.AddInMemoryExporter(builder, _spans);
}

public abstract class TracingTests(ExBuyApp app) : EngineTests(app)
{
    private IReadOnlyCollection<Activity> Spans => ((ITracedApp)App).Spans;

    [Fact]
    public async Task IncomingTraceparentBecomesTheServerSpansParentWithDatabaseSpansUnderIt()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [5, 4]);
        var traceId = ActivityTraceId.CreateRandom();
        var parentId = ActivitySpanId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/products/{product.Id}?optimize=false");
        request.Headers.Add("traceparent", $"00-{traceId}-{parentId}-01");
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        var queries = response.QueryCount();

        // The server span ends after the response is written: wait for it (bounded).
        Activity? server = null;
        for (var i = 0; i < 100 && server is null; i++)
        {
            server = Spans.FirstOrDefault(s => s.TraceId == traceId && s.Kind == ActivityKind.Server);
            if (server is null)
            {
                await Task.Delay(50, Ct);
            }
        }
        Assert.NotNull(server);
        Assert.Equal(parentId, server.ParentSpanId);
        Assert.Equal("/api/products/{id:long:min(1)}", server.GetTagItem("http.route"));

        var database = Spans.Where(s => s.TraceId == traceId && s.Kind == ActivityKind.Client).ToArray();
        Assert.Equal(queries, database.Length);
        Assert.All(database, span => Assert.Equal(server.SpanId, span.ParentSpanId));
    }

    [Fact]
    public async Task RequestsWithoutTraceparentStartTheirOwnTrace()
    {
        using var response = await Client.GetAsync("/api/health", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        Activity? server = null;
        for (var i = 0; i < 100 && server is null; i++)
        {
            server = Spans.FirstOrDefault(s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("http.route") == "/api/health");
            if (server is null)
            {
                await Task.Delay(50, Ct);
            }
        }
        Assert.NotNull(server);
        Assert.Equal(default, server.ParentSpanId);
    }
}

public sealed class TracingSqliteTests(TracedSqliteApp app) : TracingTests(app), IClassFixture<TracedSqliteApp>;

public sealed class TracingPostgresTests(TracedPostgresApp app) : TracingTests(app), IClassFixture<TracedPostgresApp>;
