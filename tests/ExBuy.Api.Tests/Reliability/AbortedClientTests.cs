using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Reliability;

/// <summary>
/// Clients that hang up mid-request. The decision (README, Reliability): a write whose client disconnects before it
/// commits is cancelled and rolled back — the request's cancellation reaches the transaction — and one that committed
/// stays. Either way the write is whole: every order in the database has all its items, its total equals Σ quantity ×
/// unit_price, and the stock taken equals the quantities ordered.
/// </summary>
public abstract class AbortedClientTests(string engine, PostgresCluster cluster) : ServerProcessTests(engine, cluster)
{
    [Fact]
    public async Task Orders_abandoned_at_random_moments_are_whole_or_absent_and_stock_is_conserved()
    {
        var server = await StartAsync(new() { ["DB_POOL_MAX"] = "16" });
        var products = Enumerable.Range(11, 6).Select(i => (long)i).ToArray();
        var before = new Dictionary<long, int>();
        foreach (var id in products)
        {
            before[id] = (int)JsonNode.Parse(await server.Client.GetStringAsync($"/api/products/{id}?optimize=true", Ct))!["stock"]!;
        }
        var lastOrder = await LastOrderIdAsync(server);

        var random = new Random(7);
        var abandoned = 0;
        var created = new List<long>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async client =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
            for (var i = 0; i < 15; i++)
            {
                int hangUpAfter, delay;
                lock (random)
                {
                    hangUpAfter = random.Next(0, 120);
                    delay = random.Next(0, 100);
                }
                var bulk = i % 3 == 0;
                var order = $"{{\"user_id\": {client + 1}, \"items\": [{{\"product_id\": {products[i % 6]}, \"quantity\": 1}}, {{\"product_id\": {products[(i + 1) % 6]}, \"quantity\": 2}}, {{\"product_id\": {products[(i + 2) % 6]}, \"quantity\": 1}}]}}";
                var json = bulk ? $"{{\"orders\": [{order}, {order}]}}" : order;
                using var request = new HttpRequestMessage(HttpMethod.Post, bulk ? "/api/orders/bulk" : "/api/orders")
                {
                    Content = new StringContent(json, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("X-Fault-DB-Delay", $"{delay}ms");
                using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                hangUp.CancelAfter(hangUpAfter);
                try
                {
                    using var response = await http.SendAsync(request, hangUp.Token);
                    Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict });
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
                        lock (created)
                        {
                            created.AddRange(bulk ? body["orders"]!.AsArray().Select(o => (long)o!["id"]!) : [(long)body["id"]!]);
                        }
                    }
                }
                catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref abandoned);
                }
            }
        }));
        Assert.True(abandoned >= 5, $"only {abandoned} requests were abandoned");

        // Give the server a moment to finish (or roll back) what the clients walked away from.
        await Task.Delay(1500, Ct);
        var orders = await OrdersSinceAsync(server, lastOrder);
        Assert.All(created, id => Assert.Contains(id, orders.Keys)); // every 201 is there
        foreach (var (id, order) in orders)
        {
            var items = order["items"]!.AsArray();
            Assert.Equal(3, items.Count); // whole: never an order with some of its items
            Assert.Equal(items.Sum(i => (decimal)i!["subtotal"]!), (decimal)order["total_price"]!);
        }
        var ordered = orders.Values.SelectMany(o => o["items"]!.AsArray())
            .GroupBy(i => (long)i!["product_id"]!).ToDictionary(g => g.Key, g => g.Sum(i => (int)i!["quantity"]!));
        foreach (var id in products)
        {
            var after = (int)JsonNode.Parse(await server.Client.GetStringAsync($"/api/products/{id}?optimize=true", Ct))!["stock"]!;
            Assert.Equal(before[id] - ordered.GetValueOrDefault(id), after);
        }
        // The server is fine afterwards.
        using var ready = await server.Client.GetAsync("/api/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    private async Task<long> LastOrderIdAsync(ExBuyServer server)
    {
        // Orders are ids 1..n after the small seed; find n by probing upwards (the API has no order list).
        long id = 5000;
        while ((await server.Client.GetAsync($"/api/orders/{id + 1}", Ct)).StatusCode == HttpStatusCode.OK)
        {
            id++;
        }
        return id;
    }

    private async Task<Dictionary<long, JsonNode>> OrdersSinceAsync(ExBuyServer server, long last)
    {
        var orders = new Dictionary<long, JsonNode>();
        var misses = 0;
        for (var id = last + 1; misses < 200; id++)
        {
            using var response = await server.Client.GetAsync($"/api/orders/{id}?optimize=true", Ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                orders[id] = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
                misses = 0;
            }
            else
            {
                misses++; // ids of rolled-back orders are skipped on PostgreSQL (sequences do not roll back)
            }
        }
        return orders;
    }
}

public sealed class AbortedClientSqliteTests(PostgresCluster cluster) : AbortedClientTests("sqlite", cluster);

public sealed class AbortedClientPostgresTests(PostgresCluster cluster) : AbortedClientTests("postgres", cluster);
