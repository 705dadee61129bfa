using System.Diagnostics;
using System.Net;
using ExBuy.Api.Data;
using ExBuy.Api.Faults;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExBuy.Api.Tests.Faults;

/// <summary>Fixture variants: the environment's rule, FAULTS=off, and a fixed FAULT_SEED (fresh apps per test).</summary>
internal static class FaultApps
{
    public static readonly IDictionary<string, string?> EnvRule = new Dictionary<string, string?>
    {
        ["FAULT_ERROR"] = "502",
        ["FAULT_ROUTES"] = "/api/stats/top-products, /api/reviews*",
    };

    public static readonly IDictionary<string, string?> Off = new Dictionary<string, string?> { ["FAULTS"] = "off" };

    public static IDictionary<string, string?> Seeded(int seed) =>
        new Dictionary<string, string?> { ["FAULT_SEED"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}

public class VariantSqliteApp(IDictionary<string, string?> variant) : SqliteApp
{
    protected override IDictionary<string, string?> VariantSettings() => variant;
}

public class VariantPostgresApp(PostgresCluster cluster, IDictionary<string, string?> variant) : PostgresApp(cluster)
{
    protected override IDictionary<string, string?> VariantSettings() => variant;
}

public sealed class FaultRuleSqliteApp() : VariantSqliteApp(FaultApps.EnvRule);

public sealed class FaultRulePostgresApp(PostgresCluster cluster) : VariantPostgresApp(cluster, FaultApps.EnvRule);

public sealed class FaultsOffSqliteApp() : VariantSqliteApp(FaultApps.Off);

public sealed class FaultsOffPostgresApp(PostgresCluster cluster) : VariantPostgresApp(cluster, FaultApps.Off);

public abstract class FaultTests(ExBuyApp app) : EngineTests(app)
{
    private static string? FaultHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Fault", out var values) ? values.Single() : null;

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, string? json = null,
        params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = Http.Json(json);
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }
        return await client.SendAsync(request, Ct);
    }

    /// <summary>A fresh app of this engine with a fixed FAULT_SEED (its own generator, no other test's draws).</summary>
    private ExBuyApp SeededApp(int seed) => App is PostgresApp pg
        ? new VariantPostgresApp(pg.Cluster, FaultApps.Seeded(seed))
        : new VariantSqliteApp(FaultApps.Seeded(seed));

    [Fact]
    public async Task DelayHeaderDelaysTheRequestAndSaysSo()
    {
        var product = await App.AddProductAsync();
        var watch = Stopwatch.StartNew();
        using var response = await SendAsync(Client, HttpMethod.Get, $"/api/products/{product.Id}?optimize=true", null, ("X-Fault-Delay", "250ms"));
        watch.Stop();
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(240), $"took {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal("delay=250ms", FaultHeader(response));
        Assert.Equal(1, response.QueryCount());
    }

    [Fact]
    public async Task DbDelayHeaderIsChargedButNotCountedAsTheHandlersSql()
    {
        var product = await App.AddProductAsync();
        var watch = Stopwatch.StartNew();
        using var response = await SendAsync(Client, HttpMethod.Get, $"/api/products/{product.Id}?optimize=true", null, ("X-Fault-DB-Delay", "0.3s"));
        watch.Stop();
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(290), $"took {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal("db_delay=300ms", FaultHeader(response));
        Assert.Equal(1, response.QueryCount());
    }

    [Fact]
    public async Task ErrorHeaderAnswersWithoutRunningTheHandler()
    {
        var product = await App.AddProductAsync(stock: 10);
        var user = Arrange.NewUserId();
        using var response = await SendAsync(Client, HttpMethod.Post, "/api/orders", Arrange.OrderJson(user, (product.Id, 2)),
            ("X-Fault-Error", "503"), ("X-Fault-Delay", "50"));
        var body = await response.ExpectProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Injected fault", body.GetProperty("title").GetString());
        Assert.Contains("X-Fault-Error", body.GetProperty("detail").GetString());
        Assert.Equal("delay=50ms, error=503", FaultHeader(response));
        Assert.Equal(0, response.QueryCount());
        Assert.Equal(0, await App.OrderCountAsync(user));
        Assert.Equal(10, await App.StockAsync(product.Id));
    }

    [Theory]
    [InlineData("X-Fault-Delay", "soon")]
    [InlineData("X-Fault-Delay", "-5ms")]
    [InlineData("X-Fault-Delay", "31s")]
    [InlineData("X-Fault-DB-Delay", "abc")]
    [InlineData("X-Fault-DB-Delay", "40000")]
    [InlineData("X-Fault-Error", "200")]
    [InlineData("X-Fault-Error", "600")]
    [InlineData("X-Fault-Error", "oops")]
    public async Task BadHeaderIs400NamingIt(string header, string value)
    {
        using var response = await SendAsync(Client, HttpMethod.Get, "/api/health", null, (header, value));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, header);
        Assert.Null(FaultHeader(response));
    }

    [Theory]
    [InlineData("X-Fault-Error", "503", "X-Fault-Error-Percentage", "101")]
    [InlineData("X-Fault-Delay", "1ms", "X-Fault-Delay-Percentage", "-1")]
    [InlineData("X-Fault-DB-Delay", "1ms", "X-Fault-DB-Delay-Percentage", "lots")]
    public async Task BadPercentageIs400NamingIt(string header, string value, string percentHeader, string percent)
    {
        using var response = await SendAsync(Client, HttpMethod.Get, "/api/health", null, (header, value), (percentHeader, percent));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, percentHeader);
    }

    [Fact]
    public async Task RequestsWithoutFaultHeadersAreUntouched()
    {
        using var response = await Client.GetAsync("/api/health", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Null(FaultHeader(response));
        using var metrics = await SendAsync(Client, HttpMethod.Get, "/metrics", null, ("X-Fault-Error", "503"));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact]
    public async Task PercentagesHoldAndTheSeedReproducesTheSequence()
    {
        async Task<string?[]> RunAsync()
        {
            await using var seeded = SeededApp(1234);
            await seeded.InitializeAsync();
            using var client = seeded.CreateClient();
            var faults = new string?[300];
            for (var i = 0; i < faults.Length; i++)
            {
                using var response = await SendAsync(client, HttpMethod.Get, "/api/health", null,
                    ("X-Fault-Error", "503"), ("X-Fault-Error-Percentage", "30"),
                    ("X-Fault-Delay", "0ms"), ("X-Fault-Delay-Percentage", "50"));
                Assert.Equal(FaultHeader(response)?.Contains("error=503") == true ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK,
                    response.StatusCode);
                faults[i] = FaultHeader(response);
            }
            return faults;
        }

        var first = await RunAsync();
        var errors = first.Count(f => f?.Contains("error=503") == true);
        var delays = first.Count(f => f?.Contains("delay=0ms") == true);
        Assert.InRange(errors, 60, 120);   // 30 % of 300 = 90
        Assert.InRange(delays, 120, 180);  // 50 % of 300 = 150
        var second = await RunAsync();
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task DbDelayHoldsAConnection()
    {
        var product = await App.AddProductAsync(stock: 50);
        var faulted = SendAsync(Client, HttpMethod.Get, $"/api/products/{product.Id}?optimize=true", null, ("X-Fault-DB-Delay", "1s"));
        if (IsPostgres)
        {
            var options = App.Services.GetRequiredService<DatabaseOptions>();
            await using var connection = new NpgsqlConnection(options.PostgresConnectionString());
            await connection.OpenAsync(Ct);
            var seen = false;
            for (var i = 0; i < 40 && !seen; i++)
            {
                await using var cmd = new NpgsqlCommand(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
                    connection);
                seen = (long)(await cmd.ExecuteScalarAsync(Ct))! > 0;
                if (!seen)
                {
                    await Task.Delay(25, Ct);
                }
            }
            Assert.True(seen, "pg_stat_activity never showed the pg_sleep of the DB delay");
        }
        else
        {
            // The faulted request holds the write lock: a concurrent write waits for it (busy timeout).
            await Task.Delay(300, Ct);
            var watch = Stopwatch.StartNew();
            await App.SetStockAsync(product.Id, 49);
            watch.Stop();
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(300), $"the concurrent write took only {watch.Elapsed.TotalMilliseconds} ms");
        }
        using var response = await faulted;
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("db_delay=1000ms", FaultHeader(response));
    }
}

public abstract class FaultRuleTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task EnvRuleAppliesOnlyToTheMatchingRoutes()
    {
        using var stats = await Client.GetAsync("/api/stats/top-products?limit=3", Ct);
        await stats.ExpectProblemAsync(HttpStatusCode.BadGateway);
        Assert.Equal("error=502", stats.Headers.GetValues("X-Fault").Single());
        using var reviews = await Client.GetAsync("/api/reviews?page_size=1", Ct);
        await reviews.ExpectProblemAsync(HttpStatusCode.BadGateway);
        using var health = await Client.GetAsync("/api/health", Ct);
        await health.ExpectAsync(HttpStatusCode.OK);
        Assert.False(health.Headers.Contains("X-Fault"));
    }

    [Fact]
    public async Task MetricsCountInjectedFaultsByKindAndRoute()
    {
        using var stats = await Client.GetAsync("/api/stats/top-products?limit=3", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, stats.StatusCode);
        var text = await Client.GetStringAsync("/metrics", Ct);
        var lines = text.Split('\n').Where(l => l.StartsWith("exbuy_faults_injected_total{", StringComparison.Ordinal)).ToArray();
        Assert.Contains(lines, l => l.Contains("kind=\"error\"", StringComparison.Ordinal)
            && l.Contains("route=\"/api/stats/top-products\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HeaderOverridesTheEnvRuleForTheSameKind()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/stats/top-products?limit=3");
        request.Headers.Add("X-Fault-Error", "429");
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("error=429", response.Headers.GetValues("X-Fault").Single());
    }
}

public abstract class FaultsOffTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task FaultsOffIgnoresTheHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.Add("X-Fault-Error", "503");
        request.Headers.Add("X-Fault-Delay", "nonsense");
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.False(response.Headers.Contains("X-Fault"));
    }
}

/// <summary>Bad fault settings stop start-up with one line naming the variable (Program prints it, exit 2).</summary>
public sealed class FaultOptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [Theory]
    [InlineData("FAULTS", "maybe")]
    [InlineData("FAULT_MAX_DELAY", "forever")]
    [InlineData("FAULT_MAX_DELAY", "0")]
    [InlineData("FAULT_SEED", "x")]
    [InlineData("FAULT_DELAY", "fast")]
    [InlineData("FAULT_DELAY", "31s")]
    [InlineData("FAULT_DB_DELAY", "-1")]
    [InlineData("FAULT_DELAY_PERCENT", "101")]
    [InlineData("FAULT_ERROR", "200")]
    [InlineData("FAULT_ERROR_PERCENT", "half")]
    [InlineData("FAULT_ROUTES", "api/products")]
    public void BadSettingNamesTheVariable(string key, string value)
    {
        var ex = Assert.Throws<ConfigurationError>(() => FaultOptions.FromConfiguration(Config((key, value))));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultsAreHeadersOnNoRules()
    {
        var o = FaultOptions.FromConfiguration(Config());
        Assert.True(o.HeadersEnabled);
        Assert.Empty(o.Rules);
        Assert.Equal(TimeSpan.FromSeconds(30), o.MaxDelay);
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData("100", 100)]
    public void DurationsAcceptUnitsAndPlainMilliseconds(string raw, double ms)
    {
        Assert.True(FaultValues.TryParseDuration(raw, out var value));
        Assert.Equal(ms, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("/api/products/{id}", "/api/products/{id:long:min(1)}", true)]
    [InlineData("/api/products/{id}", "/api/products/{id:long:min(1)}/reviews", false)]
    [InlineData("/api/products*", "/api/products/{id:long:min(1)}/reviews", true)]
    [InlineData("/api/products", "/api/products/", true)]
    public void RoutePatternsMatchTemplates(string pattern, string template, bool matches)
    {
        var rule = new FaultRule(pattern, null, 100, null, 100, 503, 100);
        Assert.Equal(matches, rule.Matches(FaultRule.NormaliseTemplate(template)));
    }

    [Fact]
    public async Task BadEnvValueStopsTheRealProcessWithOneLine()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ExBuyServer.StartAsync("sqlite", null,
            new Dictionary<string, string> { ["FAULT_DELAY"] = "fast" }, TestContext.Current.CancellationToken));
        Assert.Contains("exited with 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("exbuy: FAULT_DELAY='fast'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadEnvValueStopsStartUp()
    {
        var ex = Assert.Throws<ConfigurationError>(() =>
            FaultOptions.FromConfiguration(Config(("FAULT_ERROR", "503"), ("FAULT_ERROR_PERCENT", "150"))));
        Assert.StartsWith("FAULT_ERROR_PERCENT='150'", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class FaultSqliteTests(SqliteApp app) : FaultTests(app), IClassFixture<SqliteApp>;

public sealed class FaultPostgresTests(PostgresApp app) : FaultTests(app), IClassFixture<PostgresApp>;

public sealed class FaultRuleSqliteTests(FaultRuleSqliteApp app) : FaultRuleTests(app), IClassFixture<FaultRuleSqliteApp>;

public sealed class FaultRulePostgresTests(FaultRulePostgresApp app) : FaultRuleTests(app), IClassFixture<FaultRulePostgresApp>;

public sealed class FaultsOffSqliteTests(FaultsOffSqliteApp app) : FaultsOffTests(app), IClassFixture<FaultsOffSqliteApp>;

public sealed class FaultsOffPostgresTests(FaultsOffPostgresApp app) : FaultsOffTests(app), IClassFixture<FaultsOffPostgresApp>;
