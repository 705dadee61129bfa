using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Reliability;

/// <summary>
/// SQLite under a write storm: one writer at a time by design (BEGIN IMMEDIATE, busy timeout), so 32 clients writing at
/// once queue for the lock — no "database is locked" reaches a client, no 503 — and the WAL stays bounded.
/// </summary>
public sealed class SqliteWriteStormTests(PostgresCluster cluster) : ServerProcessTests("sqlite", cluster)
{
    [Fact]
    public async Task Thirty_two_concurrent_writers_never_see_a_locked_database_and_the_wal_stays_bounded()
    {
        var server = await StartAsync(new());
        var statuses = new ConcurrentDictionary<int, int>();
        var bodies = new ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async c =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
            for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(6); i++)
            {
                var product = 1 + ((c * 31 + i) % 50);
                var (url, json) = (i % 4) switch
                {
                    0 => ("/api/orders", $"{{\"user_id\": {c + 1}, \"items\": [{{\"product_id\": {product}, \"quantity\": 1}}]}}"),
                    1 => ("/api/inventory/reserve?lock_type=" + (c % 2 == 0 ? "pessimistic" : "versioned"), $"{{\"product_id\": {product}, \"quantity\": 1}}"),
                    2 => ("/api/reviews", $"{{\"product\": {product}, \"user_id\": {c + 1}, \"rating\": 4, \"body\": \"storm {i}\"}}"),
                    _ => ("/api/orders/bulk", $"{{\"orders\": [{{\"user_id\": {c + 1}, \"items\": [{{\"product_id\": {product}, \"quantity\": 1}}]}}]}}"),
                };
                using var response = await http.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"), Ct);
                statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                if ((int)response.StatusCode >= 500)
                {
                    bodies.Enqueue(await response.Content.ReadAsStringAsync(Ct));
                }
            }
        }));
        var summary = string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"));
        Assert.True(bodies.IsEmpty, $"{summary}: {string.Join(" | ", bodies.Take(3))}");
        Assert.All(statuses.Keys, s => Assert.Contains(s, new[] { 200, 201, 409 }));
        Assert.True(statuses.GetValueOrDefault(201) > 100, summary);
        var wal = new FileInfo(server.Environment["DB_PATH"] + "-wal");
        Assert.True(!wal.Exists || wal.Length < 68 * 1024 * 1024, $"WAL at {wal.Length} bytes");
    }
}
