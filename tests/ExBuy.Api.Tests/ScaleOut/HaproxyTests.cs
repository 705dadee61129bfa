using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Observability;
using ExBuy.Api.Tests.Server;

namespace ExBuy.Api.Tests.ScaleOut;

/// <summary>
/// deploy/scale-out/haproxy.cfg in a real HAProxy in front of two real ExBuy processes on one PostgreSQL database (the
/// shared test cluster): the config is accepted, both replicas serve, and a replica drained with SIGTERM
/// (SHUTDOWN_DELAY) under a steady load fails no request while the other serves the rest.
/// </summary>
public sealed class HaproxyTests(PostgresCluster cluster) : ServerProcessTests("postgres", cluster)
{
    private readonly Sidecars _sidecars = new();

    public override async ValueTask DisposeAsync()
    {
        await _sidecars.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>The variables haproxy.cfg reads, for replicas on the given ports.</summary>
    private static Dictionary<string, string> HaproxyEnvironment(int frontend, int stats, string socket, int replica1, int replica2) => new()
    {
        ["EXBUY_BIND"] = $"127.0.0.1:{frontend}",
        ["EXBUY_SERVER_1"] = $"127.0.0.1:{replica1}",
        ["EXBUY_SERVER_2"] = $"127.0.0.1:{replica2}",
        ["HAPROXY_STATS_BIND"] = $"127.0.0.1:{stats}",
        ["HAPROXY_SOCKET"] = socket,
    };

    [Fact]
    public async Task HaproxyAcceptsTheShippedConfig()
    {
        var haproxy = ScaleOutFiles.RequireTool("haproxy");
        var dir = _sidecars.TempDir("exbuy-haproxy-");
        var environment = HaproxyEnvironment(ExBuyServer.FreePort(), ExBuyServer.FreePort(), Path.Combine(dir, "haproxy.sock"), 8001, 8002);
        var (exit, output) = await Tools.RunAsync(haproxy, ["-c", "-f", Repo.File(ScaleOutFiles.HaproxyCfg)], null, Ct, psi =>
        {
            foreach (var (key, value) in environment)
            {
                psi.Environment[key] = value;
            }
        });
        Assert.True(exit == 0, $"haproxy -c -f {ScaleOutFiles.HaproxyCfg} failed ({exit}): {output}");
        Assert.DoesNotContain("[WARNING]", output, StringComparison.Ordinal);
    }

    /// <summary>Two ExBuy processes on one database (the first migrates and seeds, the second finds it ready) and HAProxy in front.</summary>
    private async Task<(ExBuyServer A, ExBuyServer B, HttpClient Lb, Func<Task<Dictionary<string, string>>> States)> StartTopologyAsync(
        Dictionary<string, string> replicaEnvironment)
    {
        var haproxy = ScaleOutFiles.RequireTool("haproxy");
        var uploads = _sidecars.TempDir("exbuy-uploads-");
        var database = Cluster.NewDatabase("haproxy");
        var environment = new Dictionary<string, string>(replicaEnvironment) { ["DB_NAME"] = database, ["UPLOAD_DIR"] = uploads };
        var a = await StartAsync(new(environment));
        var b = await StartAsync(new(environment) { ["SEED_ON_EMPTY"] = "none" });

        var dir = _sidecars.TempDir("exbuy-haproxy-");
        await ScaleOutFiles.GiveToNobodyAsync(dir, Ct);
        var config = Path.Combine(dir, "haproxy.cfg");
        File.Copy(Repo.File(ScaleOutFiles.HaproxyCfg), config);
        var frontend = ExBuyServer.FreePort();
        var socket = Path.Combine(dir, "haproxy.sock");
        var (file, arguments) = ScaleOutFiles.AsUnprivileged(haproxy, "-db", "-f", config);
        var process = _sidecars.Start("haproxy", file, arguments, HaproxyEnvironment(frontend, ExBuyServer.FreePort(), socket, a.Port, b.Port));
        await ScaleOutFiles.WaitForPortAsync(frontend, process, TimeSpan.FromSeconds(10), Ct);

        async Task<Dictionary<string, string>> States()
        {
            var stat = await RuntimeAsync(socket, "show stat");
            return stat.Split('\n').Select(l => l.Split(',')).Where(f => f.Length > 17 && f[0] == "exbuy" && f[1].StartsWith("web", StringComparison.Ordinal))
                .ToDictionary(f => f[1], f => f[17]);
        }
        var clock = Stopwatch.StartNew();
        while ((await States()).Values.Count(s => s == "UP") < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"HAProxy does not see both replicas UP: {string.Join(", ", await States())}; {process.Output}");
            await Task.Delay(100, Ct);
        }
        var lb = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{frontend}"), Timeout = TimeSpan.FromSeconds(30) };
        return (a, b, lb, States);
    }

    /// <summary>One command on HAProxy's runtime API (the stats socket).</summary>
    private async Task<string> RuntimeAsync(string socketPath, string command)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), Ct);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(command + "\n"), Ct);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(Ct);
    }

    [Fact]
    public async Task BothReplicasServeBehindHaproxy()
    {
        var (a, b, lb, _) = await StartTopologyAsync(new());
        using var _lb = lb;
        var servers = new HashSet<string>();
        var instances = new HashSet<string>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await lb.GetAsync("/api/info", Ct);
            var info = await response.ExpectAsync(HttpStatusCode.OK);
            servers.Add(string.Join(',', response.Headers.GetValues("X-ExBuy-Server")));
            Assert.True(info.TryGetProperty("instance", out var instance), $"/api/info has no instance: {info}");
            instances.Add(instance.GetRawText());
        }
        Assert.Equal(["web1", "web2"], servers.Order(StringComparer.Ordinal));
        Assert.Equal(2, instances.Count);
        Assert.Contains(instances, i => i.Contains(a.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.Contains(instances, i => i.Contains(b.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

        // Both see the same data: an order placed through one is read through the other.
        using var created = await lb.PostAsync("/api/orders", Http.Json(Arrange.OrderJson(Arrange.NewUserId(), (3, 1))), Ct);
        var order = await created.ExpectAsync(HttpStatusCode.Created);
        var id = order.GetProperty("id").GetInt64();
        var readers = new HashSet<string>();
        for (var i = 0; i < 4; i++)
        {
            using var read = await lb.GetAsync($"/api/orders/{id}", Ct);
            await read.ExpectAsync(HttpStatusCode.OK);
            readers.Add(string.Join(',', read.Headers.GetValues("X-ExBuy-Server")));
        }
        Assert.Equal(2, readers.Count);
    }

    /// <summary>
    /// 4 clients read and place orders through HAProxy without pause; after a warm second, replica A gets SIGTERM with
    /// SHUTDOWN_DELAY=3s. Its readiness turns 503, HAProxy marks it down (2 checks 500 ms apart) while it still serves,
    /// then it closes its listener and exits 0. Every request of the whole run succeeds, and B answers everything
    /// after A's exit.
    /// </summary>
    [Fact]
    public async Task AReplicaDrainedWithSigtermFailsNoRequestAndTheOtherServesTheRest()
    {
        var (a, b, lb, states) = await StartTopologyAsync(new() { ["SHUTDOWN_DELAY"] = "3s" });
        using var _lb = lb;
        // Products with stock to spare: every order can succeed.
        using var page = await lb.GetAsync("/api/products?ordering=-stock&page_size=8&optimize=true", Ct);
        var products = (await page.ExpectAsync(HttpStatusCode.OK)).GetProperty("results").EnumerateArray()
            .Where(p => p.GetProperty("stock").GetInt32() > 100).Select(p => p.GetProperty("id").GetInt64()).ToArray();
        Assert.NotEmpty(products);

        var clock = Stopwatch.StartNew();
        var failures = new ConcurrentQueue<string>();
        var answers = new ConcurrentQueue<(long At, string Server)>();
        var sigtermAt = long.MaxValue;
        var exitedAt = long.MaxValue;
        var load = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            for (var n = 0; n < 100_000 && clock.Elapsed < TimeSpan.FromSeconds(9); n++)
            {
                var product = products[random.Next(products.Length)];
                var write = n % 3 == 0;
                try
                {
                    using var response = write
                        ? await lb.PostAsync("/api/orders", Http.Json(Arrange.OrderJson(Arrange.NewUserId(), (product, 1))), Ct)
                        : await lb.GetAsync($"/api/products/{product}?optimize=true", Ct);
                    var body = await response.Content.ReadAsStringAsync(Ct);
                    if (response.StatusCode != (write ? HttpStatusCode.Created : HttpStatusCode.OK))
                    {
                        failures.Enqueue($"{(write ? "POST /api/orders" : "GET detail")} at {clock.ElapsedMilliseconds} ms: {(int)response.StatusCode} {body}");
                    }
                    answers.Enqueue((clock.ElapsedMilliseconds, response.Headers.TryGetValues("X-ExBuy-Server", out var s) ? string.Join(',', s) : "?"));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !Ct.IsCancellationRequested)
                {
                    failures.Enqueue($"{(write ? "POST /api/orders" : "GET detail")} at {clock.ElapsedMilliseconds} ms: {e.GetType().Name} {e.Message}");
                }
            }
        }, Ct)).ToArray();

        await Task.Delay(1500, Ct);
        const string serverOfA = "web1"; // EXBUY_SERVER_1 is A's port
        Interlocked.Exchange(ref sigtermAt, clock.ElapsedMilliseconds);
        Assert.Equal(0, Signals.Send(a.Pid, Signals.SigTerm));
        var exit = await a.WaitForExitAsync(TimeSpan.FromSeconds(20), Ct);
        Interlocked.Exchange(ref exitedAt, clock.ElapsedMilliseconds);
        await Task.WhenAll(load);

        Assert.True(failures.IsEmpty, $"{failures.Count} failed requests (SIGTERM at {sigtermAt} ms, exit at {exitedAt} ms):\n"
            + string.Join('\n', failures.Take(10)));
        Assert.Equal(0, exit);
        // A drained for SHUTDOWN_DELAY before exiting, and served until HAProxy moved the traffic away.
        Assert.True(exitedAt - sigtermAt >= 2500, $"A exited {exitedAt - sigtermAt} ms after SIGTERM: SHUTDOWN_DELAY=3s was not honoured");
        Assert.Contains(answers, x => x.Server == serverOfA && x.At < sigtermAt);
        // (200 ms: an answer A sent just before exiting may be recorded by its client a little after the exit was seen.)
        Assert.DoesNotContain(answers, x => x.Server == serverOfA && x.At > exitedAt + 200);
        var after = answers.Where(x => x.At > exitedAt + 200).ToList();
        Assert.True(after.Count >= 20, $"only {after.Count} answers after A exited");
        Assert.All(after, x => Assert.Equal("web2", x.Server));
        Assert.False(b.HasExited);
        Assert.Equal("DOWN", (await states())["web1"]);
    }
}
