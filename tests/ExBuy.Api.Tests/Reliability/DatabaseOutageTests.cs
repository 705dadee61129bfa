using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExBuy.Api.Tests.Infrastructure;
using Npgsql;

namespace ExBuy.Api.Tests.Reliability;

/// <summary>A PostgreSQL cluster of one test class's own: its tests stop, restart and kill sessions of it.</summary>
public sealed class PrivateCluster : IAsyncLifetime
{
    public PostgresCluster Cluster { get; } = new();

    public ValueTask InitializeAsync() => Cluster.InitializeAsync();

    public ValueTask DisposeAsync() => Cluster.DisposeAsync();
}

/// <summary>
/// Real database faults against a real ExBuy process (contract: 503 with Retry-After, never a 500 and never a hang;
/// recovery by itself; no committed write lost, no partial write, stock conserved): PostgreSQL restarted under load,
/// sessions terminated, the server down, the pool exhausted, a statement past its timeout.
/// </summary>
public sealed class DatabaseOutageTests(PrivateCluster own) : ServerProcessTests("postgres", own.Cluster), IClassFixture<PrivateCluster>
{
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(5);

    private sealed record Outcome(int Status, bool RetryAfter, string? Error, TimeSpan Start, TimeSpan End, long? OrderId, string Kind);

    private async Task<NpgsqlConnection> OpenAsync(ExBuyServer server)
    {
        var info = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!;
        Assert.Equal("postgres", (string?)info["db_engine"]);
        var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={Cluster.Port};Username=postgres;Database={DatabaseOf(server)};Pooling=false");
        await connection.OpenAsync(Ct);
        return connection;
    }

    private static string DatabaseOf(ExBuyServer server) => server.Environment["DB_NAME"];

    private static async Task<Dictionary<long, long>> StocksAsync(NpgsqlConnection connection, int products)
    {
        await using var cmd = new NpgsqlCommand($"SELECT id, stock FROM products WHERE id <= {products}", connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        var stocks = new Dictionary<long, long>();
        while (await reader.ReadAsync())
        {
            stocks[reader.GetInt64(0)] = reader.GetInt32(1);
        }
        return stocks;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <paramref name="clients"/> clients in a loop until <paramref name="duration"/>: product detail, a product page, and
    /// one-item orders on products 1..<paramref name="products"/>. Every answer is recorded; a timeout or a reset is an
    /// error, not a status.
    /// </summary>
    private async Task<List<Outcome>> LoadAsync(ExBuyServer server, int clients, TimeSpan duration, int products, Stopwatch clock)
    {
        var outcomes = new ConcurrentBag<Outcome>();
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var random = new Random(c);
            while (clock.Elapsed < duration)
            {
                var product = random.Next(1, products + 1);
                var pick = random.Next(10);
                var kind = pick < 5 ? "detail" : pick < 7 ? "list" : "order";
                var start = clock.Elapsed;
                try
                {
                    using var response = kind switch
                    {
                        "detail" => await http.GetAsync($"/api/products/{product}?optimize=true", Ct),
                        "list" => await http.GetAsync("/api/products?page_size=5&optimize=true", Ct),
                        _ => await http.PostAsJsonAsync("/api/orders", new { user_id = c + 1, items = new[] { new { product_id = product, quantity = 1 } } }, Ct),
                    };
                    long? id = null;
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        id = (long)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["id"]!;
                    }
                    else
                    {
                        await response.Content.ReadAsStringAsync(Ct);
                    }
                    outcomes.Add(new((int)response.StatusCode, response.Headers.RetryAfter is not null, null, start, clock.Elapsed, id, kind));
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !Ct.IsCancellationRequested)
                {
                    outcomes.Add(new(0, false, ex.GetType().Name + ": " + ex.Message, start, clock.Elapsed, null, kind));
                }
            }
        }));
        return [.. outcomes.OrderBy(o => o.Start)];
    }

    private static string Summary(IEnumerable<Outcome> outcomes) =>
        string.Join(", ", outcomes.GroupBy(o => o.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"));

    [Fact]
    public async Task A_restart_under_load_gives_only_503s_then_recovers_and_the_database_agrees_with_every_201()
    {
        var server = await StartAsync(new() { ["DB_POOL_MAX"] = "16" });
        const int products = 40;
        await using var db = await OpenAsync(server);
        var before = await StocksAsync(db, products);
        var lastOrder = await ScalarAsync(db, "SELECT coalesce(max(id), 0) FROM orders");
        await db.CloseAsync();

        var clock = Stopwatch.StartNew();
        var load = LoadAsync(server, clients: 8, duration: TimeSpan.FromSeconds(9), products, clock);
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        var down = clock.Elapsed;
        await Cluster.StopAsync("fast");
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        await Cluster.StartAsync();
        var up = clock.Elapsed;
        var outcomes = await load;

        var summary = Summary(outcomes);
        Assert.All(outcomes, o => Assert.True(o.Error is null, $"{o.Kind} at {o.Start.TotalSeconds:F2} s: {o.Error} ({summary})"));
        Assert.All(outcomes, o => Assert.Contains(o.Status, new[] { 200, 201, 409, 503 }));
        Assert.All(outcomes.Where(o => o.Status == 503), o => Assert.True(o.RetryAfter, "a 503 without Retry-After"));
        Assert.Contains(outcomes, o => o.Status == 503 && o.Start >= down); // the outage was seen
        Assert.True(outcomes.Max(o => o.End - o.Start) < TimeSpan.FromSeconds(6), $"slowest answer {outcomes.Max(o => o.End - o.Start)}");
        // Serving again soon after the restart, and no 503 for anything that started after the recovery bound.
        var firstOk = outcomes.Where(o => o.Start >= up && o.Status is 200 or 201).Min(o => (TimeSpan?)o.End);
        Assert.True(firstOk is not null && firstOk - up <= RecoveryBound, $"first success {firstOk - up} after the restart ({summary})");
        Assert.DoesNotContain(outcomes, o => o.Status == 503 && o.Start > up + RecoveryBound);

        // Every 201 the clients saw is in the database; every order in it took its stock exactly once.
        await using var after = await OpenAsync(server);
        var created = outcomes.Where(o => o.OrderId is not null).Select(o => o.OrderId!.Value).ToArray();
        Assert.NotEmpty(created);
        Assert.Equal(created.Length, await ScalarAsync(after, $"SELECT count(*) FROM orders WHERE id IN ({string.Join(",", created)})"));
        var stocks = await StocksAsync(after, products);
        await using var cmd = new NpgsqlCommand(
            $"SELECT product_id, sum(quantity) FROM order_items WHERE order_id > {lastOrder} GROUP BY product_id", after);
        var ordered = new Dictionary<long, long>();
        await using (var reader = await cmd.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                ordered[reader.GetInt64(0)] = reader.GetInt64(1);
            }
        }
        foreach (var (id, stock) in before)
        {
            Assert.Equal(stock - ordered.GetValueOrDefault(id), stocks[id]);
        }
        // One line per kind of failure and a summary per window, never a stack trace per request.
        var output = server.StdoutLines.Concat(server.StderrLines).ToArray();
        Assert.DoesNotContain(output, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        var failures = outcomes.Count(o => o.Status == 503);
        var lines = output.Count(l => l.Contains("answered 503", StringComparison.Ordinal));
        Assert.True(lines <= 10, $"{lines} log lines for {failures} 503s:\n{string.Join("\n", output.Where(l => l.Contains("503", StringComparison.Ordinal)))}");
    }

    [Fact]
    public async Task Reads_on_terminated_sessions_are_retried_on_fresh_connections_and_writes_are_not()
    {
        var server = await StartAsync(new() { ["DB_POOL_MAX"] = "8" });
        // Fill the pool with idle connections, then terminate every session of the app.
        await Task.WhenAll(Enumerable.Range(1, 6).Select(i => server.Client.GetAsync($"/api/products/{i}?optimize=true", Ct)));
        await using var db = await OpenAsync(server);
        var killed = await ScalarAsync(db,
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{DatabaseOf(server)}' AND pid <> pg_backend_pid()");
        Assert.True(killed >= 1, "no session of the app to terminate");

        for (var i = 1; i <= 12; i++)
        {
            using var response = await server.Client.GetAsync($"/api/products/{i}?optimize=true", Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {i} after the sessions were terminated: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        }
        await ScalarAsync(db,
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{DatabaseOf(server)}' AND pid <> pg_backend_pid()");
        var orders = await ScalarAsync(db, "SELECT count(*) FROM orders");
        // A write on a dead connection is not retried: a 503 (nothing written) or, on a fresh connection, a 201.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await server.Client.PostAsJsonAsync("/api/orders", new { user_id = 1, items = new[] { new { product_id = 3, quantity = 1 } } }, Ct);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Created, HttpStatusCode.ServiceUnavailable }));
        Assert.Equal(HttpStatusCode.Created, statuses[^1]);
        Assert.Equal(orders + statuses.Count(s => s == HttpStatusCode.Created), await ScalarAsync(db, "SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task With_the_database_down_requests_answer_503_at_once_and_readiness_follows_it_back()
    {
        var server = await StartAsync(new() { ["DB_POOL_TIMEOUT"] = "2" });
        await Cluster.StopAsync("immediate");
        try
        {
            foreach (var url in new[] { "/api/products/1?optimize=true", "/api/products", "/api/stats/top-products", "/api/health/ready" })
            {
                var clock = Stopwatch.StartNew();
                using var response = await server.Client.GetAsync(url, Ct);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"{url} took {clock.Elapsed}");
                if (url != "/api/health/ready")
                {
                    Assert.NotNull(response.Headers.RetryAfter);
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                    var detail = (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["detail"];
                    Assert.Contains("unavailable", detail);
                }
            }
            using var order = await server.Client.PostAsJsonAsync("/api/orders", new { user_id = 1, items = new[] { new { product_id = 1, quantity = 1 } } }, Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, order.StatusCode);
            using var health = await server.Client.GetAsync("/api/health", Ct);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode); // touches no database
        }
        finally
        {
            await Cluster.StartAsync();
        }
        var up = Stopwatch.StartNew();
        while (true)
        {
            using var ready = await server.Client.GetAsync("/api/health/ready", Ct);
            if (ready.StatusCode == HttpStatusCode.OK)
            {
                break;
            }
            Assert.True(up.Elapsed < RecoveryBound, $"not ready {up.Elapsed} after the database came back");
            await Task.Delay(100, Ct);
        }
        using var detailAfter = await server.Client.GetAsync("/api/products/1?optimize=true", Ct);
        Assert.Equal(HttpStatusCode.OK, detailAfter.StatusCode);
    }

    [Fact]
    public async Task An_exhausted_pool_answers_503_after_DB_POOL_TIMEOUT_not_Npgsqls_15_seconds()
    {
        var server = await StartAsync(new() { ["DB_POOL_MAX"] = "2", ["DB_POOL_TIMEOUT"] = "1" });
        // Two requests hold both connections inside the database (the fault DB delay is a pg_sleep on the request's connection).
        var holders = Enumerable.Range(0, 2).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1?optimize=true");
            request.Headers.Add("X-Fault-DB-Delay", "4s");
            return server.Client.SendAsync(request, Ct);
        }).ToArray();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        var clock = Stopwatch.StartNew();
        using var response = await server.Client.GetAsync("/api/products/2?optimize=true", Ct);
        var elapsed = clock.Elapsed;
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(2.5));
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("DB_POOL_TIMEOUT", (string?)JsonNode.Parse(body)!["detail"]);
        foreach (var holder in holders)
        {
            using var held = await holder;
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }
        using var after = await server.Client.GetAsync("/api/products/2?optimize=true", Ct);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var line = await server.WaitForStdoutAsync(l => l.Contains("DB_POOL_TIMEOUT", StringComparison.Ordinal), Ct);
        Assert.Contains("answered 503", line);
    }

    [Fact]
    public async Task A_statement_past_DB_STATEMENT_TIMEOUT_is_cancelled_by_the_server_and_answers_503()
    {
        var server = await StartAsync(new() { ["DB_STATEMENT_TIMEOUT"] = "500ms" });
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1?optimize=true");
        request.Headers.Add("X-Fault-DB-Delay", "3s");
        var clock = Stopwatch.StartNew();
        using var response = await server.Client.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Contains("DB_STATEMENT_TIMEOUT", (string?)JsonNode.Parse(body)!["detail"]);
        // The connection is fine afterwards (the server cancelled the statement, not the session).
        using var after = await server.Client.GetAsync("/api/products/1?optimize=true", Ct);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
