using System.Diagnostics;
using System.Globalization;
using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Observability;

/// <summary>
/// A real ExBuy process per test (meters are process-wide: in-process hosts would see each other's requests), and
/// <c>GET /metrics</c> read the way Prometheus reads it.
/// </summary>
public abstract class ProcessTests(string engine, PostgresCluster cluster) : IAsyncLifetime
{
    private ExBuyServer? _server;

    protected CancellationToken Ct => TestContext.Current.CancellationToken;

    protected ExBuyServer Server => _server!;

    protected HttpClient Client => Server.Client;

    protected virtual IDictionary<string, string> Environment => new Dictionary<string, string>();

    public async ValueTask InitializeAsync()
    {
        if (engine == "postgres")
        {
            cluster.EnsureAvailable();
        }
        _server = await ExBuyServer.StartAsync(engine, cluster, Environment, Ct);
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected async Task<string> ScrapeAsync()
    {
        using var response = await Client.GetAsync("/metrics", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        return text;
    }

    /// <summary>Series (name + labels as exposed) → value, with the <c>otel_scope_*</c> labels left in place.</summary>
    public static Dictionary<string, double> Samples(string exposition)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return samples;
    }

    /// <summary>Σ of the samples of <paramref name="metric"/> whose labels include every <paramref name="labels"/> pair.</summary>
    public static double Sum(string exposition, string metric, params string[] labels) => Samples(exposition)
        .Where(s => s.Key.StartsWith(metric + "{", StringComparison.Ordinal) || s.Key == metric)
        .Where(s => labels.All(l => s.Key.Contains(l, StringComparison.Ordinal)))
        .Sum(s => s.Value);

    protected async Task GetAsync(string url, HttpStatusCode expected)
    {
        using var response = await Client.GetAsync(url, Ct);
        Assert.True(response.StatusCode == expected, $"GET {url}: {(int)response.StatusCode}");
    }

    protected async Task<HttpStatusCode> PostAsync(string url, string json)
    {
        using var response = await Client.PostJsonAsync(url, json);
        return response.StatusCode;
    }

    /// <summary>Traffic over every kind of instrument: reads on both paths, a write, a stock conflict, an upload, a 404.</summary>
    protected async Task MixedTrafficAsync()
    {
        await GetAsync("/api/health", HttpStatusCode.OK);
        await GetAsync("/api/products?optimize=false", HttpStatusCode.OK);
        await GetAsync("/api/products?optimize=true", HttpStatusCode.OK);
        await GetAsync("/api/products/1?optimize=false", HttpStatusCode.OK);
        await GetAsync("/api/products/1?optimize=true", HttpStatusCode.OK);
        await GetAsync("/api/products/999999", HttpStatusCode.NotFound);
        await GetAsync("/api/reviews?optimize=true", HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.Created, await PostAsync("/api/orders", """{"user_id": 1, "items": [{"product_id": 2, "quantity": 1}]}"""));
        Assert.Equal(HttpStatusCode.Conflict,
            await PostAsync("/api/inventory/reserve?lock_type=versioned", """{"product_id": 3, "quantity": 1000}"""));
        using var form = new MultipartFormDataContent { { new ByteArrayContent(new byte[1234]), "file", "a.bin" } };
        using var upload = await Client.PostAsync("/api/uploads", form, Ct);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
    }
}

public abstract class MetricsTests(string engine, PostgresCluster cluster) : ProcessTests(engine, cluster)
{
    [Fact]
    public async Task ExpositionPassesPromtoolCheckMetrics()
    {
        var promtool = Tools.Require("promtool", "apt-get install -y prometheus");
        await MixedTrafficAsync();
        var exposition = await ScrapeAsync();
        var (exit, output) = await Tools.RunAsync(promtool, ["check", "metrics"], exposition, Ct);
        // promtool exits 1 on a parse error and 3 on lint findings; lint findings are checked against the allowlist.
        Assert.True(exit is 0 or 3, $"promtool could not parse /metrics (exit {exit}): {output}");
        var findings = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !PromtoolAllowlist.Any(allowed => allowed.IsMatch(line)))
            .ToArray();
        Assert.True(findings.Length == 0, "promtool lint findings not on the allowlist:\n" + string.Join('\n', findings));
    }

    /// <summary>
    /// Lint findings that built-in .NET instrument names trip, exactly: the runtime's gauges named <c>*.count</c> by
    /// the OpenTelemetry semantic conventions (Npgsql's pool gauge <c>db.client.connection.count</c> too), and EF Core's instruments, which carry no description. They are kept as
    /// the libraries name them, since dashboards query those names; anything else fails the test.
    /// </summary>
    private static readonly System.Text.RegularExpressions.Regex[] PromtoolAllowlist =
    [
        new("""^(dotnet_(assembly|process_cpu|timer)|db_client_connection)_count non-histogram and non-summary metrics should not have "_count" suffix$"""),
        new("""^microsoft_entityframeworkcore_[a-z_]+ no help text$"""),
    ];

    [Fact]
    public async Task CountersMoveWithRequests()
    {
        const string detail = "http_route=\"/api/products/{id:long:min(1)}\"";
        var before = await ScrapeAsync();
        for (var i = 1; i <= 5; i++)
        {
            await GetAsync($"/api/products/{i}?optimize=true", HttpStatusCode.OK);
        }
        Assert.Equal(HttpStatusCode.Created, await PostAsync("/api/orders", """{"user_id": 7, "items": [{"product_id": 4, "quantity": 2}, {"product_id": 5, "quantity": 1}]}"""));
        Assert.Equal(HttpStatusCode.Conflict,
            await PostAsync("/api/inventory/reserve?lock_type=pessimistic", """{"product_id": 6, "quantity": 1000}"""));
        var after = await ScrapeAsync();

        double Delta(string metric, params string[] labels) => Sum(after, metric, labels) - Sum(before, metric, labels);
        Assert.Equal(5, Delta("http_server_request_duration_seconds_count", detail, "http_response_status_code=\"200\""));
        Assert.Equal(5, Delta("exbuy_request_queries_count", detail, "optimize=\"true\""));
        Assert.Equal(5, Delta("exbuy_request_queries_sum", detail, "optimize=\"true\""));
        Assert.Equal(5, Delta("exbuy_request_db_duration_seconds_count", detail));
        Assert.Equal(1, Delta("exbuy_orders_placed_total", "endpoint=\"/api/orders/\""));
        Assert.Equal(3, Delta("exbuy_order_units_total", "endpoint=\"/api/orders/\""));
        Assert.Equal(1, Delta("exbuy_stock_conflicts_total", "endpoint=\"/api/inventory/reserve\"", "lock_type=\"pessimistic\""));
        Assert.Equal(1, Delta("http_server_request_duration_seconds_count", "http_route=\"/api/inventory/reserve\"",
            "http_response_status_code=\"409\""));
    }

    [Fact]
    public async Task NaiveListRunsMoreSqlPerRequestThanOptimized()
    {
        for (var page = 1; page <= 3; page++)
        {
            await GetAsync($"/api/products?page={page}&optimize=false", HttpStatusCode.OK);
            await GetAsync($"/api/products?page={page}&optimize=true", HttpStatusCode.OK);
        }
        var exposition = await ScrapeAsync();
        const string list = "http_route=\"/api/products/\"";
        double PerRequest(string flag) =>
            Sum(exposition, "exbuy_request_queries_sum", list, $"optimize=\"{flag}\"")
            / Sum(exposition, "exbuy_request_queries_count", list, $"optimize=\"{flag}\"");
        var naive = PerRequest("false");
        var optimized = PerRequest("true");
        Assert.True(optimized <= 3, $"optimized list: {optimized} queries per request");
        Assert.True(naive > 10 * optimized, $"naive list: {naive} queries per request, optimized {optimized}");
    }

    [Fact]
    public async Task ThousandDistinctProductIdsAddNoSeries()
    {
        // Every label combination this traffic can produce, once: found and missing ids, both paths.
        foreach (var optimize in new[] { "true", "false" })
        {
            await GetAsync($"/api/products/1?optimize={optimize}", HttpStatusCode.OK);
            await GetAsync($"/api/products/999999?optimize={optimize}", HttpStatusCode.NotFound);
        }
        var before = ApplicationSeries(await ScrapeAsync());
        for (var id = 1; id <= 1000; id++)
        {
            var optimize = id % 2 == 0 ? "true" : "false";
            await GetAsync($"/api/products/{id}?optimize={optimize}", HttpStatusCode.OK);
        }
        for (var id = 1_000_001; id <= 1_000_050; id++)
        {
            await GetAsync($"/api/products/{id}?optimize=true", HttpStatusCode.NotFound);
        }
        var after = ApplicationSeries(await ScrapeAsync());
        Assert.True(before.ToHashSet().SetEquals(after), "series changed: added "
            + string.Join(", ", after.Except(before)) + "; removed " + string.Join(", ", before.Except(after)));
        Assert.DoesNotContain(after, s => s.Contains("/api/products/1", StringComparison.Ordinal)
            || s.Contains("/api/products/5", StringComparison.Ordinal));
    }

    /// <summary>
    /// The request- and SQL-shaped series. Left out: the runtime's own (a first gen2 collection may add one any time)
    /// and the pool gauges (<c>db_client_connection_*</c>: one set per pool, e.g. the one EF opens once to create the
    /// database at start-up), and series of that one-off pool, which Npgsql drops when EF disposes it.
    /// </summary>
    private static string[] ApplicationSeries(string exposition) =>
        [.. Samples(exposition).Keys
            .Where(k => k.StartsWith("http_", StringComparison.Ordinal)
                || k.StartsWith("exbuy_", StringComparison.Ordinal) || k.StartsWith("db_client_operation", StringComparison.Ordinal))
            .Where(k => !k.Contains("db_client_connection_pool_name=", StringComparison.Ordinal)
                || k.Contains("db_client_connection_pool_name=\"exbuy\"", StringComparison.Ordinal))];
}

public sealed class MetricsSqliteTests(PostgresCluster cluster) : MetricsTests("sqlite", cluster);

public sealed class MetricsPostgresTests(PostgresCluster cluster) : MetricsTests("postgres", cluster);

/// <summary>METRICS=off: the baseline of bench/observability-cost.sh — no /metrics, no Server-Timing; X-Query-Count stays (contract).</summary>
public abstract class MetricsOffTests(string engine, PostgresCluster cluster) : ProcessTests(engine, cluster)
{
    protected override IDictionary<string, string> Environment => new Dictionary<string, string> { ["METRICS"] = "off" };

    [Fact]
    public async Task MetricsOffRemovesTheEndpointAndServerTimingButKeepsTheQueryCount()
    {
        using var metrics = await Client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        using var response = await Client.GetAsync("/api/products/1?optimize=true", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, response.QueryCount());
        Assert.False(response.Headers.Contains("Server-Timing"));
    }
}

public sealed class MetricsOffSqliteTests(PostgresCluster cluster) : MetricsOffTests("sqlite", cluster);

public sealed class MetricsOffPostgresTests(PostgresCluster cluster) : MetricsOffTests("postgres", cluster);

/// <summary>Real tools the tests drive: found on PATH, else skipped with the install command (a failure under CI=true).</summary>
public static class Tools
{
    public static string Require(string name, string install)
    {
        var path = Find(name);
        if (path is not null)
        {
            return path;
        }
        var reason = $"{name} not found on PATH: {install}";
        if (PostgresCluster.InCi)
        {
            throw new InvalidOperationException("CI=true requires every test to run: " + reason);
        }
        Assert.Skip(reason);
        return "";
    }

    public static string? Find(string name) => (System.Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// Runs a tool to completion (bounded), feeding <paramref name="stdin"/>; returns the exit code and stdout+stderr.
    /// <paramref name="configure"/> may set the working directory or the environment before it starts.
    /// </summary>
    public static async Task<(int Exit, string Output)> RunAsync(string file, IEnumerable<string> arguments, string? stdin, CancellationToken ct,
        Action<ProcessStartInfo>? configure = null)
    {
        var (exit, stdout, stderr) = await RunSeparatelyAsync(file, arguments, stdin, ct, configure);
        return (exit, stdout + stderr);
    }

    /// <summary>As <see cref="RunAsync"/>, with stdout and stderr apart (for a tool whose stdout is data).</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunSeparatelyAsync(string file, IEnumerable<string> arguments, string? stdin,
        CancellationToken ct, Action<ProcessStartInfo>? configure = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }
        configure?.Invoke(psi);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
