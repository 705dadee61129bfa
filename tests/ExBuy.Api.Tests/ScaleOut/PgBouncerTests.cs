using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Observability;
using Npgsql;

namespace ExBuy.Api.Tests.ScaleOut;

/// <summary>
/// deploy/scale-out/pgbouncer.ini (rendered with render-config.sh, ports of this run) in a real PgBouncer in front of
/// the shared test cluster, and ExBuy through it with DB_PGBOUNCER=true: every endpoint family works, more clients than
/// PgBouncer's server pool all succeed while PostgreSQL sees at most the pool, and an ExBuy without DB_PGBOUNCER is
/// refused at its first connection (the `options` startup parameter), deterministically.
/// </summary>
public sealed class PgBouncerTests(PostgresCluster cluster) : ServerProcessTests("postgres", cluster)
{
    private const string Password = "exbuy-pgbouncer-test";
    private readonly Sidecars _sidecars = new();

    public override async ValueTask DisposeAsync()
    {
        await _sidecars.DisposeAsync();
        await base.DisposeAsync();
    }

    private sealed record Bouncer(int Port, Sidecar Process);

    /// <summary>pgbouncer.ini and userlist.txt rendered for the test cluster, PgBouncer started (as nobody when root).</summary>
    private async Task<Bouncer> StartPgBouncerAsync()
    {
        var pgbouncer = ScaleOutFiles.RequireTool("pgbouncer");
        var dir = _sidecars.TempDir("exbuy-pgbouncer-");
        var port = ExBuyServer.FreePort();
        var variables = new Dictionary<string, string>
        {
            ["PG_PRIMARY_HOST"] = "127.0.0.1",
            ["PG_PRIMARY_PORT"] = Cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGBOUNCER_LISTEN_ADDR"] = "127.0.0.1",
            ["PGBOUNCER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGBOUNCER_USERLIST"] = Path.Combine(dir, "userlist.txt"),
            ["PGBOUNCER_USER"] = "postgres",
            ["PGBOUNCER_PASSWORD"] = Password,
        };
        foreach (var (template, output) in new[] { (ScaleOutFiles.PgBouncerIni, "pgbouncer.ini"), (ScaleOutFiles.UserList, "userlist.txt") })
        {
            var (exit, stdout, stderr) = await ScaleOutFiles.RenderAsync(template, variables, Ct);
            Assert.True(exit == 0, $"render-config.sh {template}: {stderr}");
            await File.WriteAllTextAsync(Path.Combine(dir, output), stdout, Ct);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(dir, "userlist.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        await ScaleOutFiles.GiveToNobodyAsync(dir, Ct);
        var (file, arguments) = ScaleOutFiles.AsUnprivileged(pgbouncer, Path.Combine(dir, "pgbouncer.ini"));
        var process = _sidecars.Start("pgbouncer", file, arguments, null);
        await ScaleOutFiles.WaitForPortAsync(port, process, TimeSpan.FromSeconds(10), Ct);
        return new Bouncer(port, process);
    }

    /// <summary>A database of the test cluster, migrated and seeded (small) by ExBuy directly: session-level work never goes through PgBouncer.</summary>
    private async Task<string> SeededDatabaseAsync()
    {
        var database = Cluster.NewDatabase("pgbouncer");
        await using var direct = await ExBuyServer.StartAsync("postgres", Cluster, new Dictionary<string, string> { ["DB_NAME"] = database }, Ct);
        return database;
    }

    private async Task<ExBuyServer> StartThroughAsync(Bouncer bouncer, string database, Dictionary<string, string> extra) =>
        await StartAsync(new(extra)
        {
            ["DB_HOST"] = "127.0.0.1",
            ["DB_PORT"] = bouncer.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DB_NAME"] = database,
            ["DB_PASSWORD"] = Password,
            ["DB_MIGRATE"] = "false",
            ["SEED_ON_EMPTY"] = "none",
        });

    [Fact]
    public async Task PgBouncerStartsWithTheShippedIniAndPoolsTransactions()
    {
        var bouncer = await StartPgBouncerAsync();
        var database = await SeededDatabaseAsync();
        // A plain client (simple statements, no startup options) through it, with the userlist's password.
        await using var connection = new NpgsqlConnection(
            $"Host=127.0.0.1;Port={bouncer.Port};Username=postgres;Password={Password};Database={database};Pooling=false;Max Auto Prepare=0");
        await connection.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM products", connection);
        Assert.True((long)(await cmd.ExecuteScalarAsync(Ct))! > 0);

        // A wrong password is refused by PgBouncer itself (scram-sha-256 against userlist.txt), though PostgreSQL trusts loopback.
        await using var wrong = new NpgsqlConnection($"Host=127.0.0.1;Port={bouncer.Port};Username=postgres;Password=wrong;Database={database};Pooling=false");
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => wrong.OpenAsync(Ct));
        Assert.Matches("(?i)authentication failed|password", refused.Message + refused.InnerException?.Message);
    }

    [Fact]
    public async Task EveryEndpointFamilyWorksThroughPgBouncerWithDbPgBouncer()
    {
        var bouncer = await StartPgBouncerAsync();
        var server = await StartThroughAsync(bouncer, await SeededDatabaseAsync(), new() { ["DB_PGBOUNCER"] = "true" });
        var client = server.Client;
        // Products with stock to spare, so every order and reservation below can succeed.
        using var page = await client.GetAsync("/api/products?ordering=-stock&page_size=5&optimize=true", Ct);
        var p = (await page.ExpectAsync(HttpStatusCode.OK)).GetProperty("results").EnumerateArray().Select(x => x.GetProperty("id").GetInt64()).ToArray();
        Assert.Equal(5, p.Length);
        // Each family three times: a statement reused in a later transaction lands on another server connection, where a
        // prepared statement would be missing.
        for (var round = 0; round < 3; round++)
        {
            foreach (var path in new[]
            {
                "/api/products?page_size=5", "/api/products?page_size=5&optimize=true&ordering=-price", $"/api/products/{p[0]}",
                $"/api/products/{p[0]}?optimize=true", "/api/search/products?q=pro&optimize=true", $"/api/products/{p[0]}/reviews?optimize=true",
                $"/api/reviews?product_id={p[0]}&optimize=true", "/api/stats/top-products?limit=5", "/api/health/ready",
            })
            {
                using var response = await client.GetAsync(path, Ct);
                await response.ExpectAsync(HttpStatusCode.OK);
            }

            using var created = await client.PostAsync("/api/orders", Http.Json(Arrange.OrderJson(Arrange.NewUserId(), (p[1], 1), (p[2], 2))), Ct);
            var order = await created.ExpectAsync(HttpStatusCode.Created);
            var id = order.GetProperty("id").GetInt64();
            using (var read = await client.GetAsync($"/api/orders/{id}?optimize=true", Ct))
            {
                var body = await read.ExpectAsync(HttpStatusCode.OK);
                Assert.Equal(2, body.GetProperty("items").GetArrayLength());
            }
            using (var paid = await client.PatchJsonAsync($"/api/orders/{id}", """{"status": "paid"}"""))
            {
                await paid.ExpectAsync(HttpStatusCode.OK);
            }
            using (var bulk = await client.PostJsonAsync("/api/orders/bulk",
                $$"""{"orders": [{"user_id": {{Arrange.NewUserId()}}, "items": [{"product_id": {{p[3]}}, "quantity": 1}]}]}"""))
            {
                await bulk.ExpectAsync(HttpStatusCode.Created);
            }
            foreach (var lockType in new[] { "optimistic", "pessimistic", "versioned" })
            {
                using var reserve = await client.PostJsonAsync($"/api/inventory/reserve?lock_type={lockType}", $$"""{"product_id": {{p[4]}}, "quantity": 1}""");
                await reserve.ExpectAsync(HttpStatusCode.OK);
            }
            using var review = await client.PostJsonAsync("/api/reviews",
                $$"""{"product": {{p[0]}}, "user_id": {{Arrange.NewUserId()}}, "rating": 4, "body": "through PgBouncer"}""");
            await review.ExpectAsync(HttpStatusCode.Created);
        }
        Assert.False(server.HasExited);
    }

    /// <summary>
    /// Twice as many concurrent requests as PgBouncer may open server connections (max_db_connections), each holding its
    /// connection inside PostgreSQL for 300 ms (X-Fault-DB-Delay): every one answers 200, PostgreSQL never sees more
    /// than max_db_connections connections to the database, and the burst takes at least two rounds of the delay
    /// (PgBouncer queued the rest).
    /// </summary>
    [Fact]
    public async Task MoreClientsThanThePoolAllSucceedWhilePostgresSeesAtMostThePool()
    {
        var limit = int.Parse(ScaleOutFiles.IniValue("max_db_connections"), System.Globalization.CultureInfo.InvariantCulture);
        var clients = 2 * limit;
        var bouncer = await StartPgBouncerAsync();
        var database = await SeededDatabaseAsync();
        var server = await StartThroughAsync(bouncer, database, new()
        {
            ["DB_PGBOUNCER"] = "true",
            ["DB_POOL_MAX"] = (clients + 10).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        await using var observer = new NpgsqlConnection($"Host=127.0.0.1;Port={Cluster.Port};Username=postgres;Database=postgres;Pooling=false");
        await observer.OpenAsync(Ct);
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var samples = new ConcurrentBag<long>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                await using var cmd = new NpgsqlCommand(
                    $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND backend_type = 'client backend'", observer);
                samples.Add((long)(await cmd.ExecuteScalarAsync(CancellationToken.None))!);
                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients })
        {
            BaseAddress = new Uri(server.BaseUrl),
            Timeout = TimeSpan.FromSeconds(30),
        };
        var clock = Stopwatch.StartNew();
        var statuses = await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + (i % 20)}?optimize=true");
            request.Headers.Add("X-Fault-DB-Delay", "300ms");
            using var response = await http.SendAsync(request, Ct);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
        }));
        var elapsed = clock.Elapsed;
        await sampling.CancelAsync();
        await sampler;

        Assert.All(statuses, s => Assert.True(s.Item1 == 200, $"{s.Item1}: {s.Item2}"));
        Assert.True(samples.Max() <= limit, $"PostgreSQL saw {samples.Max()} connections to {database}, above max_db_connections {limit}");
        Assert.True(samples.Max() >= 2, "PostgreSQL never saw more than one connection: the burst was not concurrent");
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(600), $"{clients} requests of 300 ms on {limit} connections took only {elapsed.TotalMilliseconds:F0} ms");
    }

    /// <summary>
    /// The naive set-up: ExBuy through PgBouncer without DB_PGBOUNCER=true sends its statement_timeout as the
    /// <c>options</c> startup parameter, which the shipped ini deliberately does not ignore. Deterministic: every
    /// connection is refused, so the start-up check fails and the process exits before serving, and PgBouncer says why.
    /// </summary>
    [Fact]
    public async Task WithoutDbPgBouncerExBuyIsRefusedAtItsFirstConnection()
    {
        var bouncer = await StartPgBouncerAsync();
        var database = await SeededDatabaseAsync();
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => StartThroughAsync(bouncer, database, new()));
        Assert.Contains("exited", failed.Message, StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        while (!bouncer.Process.Output.Contains("unsupported startup parameter", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(100, Ct);
        }
        Assert.True(
            (bouncer.Process.Output + failed.Message).Contains("unsupported startup parameter: options", StringComparison.OrdinalIgnoreCase),
            $"expected PgBouncer to refuse the options startup parameter. ExBuy: {failed.Message}\nPgBouncer: {bouncer.Process.Output}");
    }
}
