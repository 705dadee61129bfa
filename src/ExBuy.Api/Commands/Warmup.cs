using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace ExBuy.Api.Commands;

public sealed record WarmupEndpoint(string Name, int Requests, int Ok, int ClientErrors, int ServerErrors, int Failures, double MeanMs, double MaxMs);

public sealed record WarmupResult(string Url, int Requests, TimeSpan Elapsed, IReadOnlyList<WarmupEndpoint> Endpoints)
{
    public int Ok => Endpoints.Sum(e => e.Ok);
    public int ClientErrors => Endpoints.Sum(e => e.ClientErrors);
    public int ServerErrors => Endpoints.Sum(e => e.ServerErrors);
    public int Failures => Endpoints.Sum(e => e.Failures);
}

/// <summary>
/// A bounded pass over every read endpoint, with optimize=false and optimize=true, before a measured run: JIT, EF's
/// query cache, prepared statements and the database's buffers get warm. Talks HTTP only.
/// </summary>
public static class Warmup
{
    /// <summary>The whole pass stops after this, whatever the request budget.</summary>
    public static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(2);

    public static async Task<WarmupResult> RunAsync(HttpClient client, int requests, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 1);
        var url = client.BaseAddress?.ToString().TrimEnd('/') ?? "(no base address)";
        var watch = Stopwatch.StartNew();
        var stats = new Dictionary<string, Tally>();
        var order = new List<string>();

        // The server must answer at all; anything else is counted, not fatal.
        var health = await SendAsync(client, "health", "/api/health", stats, order, ct);
        if (health.Error is { } error)
        {
            throw new CommandException($"no server answers at {url}: {error}. Start it (dotnet run --project src/ExBuy.Api) or pass --url.");
        }
        if (health.Status != HttpStatusCode.OK)
        {
            throw new CommandException($"{url}/api/health answered {(int)health.Status}: is this an ExBuy server?");
        }

        var productIds = new List<long>();
        if (requests > 1)
        {
            var list = await SendAsync(client, "products (ids)", "/api/products?page_size=5&optimize=true", stats, order, ct);
            productIds.AddRange(Ids(list.Body));
        }
        if (productIds.Count == 0)
        {
            productIds.Add(1);
        }
        long[] orderIds = [1, 2, 3];

        var targets = Targets().ToList();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeLimit);
        var sent = stats.Values.Sum(t => t.Requests);
        for (var i = 0; sent < requests && !limit.IsCancellationRequested; i++, sent++)
        {
            var (name, path) = targets[i % targets.Count];
            var round = i / targets.Count;
            path = path
                .Replace("{product}", productIds[round % productIds.Count].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{order}", orderIds[round % orderIds.Length].ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
            try
            {
                await SendAsync(client, name, path, stats, order, limit.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                break;
            }
        }
        var endpoints = order.Select(n => stats[n].ToEndpoint(n)).ToList();
        return new WarmupResult(url, endpoints.Sum(e => e.Requests), watch.Elapsed, endpoints);
    }

    /// <summary>Every read endpoint of the contract, each with optimize=false then optimize=true where it has the flag.</summary>
    private static IEnumerable<(string Name, string Path)> Targets()
    {
        (string, string)[] reads =
        [
            ("products", "/api/products?optimize={o}"),
            ("products category", "/api/products?category=electronics&optimize={o}"),
            ("products price", "/api/products?min_price=10&max_price=100&ordering=-price&optimize={o}"),
            ("products newest p2", "/api/products?ordering=-created_at&page=2&optimize={o}"),
            ("product", "/api/products/{product}?optimize={o}"),
            ("product reviews", "/api/products/{product}/reviews?optimize={o}"),
            ("search", "/api/search/products?q=wireless&optimize={o}"),
            ("search in_stock", "/api/search/products?q=mouse&category=electronics&in_stock=true&optimize={o}"),
            ("reviews", "/api/reviews?optimize={o}"),
            ("reviews rating", "/api/reviews?rating=5&optimize={o}"),
            ("order", "/api/orders/{order}?optimize={o}"),
        ];
        yield return ("health", "/api/health");
        foreach (var (name, path) in reads)
        {
            yield return ($"{name} opt=0", path.Replace("{o}", "false", StringComparison.Ordinal));
            yield return ($"{name} opt=1", path.Replace("{o}", "true", StringComparison.Ordinal));
        }
        yield return ("stats", "/api/stats/top-products?limit=10");
    }

    private static async Task<(HttpStatusCode Status, string? Body, string? Error)> SendAsync(HttpClient client, string name, string path,
        Dictionary<string, Tally> stats, List<string> order, CancellationToken ct)
    {
        if (!stats.TryGetValue(name, out var tally))
        {
            stats[name] = tally = new Tally();
            order.Add(name);
        }
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await client.GetAsync(path, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            tally.Add((int)response.StatusCode, watch.Elapsed.TotalMilliseconds);
            return (response.StatusCode, body, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            tally.Add(0, watch.Elapsed.TotalMilliseconds);
            var reason = ex is TaskCanceledException ? $"no answer within {client.Timeout.TotalSeconds:F0} s" : Reason(ex);
            return (0, null, reason);
        }
    }

    private static string Reason(Exception ex)
    {
        var root = ex;
        while (root.InnerException is not null)
        {
            root = root.InnerException;
        }
        return root.Message.ReplaceLineEndings(" ").Trim();
    }

    private static IEnumerable<long> Ids(string? body)
    {
        if (body is null)
        {
            return [];
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array
                ? [.. results.EnumerateArray()
                    .Where(r => r.ValueKind == JsonValueKind.Object && r.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number)
                    .Select(r => r.GetProperty("id").GetInt64())]
                : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>The warmup summary: one line per endpoint, then the totals.</summary>
    public static void WriteSummary(WarmupResult result, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"  {"endpoint",-26} {"req",5} {"2xx",5} {"4xx",5} {"5xx",5} {"fail",5} {"mean ms",9} {"max ms",9}"));
        foreach (var e in result.Endpoints)
        {
            output.WriteLine(string.Create(inv,
                $"  {e.Name,-26} {e.Requests,5} {e.Ok,5} {e.ClientErrors,5} {e.ServerErrors,5} {e.Failures,5} {e.MeanMs,9:F1} {e.MaxMs,9:F1}"));
        }
        output.WriteLine(string.Create(inv,
            $"  {"total",-26} {result.Requests,5} {result.Ok,5} {result.ClientErrors,5} {result.ServerErrors,5} {result.Failures,5} in {result.Elapsed.TotalSeconds:F1} s"));
    }

    private sealed class Tally
    {
        public int Requests;
        private int _ok, _client, _server, _failures;
        private double _totalMs, _maxMs;

        public void Add(int status, double ms)
        {
            Requests++;
            _totalMs += ms;
            _maxMs = Math.Max(_maxMs, ms);
            switch (status)
            {
                case 0:
                    _failures++;
                    break;
                case >= 500:
                    _server++;
                    break;
                case >= 400:
                    _client++;
                    break;
                default:
                    _ok++;
                    break;
            }
        }

        public WarmupEndpoint ToEndpoint(string name) =>
            new(name, Requests, _ok, _client, _server, _failures, Requests == 0 ? 0 : _totalMs / Requests, _maxMs);
    }
}
