using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExBuy.Api.Tests.Infrastructure;
using Npgsql;

namespace ExBuy.Api.Tests.ScaleOut;

/// <summary>
/// A primary and a hot standby streaming from it (pg_basebackup -R), of one test class's own. <see cref="Synchronous"/>
/// names the standby in synchronous_standby_names: a commit is acknowledged only once the standby has it.
/// </summary>
public abstract class ReplicatedPair : IAsyncLifetime
{
    public const string StandbyName = "standby1";

    protected abstract bool Synchronous { get; }

    public PostgresCluster Primary { get; private set; } = new();
    public PostgresCluster? Standby { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Primary = new PostgresCluster
        {
            ExtraOptions = Synchronous ? $"-c synchronous_standby_names={StandbyName} -c synchronous_commit=on " : "",
        };
        await Primary.InitializeAsync();
        if (Primary.UnavailableReason is null)
        {
            Standby = await Primary.CreateStandbyAsync(StandbyName);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }
        await Primary.DisposeAsync();
    }
}

public sealed class AsyncPair : ReplicatedPair
{
    protected override bool Synchronous => false;
}

public sealed class SyncPair : ReplicatedPair
{
    protected override bool Synchronous => true;
}

/// <summary>What both replication test classes need: the two servers' names as X-Db-Host gives them, and direct queries.</summary>
public abstract class ReplicationTestBase(ReplicatedPair pair) : ServerProcessTests("postgres", pair.Primary)
{
    protected ReplicatedPair Pair => pair;
    protected string PrimaryHost => $"127.0.0.1:{pair.Primary.Port}";
    protected string StandbyHost => $"127.0.0.1:{pair.Standby!.Port}";

    protected static async Task<long> ScalarAsync(int port, string database, string sql, params object[] args)
    {
        await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database={database};Pooling=false;Timeout=5");
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        for (var i = 0; i < args.Length; i++)
        {
            cmd.Parameters.AddWithValue($"p{i}", args[i]);
        }
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took, or fails after <paramref name="bound"/>.</summary>
    protected async Task<TimeSpan> EventuallyAsync(TimeSpan bound, Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return clock.Elapsed;
                }
            }
            catch (NpgsqlException) when (clock.Elapsed < bound)
            {
                // The database may not exist on the standby yet.
            }
            Assert.True(clock.Elapsed < bound, $"{what}: not within {bound.TotalSeconds} s");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>ExBuy on the primary with the standby for reads; returns once the standby has the seeded catalog.</summary>
    protected async Task<ExBuyServer> StartRoutedAsync(Dictionary<string, string>? more = null)
    {
        var environment = new Dictionary<string, string> { ["DB_READ_HOSTS"] = StandbyHost };
        foreach (var (k, v) in more ?? new Dictionary<string, string>())
        {
            environment[k] = v;
        }
        var server = await StartAsync(environment);
        var database = server.Environment["DB_NAME"];
        var products = await ScalarAsync(Pair.Primary.Port, database, "SELECT count(*) FROM products");
        await EventuallyAsync(TimeSpan.FromSeconds(30),
            async () => await ScalarAsync(Pair.Standby!.Port, database, "SELECT count(*) FROM products") == products,
            "the seeded catalog on the standby");
        return server;
    }

    protected static object OneItemOrder(int product) => new { user_id = 7, items = new[] { new { product_id = product, quantity = 1 } } };
}

/// <summary>
/// DB_READ_HOSTS on a real streaming standby: catalog reads are served by it (X-Db-Host, and the standby's own
/// transaction counter), orders by the primary (read-your-writes), what the primary commits shows on the standby within
/// a bound, and /api/info states the rule and the replication it sees.
/// </summary>
public sealed class ReadRoutingTests(AsyncPair pair) : ReplicationTestBase(pair), IClassFixture<AsyncPair>
{
    /// <summary>Asynchronous streaming on loopback takes milliseconds; the bound leaves room for a loaded CI machine.</summary>
    private static readonly TimeSpan ReplicationBound = TimeSpan.FromSeconds(3);

    private static readonly string[] CatalogReads =
    [
        "/api/products?page=1", "/api/products?ordering=-price&optimize=true", "/api/products/1", "/api/products/1?optimize=true",
        "/api/products/1/reviews?optimize=true", "/api/search/products?q=pro", "/api/reviews?page=1", "/api/stats/top-products?limit=5",
    ];

    [Fact]
    public async Task Catalog_reads_are_served_by_the_standby_and_an_order_is_written_and_read_back_on_the_primary()
    {
        var server = await StartRoutedAsync();
        var database = server.Environment["DB_NAME"];
        const string Commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = @p0";
        var before = await ScalarAsync(Pair.Standby!.Port, database, Commits, database);
        foreach (var url in CatalogReads)
        {
            using var response = await server.Client.GetAsync(url, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
            Assert.Equal(StandbyHost, Assert.Single(response.Headers.GetValues("X-Db-Host")));
        }
        // PostgreSQL's own count: the standby ran those reads (its statistics are reported within a second).
        await EventuallyAsync(TimeSpan.FromSeconds(5),
            async () => await ScalarAsync(Pair.Standby.Port, database, Commits, database) >= before + CatalogReads.Length,
            "the standby's committed transactions growing by the reads sent");

        using var placed = await server.Client.PostAsJsonAsync("/api/orders", OneItemOrder(5), Ct);
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        Assert.Equal(PrimaryHost, Assert.Single(placed.Headers.GetValues("X-Db-Host")));
        var order = JsonNode.Parse(await placed.Content.ReadAsStringAsync(Ct))!;
        // Read-your-writes: the order just placed is read back at once, from the primary, whatever the lag.
        using var read = await server.Client.GetAsync($"/api/orders/{(long)order["id"]!}", Ct);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(PrimaryHost, Assert.Single(read.Headers.GetValues("X-Db-Host")));
        Assert.Equal(order.ToJsonString(), JsonNode.Parse(await read.Content.ReadAsStringAsync(Ct))!.ToJsonString());
        using var paid = await server.Client.PatchAsJsonAsync($"/api/orders/{(long)order["id"]!}", new { status = "paid" }, Ct);
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        Assert.Equal(PrimaryHost, Assert.Single(paid.Headers.GetValues("X-Db-Host")));
    }

    [Fact]
    public async Task An_order_committed_on_the_primary_shows_on_the_standby_and_in_catalog_reads_within_the_bound()
    {
        var server = await StartRoutedAsync();
        var database = server.Environment["DB_NAME"];
        var stock = (int)JsonNode.Parse(await server.Client.GetStringAsync("/api/products/9?optimize=true", Ct))!["stock"]!;
        using var placed = await server.Client.PostAsJsonAsync("/api/orders", OneItemOrder(9), Ct);
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        var id = (long)JsonNode.Parse(await placed.Content.ReadAsStringAsync(Ct))!["id"]!;
        var visible = await EventuallyAsync(ReplicationBound,
            async () => await ScalarAsync(Pair.Standby!.Port, database, "SELECT count(*) FROM orders WHERE id = @p0", id) == 1,
            "the order on the standby");
        // Catalog reads may lag by the replication lag, no more: the stock taken shows through the standby too.
        await EventuallyAsync(ReplicationBound, async () =>
        {
            using var response = await server.Client.GetAsync("/api/products/9?optimize=true", Ct);
            Assert.Equal(StandbyHost, Assert.Single(response.Headers.GetValues("X-Db-Host")));
            return (int)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["stock"]! == stock - 1;
        }, "the new stock in a catalog read");
        Assert.True(visible < ReplicationBound, $"replicated in {visible}");
    }

    [Fact]
    public async Task Info_states_the_routing_rule_the_read_routes_and_the_streaming_standby()
    {
        var server = await StartRoutedAsync();
        var routing = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!["db_routing"]!;
        Assert.Equal(new[] { PrimaryHost }, routing["write_hosts"]!.AsArray().Select(h => (string)h!));
        Assert.Equal(new[] { StandbyHost }, routing["read_hosts"]!.AsArray().Select(h => (string)h!));
        Assert.False((bool)routing["pg_bouncer"]!);
        // The routes the handlers route to the standbys: exactly the catalog reads, nothing about orders or inventory.
        Assert.Equal(
            new[] { "GET /api/products", "GET /api/products/{id}", "GET /api/products/{id}/reviews", "GET /api/reviews", "GET /api/search/products",
             "GET /api/stats/top-products" },
            routing["read_routes"]!.AsArray().Select(r => (string)r!));
        await EventuallyAsync(TimeSpan.FromSeconds(10), async () =>
        {
            var standbys = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!["db_routing"]!["standbys"]!.AsArray();
            return standbys.Count == 1 && (string?)standbys[0]!["name"] == ReplicatedPair.StandbyName
                && (string?)standbys[0]!["state"] == "streaming" && standbys[0]!["lag_bytes"] is not null;
        }, "the streaming standby in /api/info");
        var info = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!;
        Assert.Equal("async", (string?)info["db_routing"]!["standbys"]![0]!["sync_state"]);
        // The same in /metrics, with bounded labels: the standby's name, and route and host:port per checkout.
        using (await server.Client.GetAsync("/api/products/2", Ct))
        {
        }
        var metrics = await server.Client.GetStringAsync("/metrics", Ct);
        Assert.Matches($@"(?m)^exbuy_db_replication_lag_seconds\{{[^}}]*standby=""{ReplicatedPair.StandbyName}""\}} [0-9.e+-]+$", metrics);
        Assert.Matches($@"(?m)^exbuy_db_replication_lag_bytes\{{[^}}]*standby=""{ReplicatedPair.StandbyName}""\}} [0-9]+$", metrics);
        Assert.Matches($@"(?m)^exbuy_db_routed_total\{{[^}}]*host=""{StandbyHost}"",route=""read""\}} [1-9][0-9]*$", metrics);
    }

    [Fact]
    public async Task Without_read_hosts_nothing_is_routed_and_no_server_is_named()
    {
        var server = await StartAsync(new());
        using var response = await server.Client.GetAsync("/api/products/1", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Db-Host"));
        var routing = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!["db_routing"]!;
        Assert.Empty(routing["read_hosts"]!.AsArray());
        Assert.Empty(routing["read_routes"]!.AsArray());
    }
}
