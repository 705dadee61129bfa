using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Server;

internal static class Signals
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    public static extern int Send(int pid, int signal);
}

/// <summary>
/// Each server variant as a real process (SERVER_MODE, THREADS, WORKERS, GC_MODE, the pool switches): it starts,
/// /api/info reports it, and it answers a contract smoke set of reads and writes.
/// </summary>
public abstract class ServerVariantTests(string engine, PostgresCluster cluster) : ServerProcessTests(engine, cluster)
{
    /// <summary>A fresh connection per call (SO_REUSEPORT spreads connections, not requests, across workers).</summary>
    private async Task<JsonElement> InfoOnNewConnectionAsync(ExBuyServer server)
    {
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        using var response = await client.GetAsync("/api/info", Ct);
        return await response.ExpectAsync(HttpStatusCode.OK);
    }

    /// <summary>Reads and writes across the endpoint levels: every answer as the contract says.</summary>
    private async Task SmokeAsync(ExBuyServer server)
    {
        var client = server.Client;
        using (var health = await client.GetAsync("/api/health", Ct))
        {
            await health.ExpectAsync(HttpStatusCode.OK);
        }
        using (var list = await client.GetAsync("/api/products?page_size=5&ordering=-price&optimize=true", Ct))
        {
            Assert.Equal(5, (await list.ExpectAsync(HttpStatusCode.OK)).GetProperty("results").GetArrayLength());
        }
        foreach (var optimize in new[] { "true", "false" })
        {
            using var detail = await client.GetAsync($"/api/products/3?optimize={optimize}", Ct);
            Assert.Equal(3, (await detail.ExpectAsync(HttpStatusCode.OK)).GetProperty("id").GetInt64());
        }
        using (var reviews = await client.GetAsync("/api/products/3/reviews?optimize=true", Ct))
        {
            await reviews.ExpectAsync(HttpStatusCode.OK);
        }
        using (var search = await client.GetAsync("/api/search/products?q=a&optimize=true", Ct))
        {
            await search.ExpectAsync(HttpStatusCode.OK);
        }
        long orderId;
        using (var order = await client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (4, 1))))
        {
            orderId = (await order.ExpectAsync(HttpStatusCode.Created)).GetProperty("id").GetInt64();
        }
        using (var read = await client.GetAsync($"/api/orders/{orderId}?optimize=true", Ct))
        {
            Assert.Equal(orderId, (await read.ExpectAsync(HttpStatusCode.OK)).GetProperty("id").GetInt64());
        }
        foreach (var lockType in new[] { "optimistic", "pessimistic", "versioned" })
        {
            using var reserve = await client.PostJsonAsync($"/api/inventory/reserve?lock_type={lockType}", """{"product_id": 5, "quantity": 1}""");
            Assert.Contains(reserve.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Conflict });
        }
        using (var top = await client.GetAsync("/api/stats/top-products?limit=3", Ct))
        {
            await top.ExpectAsync(HttpStatusCode.OK);
        }
        using (var bad = await client.PostJsonAsync("/api/orders", """{"user_id": 1, "items": []}"""))
        {
            await bad.ExpectProblemAsync(HttpStatusCode.BadRequest, "items");
        }
    }

    [Theory]
    [InlineData("SERVER_MODE=async")]
    [InlineData("SERVER_MODE=sync THREADS=4")]
    [InlineData("WORKERS=2")]
    [InlineData("GC_MODE=workstation")]
    [InlineData("GC_MODE=server")]
    [InlineData("DB_POOL_MIN=2 DB_AUTO_PREPARE=0")]
    [InlineData("DB_MULTIPLEXING=true")]
    public async Task VariantStartsReportsItselfAndAnswersTheSmokeSet(string variant)
    {
        var environment = variant.Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        var server = await StartAsync(environment);
        var info = await InfoOnNewConnectionAsync(server);
        Assert.Equal(environment.GetValueOrDefault("SERVER_MODE", "async"), info.GetProperty("server_mode").GetString());
        Assert.Equal(int.Parse(environment.GetValueOrDefault("WORKERS", "1"), System.Globalization.CultureInfo.InvariantCulture),
            info.GetProperty("workers").GetInt32());
        if (environment.TryGetValue("THREADS", out var threads))
        {
            Assert.Equal(threads, info.GetProperty("threads").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            Assert.Equal(JsonValueKind.Null, info.GetProperty("threads").ValueKind);
        }
        if (environment.TryGetValue("GC_MODE", out var gc))
        {
            Assert.Equal(gc, info.GetProperty("gc").GetProperty("mode").GetString());
            Assert.Equal(gc != "workstation", info.GetProperty("gc").GetProperty("server").GetBoolean());
        }
        var pool = info.GetProperty("db_pool");
        if (IsPostgres)
        {
            // Unset, the pool is fixed-size: its minimum is its maximum (no pruning storms).
            Assert.Equal(environment.ContainsKey("DB_POOL_MIN") ? 2 : pool.GetProperty("max").GetInt32(), pool.GetProperty("min").GetInt32());
            Assert.Equal(environment.ContainsKey("DB_AUTO_PREPARE") ? 0 : 64, pool.GetProperty("auto_prepare").GetInt32());
            Assert.Equal(environment.ContainsKey("DB_MULTIPLEXING"), pool.GetProperty("multiplexing").GetBoolean());
        }
        Assert.True(info.GetProperty("startup_ms").GetDouble() > 0);
        Assert.Equal("jit", info.GetProperty("build").GetString());
        await SmokeAsync(server);
    }

    /// <summary>
    /// The ReadyToRun publish profile (crossgen2, linux-x64) builds an app that says so in /api/info and answers the
    /// smoke set; SQLite only (the publish is the same for both engines and takes a minute).
    /// </summary>
    [Fact]
    public async Task ReadyToRunPublishStartsPrecompiledAndAnswersTheSmokeSet()
    {
        if (IsPostgres)
        {
            return;
        }
        var publish = Path.Combine(Path.GetTempPath(), "exbuy-r2r-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var project = Path.Combine(Observability.Repo.Root, "src", "ExBuy.Api");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { "publish", project, "-p:PublishProfile=ReadyToRun", $"-p:PublishDir={publish}/", "-nologo", "-v", "q" })
            {
                psi.ArgumentList.Add(arg);
            }
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync(Ct);
            var stderr = process.StandardError.ReadToEndAsync(Ct);
            using (var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct))
            {
                bounded.CancelAfter(TimeSpan.FromMinutes(8));
                await process.WaitForExitAsync(bounded.Token);
            }
            Assert.True(process.ExitCode == 0, $"dotnet publish -p:PublishProfile=ReadyToRun exited {process.ExitCode}: {await stdout}{await stderr}");

            var server = await ExBuyServer.StartAsync(Engine, Cluster, new Dictionary<string, string>(), Ct, Path.Combine(publish, "ExBuy.Api.dll"));
            try
            {
                var info = await InfoOnNewConnectionAsync(server);
                Assert.Equal("readytorun", info.GetProperty("build").GetString());
                await SmokeAsync(server);
            }
            finally
            {
                await server.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(publish, recursive: true);
        }
    }

    [Fact]
    public async Task SyncModeHoldsAThreadPerRequestAndQueuesTheRest()
    {
        var server = await StartAsync(new() { ["SERVER_MODE"] = "sync", ["THREADS"] = "3" });
        // Six requests that each hold their thread 400 ms: three run, three wait for a thread.
        var timings = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
            request.Headers.Add("X-Fault-Delay", "400ms");
            var watch = Stopwatch.StartNew();
            using var response = await client.SendAsync(request, Ct);
            await response.ExpectAsync(HttpStatusCode.OK);
            return watch.Elapsed;
        }));
        Assert.True(timings.Count(t => t >= TimeSpan.FromMilliseconds(780)) >= 3,
            $"with THREADS=3, at least three of six 400 ms requests should have queued: {string.Join(", ", timings.Select(t => t.TotalMilliseconds))}");
        var metrics = await server.Client.GetStringAsync("/metrics", Ct);
        Assert.Contains("exbuy_sync_threads{otel_scope_name=\"ExBuy\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("exbuy_sync_queue_wait_seconds_count", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkersAnswerFromTwoPidsAndAKilledWorkerIsReplaced()
    {
        var server = await StartAsync(new() { ["WORKERS"] = "2" });
        var pids = await DistinctPidsAsync(server, 2);
        Assert.DoesNotContain(server.Pid, pids); // the supervisor serves nothing itself

        var victim = pids.First();
        Assert.Equal(0, Signals.Send(victim, Signals.SigKill));
        var deadline = Stopwatch.StartNew();
        HashSet<int> now;
        do
        {
            await Task.Delay(200, Ct);
            now = await DistinctPidsAsync(server, 2, TimeSpan.FromSeconds(5), allowFewer: true);
        }
        while ((now.Count < 2 || now.Contains(victim)) && deadline.Elapsed < TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(victim, now);
        Assert.Equal(2, now.Count);
        Assert.Contains(server.StderrLines, l => l.Contains($"(pid {victim}) exited with 137", StringComparison.Ordinal));
    }

    private async Task<HashSet<int>> DistinctPidsAsync(ExBuyServer server, int want, TimeSpan? within = null, bool allowFewer = false)
    {
        var pids = new HashSet<int>();
        var watch = Stopwatch.StartNew();
        while (pids.Count < want && watch.Elapsed < (within ?? TimeSpan.FromSeconds(30)))
        {
            try
            {
                pids.Add((await InfoOnNewConnectionAsync(server)).GetProperty("worker_pid").GetInt32());
            }
            catch (HttpRequestException)
            {
                // A worker being replaced: its successor binds the port shortly.
            }
        }
        Assert.True(allowFewer || pids.Count >= want, $"only {pids.Count} worker pid(s) answered in {watch.Elapsed.TotalSeconds:F0} s");
        return pids;
    }

    /// <summary>
    /// SIGTERM while 8 clients place orders and read (a new connection per request): the process exits 0, no response is
    /// a 5xx, and every request sent well before the signal (250 ms: it was surely accepted) was answered. Requests sent
    /// after it may find the listener closed — refused, or reset from the kernel's accept queue as the listening socket
    /// closes: the server never accepted them (in production the load balancer stops sending first).
    /// </summary>
    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public async Task SigtermUnderLoadFailsNoRequestAndExitsZero(string workers)
    {
        var server = await StartAsync(new() { ["WORKERS"] = workers });
        if (workers == "2")
        {
            await DistinctPidsAsync(server, 2);
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        var sigtermAt = long.MaxValue;
        var answered = 0;
        var notAccepted = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var clients = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero })
            {
                BaseAddress = new Uri(server.BaseUrl),
            };
            while (!stop.IsCancellationRequested)
            {
                var sent = clock.ElapsedMilliseconds;
                try
                {
                    using var response = i % 2 == 0
                        ? await client.PostAsync("/api/orders", Http.Json(Arrange.OrderJson(Arrange.NewUserId(), (6 + i, 1))), stop.Token)
                        : await client.GetAsync("/api/products/7?optimize=true", stop.Token);
                    if ((int)response.StatusCode >= 500)
                    {
                        failures.Enqueue($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(stop.Token)}");
                    }
                    Interlocked.Increment(ref answered);
                }
                catch (HttpRequestException e)
                {
                    if (sent < Interlocked.Read(ref sigtermAt) - 250)
                    {
                        failures.Enqueue($"sent at {sent} ms, SIGTERM at {Interlocked.Read(ref sigtermAt)} ms: {e.Message} {e.InnerException?.Message}");
                    }
                    Interlocked.Increment(ref notAccepted);
                    if (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
                    {
                        return; // the listener is closed
                    }
                }
            }
        }, Ct)).ToArray();
        // Under load for a while first (cold workers compile the order path on their first requests).
        for (var waited = 0; Volatile.Read(ref answered) < 50 && waited < 150; waited++)
        {
            await Task.Delay(100, Ct);
        }
        await Task.Delay(500, Ct);
        Assert.True(Volatile.Read(ref answered) >= 50, "fewer than 50 requests answered before SIGTERM: " + string.Join(Environment.NewLine, failures.Take(3)));
        Interlocked.Exchange(ref sigtermAt, clock.ElapsedMilliseconds);
        Assert.Equal(0, Signals.Send(server.Pid, Signals.SigTerm));
        var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(40), Ct);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.Take(5)));
        Assert.Equal(0, exit);
    }

    [Theory]
    [InlineData("WORKERS", "0", "WORKERS=0 is out of range")]
    [InlineData("WORKERS", "many", "WORKERS='many' is not a whole number")]
    [InlineData("SERVER_MODE", "fast", "SERVER_MODE='fast' is not supported")]
    [InlineData("THREADS", "-1", "THREADS=-1 is out of range")]
    [InlineData("GC_MODE", "turbo", "GC_MODE='turbo' is not supported")]
    [InlineData("DB_POOL_MIN", "500", "DB_POOL_MIN=500 is out of range")]
    [InlineData("DB_AUTO_PREPARE", "-3", "DB_AUTO_PREPARE=-3 is out of range")]
    [InlineData("DB_MULTIPLEXING", "perhaps", "DB_MULTIPLEXING='perhaps' is not a boolean")]
    [InlineData("HTTP_MAX_CONNECTIONS", "0", "HTTP_MAX_CONNECTIONS='0' is out of range")]
    [InlineData("HTTP_HEADERS_TIMEOUT", "soon", "HTTP_HEADERS_TIMEOUT='soon' is not a duration")]
    [InlineData("SHUTDOWN_TIMEOUT", "11m", "SHUTDOWN_TIMEOUT='11m' is not a duration")]
    [InlineData("DB_POOL_TIMEOUT", "0", "DB_POOL_TIMEOUT=0 is out of range")]
    [InlineData("DB_STATEMENT_TIMEOUT", "2h", "DB_STATEMENT_TIMEOUT='2h' is not a duration")]
    [InlineData("SHUTDOWN_DELAY", "8s", "SHUTDOWN_DELAY='8s' must be 0 or less than SHUTDOWN_TIMEOUT (8 s)")]
    [InlineData("DB_READ_HOSTS", "standby:99999", "'standby:99999' in DB_READ_HOSTS is not host[:port] with a port in 1..65535")]
    [InlineData("DB_PGBOUNCER", "maybe", "DB_PGBOUNCER='maybe' is not a boolean")]
    public async Task BadValueIsOneLineAndANonZeroExit(string key, string value, string message)
    {
        var environment = new Dictionary<string, string> { [key] = value };
        if (key == "THREADS")
        {
            environment["SERVER_MODE"] = "sync";
        }
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ExBuyServer.StartAsync(Engine, Cluster, environment, Ct));
        Assert.Contains("exited with 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("exbuy: " + message, ex.Message, StringComparison.Ordinal);
    }
}

public sealed class ServerVariantSqliteTests(PostgresCluster cluster) : ServerVariantTests("sqlite", cluster);

public sealed class ServerVariantPostgresTests(PostgresCluster cluster) : ServerVariantTests("postgres", cluster);
