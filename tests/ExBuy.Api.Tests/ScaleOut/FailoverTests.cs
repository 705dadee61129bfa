using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace ExBuy.Api.Tests.ScaleOut;

/// <summary>
/// The failover drill on real PostgreSQL, under load: a synchronous standby, the primary stopped (a crash), the standby
/// promoted. ExBuy lists both hosts in DB_HOST and is never restarted: writes answer 503 while there is no primary and
/// resume after the promotion; catalog reads go on from the standby throughout; no acknowledged order is lost.
/// </summary>
public sealed class FailoverTests(SyncPair pair) : ReplicationTestBase(pair), IClassFixture<SyncPair>
{
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(10);

    private sealed record Outcome(string Kind, int Status, bool RetryAfter, string? Host, long? OrderId, TimeSpan At, string? Error);

    [Fact]
    public async Task After_the_primary_crashes_and_the_standby_is_promoted_writes_resume_without_a_restart_and_no_acknowledged_order_is_lost()
    {
        var server = await StartRoutedAsync(new() { ["DB_HOST"] = $"{PrimaryHost},{StandbyHost}" });
        var database = server.Environment["DB_NAME"];
        var pid = server.Pid;
        var outcomes = new ConcurrentBag<Outcome>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(15) };
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            while (!stop.IsCancellationRequested)
            {
                var product = random.Next(1, 200);
                var write = random.Next(2) == 0;
                var at = clock.Elapsed;
                try
                {
                    using var response = write
                        ? await http.PostAsJsonAsync("/api/orders", OneItemOrder(product), Ct)
                        : await http.GetAsync($"/api/products/{product}?optimize=true", Ct);
                    long? id = null;
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        id = (long)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["id"]!;
                    }
                    outcomes.Add(new(write ? "order" : "read", (int)response.StatusCode, response.Headers.RetryAfter is not null,
                        response.Headers.TryGetValues("X-Db-Host", out var h) ? h.Single() : null, id, at, null));
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    outcomes.Add(new(write ? "order" : "read", 0, false, null, null, at, ex.GetType().Name + ": " + ex.Message));
                }
                await Task.Delay(10, Ct);
            }
        })).ToArray();

        await Task.Delay(1500, Ct);
        var crashed = clock.Elapsed;
        await Pair.Primary.StopAsync("immediate");
        await Task.Delay(2000, Ct);
        var promoting = clock.Elapsed;
        await Pair.Standby!.PromoteAsync();
        var promoted = clock.Elapsed;
        // Until a write succeeds on the new primary (bounded), then a little more load on it.
        while (!outcomes.Any(o => o.Kind == "order" && o.Status == 201 && o.At > promoted) && clock.Elapsed - promoted < ResumeBound + TimeSpan.FromSeconds(2))
        {
            await Task.Delay(50, Ct);
        }
        await Task.Delay(1000, Ct);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        var all = outcomes.OrderBy(o => o.At).ToList();
        // Never a 500, never a hang or a reset: 200/201/409, or 503 with Retry-After while there is no primary.
        Assert.All(all, o => Assert.True(o.Status is 200 or 201 or 409 || (o.Status == 503 && o.RetryAfter),
            $"{o.Kind} at {o.At.TotalSeconds:F2} s: {o.Status} {o.Error}"));
        Assert.Contains(all, o => o.Kind == "order" && o.Status == 201 && o.At < crashed && o.Host == PrimaryHost);
        // While the primary is down, the standby still serves catalog reads.
        Assert.Contains(all, o => o.Kind == "read" && o.Status == 200 && o.At > crashed + TimeSpan.FromMilliseconds(200) && o.At < promoting
            && o.Host == StandbyHost);
        // Writes resume on the promoted standby, without restarting ExBuy.
        var resumed = all.FirstOrDefault(o => o.Kind == "order" && o.Status == 201 && o.At > promoted);
        Assert.True(resumed is not null, "no order succeeded after the promotion");
        Assert.True(resumed.At - promoted < ResumeBound, $"writes resumed {(resumed.At - promoted).TotalSeconds:F2} s after the promotion");
        Assert.Equal(StandbyHost, resumed.Host);
        Assert.Equal(pid, server.Pid);
        Assert.False(server.HasExited);
        // Synchronous replication: every order the client saw acknowledged is on the new primary, whole.
        var acknowledged = all.Where(o => o.OrderId is not null).Select(o => o.OrderId!.Value).ToArray();
        Assert.NotEmpty(acknowledged);
        Assert.Equal(acknowledged.Length, await ScalarAsync(Pair.Standby.Port, database,
            "SELECT count(*) FROM orders o WHERE o.id = ANY(@p0) AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)", acknowledged));
        // The new primary answers readiness, and /api/info's write hosts are the ones configured.
        using var ready = await server.Client.GetAsync("/api/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
