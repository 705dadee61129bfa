using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

/// <summary>What set-up found on the target, through the API only.</summary>
public sealed class TargetData
{
    public JsonNode? Info { get; set; }
    public long ProductCount { get; set; }
    public int ProductPages { get; set; } = 1;         // pages of page_size 20
    public long ReviewCount { get; set; }
    public int ReviewPages { get; set; } = 1;
    public int PagesSampled { get; set; }
    public long[] Products { get; set; } = [];         // sampled ids
    public Dictionary<long, long> Stock { get; set; } = [];
    public long[] HotProducts { get; set; } = [];
    public long[] Orders { get; set; } = [];
    public int OrderProbes { get; set; }
    public long? MaxOrderId { get; set; }

    /// <summary>The ids {product} draws from.</summary>
    public long[] ProductPool => HotProducts.Length > 0 ? HotProducts : Products;
}

public static class Discovery
{
    public const int MaxSampledProducts = 2000;
    public const int SamplePageSize = 100;
    public const int MaxOrderIds = 500;

    public static async Task<TargetData> DiscoverAsync(HttpClient http, ScenarioDef scenario, Random random, Action<string> log, CancellationToken ct)
    {
        var data = new TargetData();
        try
        {
            using var info = await http.GetAsync("/api/info", ct);
            if (info.IsSuccessStatusCode) data.Info = JsonNode.Parse(await info.Content.ReadAsStringAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException) { }

        // Products: the count from page 1, then a sample of pages spread over the whole list.
        var first = await GetJsonAsync(http, $"/api/products?page=1&page_size={SamplePageSize}&ordering=id&optimize=true", ct)
                    ?? throw new InvalidOperationException("GET /api/products did not answer 200 with a page");
        data.ProductCount = first["count"]?.GetValue<long>() ?? 0;
        data.ProductPages = (int)Math.Max(1, (data.ProductCount + 19) / 20);
        var pages100 = (int)Math.Max(1, (data.ProductCount + SamplePageSize - 1) / SamplePageSize);
        var wanted = Math.Min(pages100, MaxSampledProducts / SamplePageSize);
        var pageNumbers = new SortedSet<int> { 1 };
        if (wanted >= pages100) for (var p = 1; p <= pages100; p++) pageNumbers.Add(p);
        else
        {
            var step = (double)pages100 / wanted;
            for (var k = 0; pageNumbers.Count < wanted && k < wanted * 4; k++)
                pageNumbers.Add(Math.Clamp(1 + (int)(k * step + random.NextDouble() * step), 1, pages100));
        }
        var pagesData = new List<JsonNode> { first };
        var rest = pageNumbers.Where(p => p != 1).ToList();
        await ForEachAsync(rest, 4, async p =>
        {
            var page = await GetJsonAsync(http, $"/api/products?page={p}&page_size={SamplePageSize}&ordering=id&optimize=true", ct);
            if (page is not null) lock (pagesData) pagesData.Add(page);
        }, ct);
        data.PagesSampled = pagesData.Count;
        foreach (var page in pagesData)
            foreach (var item in page["results"]?.AsArray() ?? [])
            {
                if (item?["id"] is not JsonNode idNode) continue;
                data.Stock[idNode.GetValue<long>()] = item["stock"]?.GetValue<long>() ?? 0;
            }
        data.Products = data.Stock.Keys.Order().Take(MaxSampledProducts).ToArray();
        log($"products: {data.ProductCount} ({data.ProductPages} pages of 20); sampled {data.Products.Length} ids from {data.PagesSampled} of {pages100} pages of {SamplePageSize}");

        var reviews = await GetJsonAsync(http, "/api/reviews?page=1&page_size=1&optimize=true", ct);
        data.ReviewCount = reviews?["count"]?.GetValue<long>() ?? 0;
        data.ReviewPages = (int)Math.Max(1, (data.ReviewCount + 19) / 20);
        log($"reviews: {data.ReviewCount} ({data.ReviewPages} pages of 20)");

        await ProbeOrdersAsync(http, data, random, ct);
        log(data.Orders.Length > 0
            ? $"orders: {data.Orders.Length} ids found by {data.OrderProbes} probes (highest id seen {data.MaxOrderId})"
            : $"orders: none found by {data.OrderProbes} probes; operations on {{order}} are skipped");

        if (scenario.HotProducts is int hot and > 0)
        {
            data.HotProducts = HotProducts(data.Stock, hot);
            log($"hot products: {string.Join(", ", data.HotProducts.Select(id => $"{id} (stock {data.Stock[id]})"))}");
        }
        return data;
    }

    /// <summary>Order ids by probing GET /api/orders/{id}: doubling to bracket the highest id, bisection, then random probes below it (bounded).</summary>
    private static async Task ProbeOrdersAsync(HttpClient http, TargetData data, Random random, CancellationToken ct)
    {
        var found = new SortedSet<long>();
        var probes = 0;
        async Task<bool> Exists(long id)
        {
            probes++;
            using var r = await http.GetAsync($"/api/orders/{id}?optimize=true", HttpCompletionOption.ResponseHeadersRead, ct);
            if (r.StatusCode == HttpStatusCode.OK) { found.Add(id); return true; }
            return false;
        }
        long lastHit = 0, firstMiss = 0;
        for (long id = 1; id <= 1L << 40; id *= 2)
        {
            if (await Exists(id)) lastHit = id;
            else if (lastHit > 0) { firstMiss = id; break; }
            if (lastHit == 0 && id >= 1L << 24) break; // nothing in the first 16M ids' powers of two
        }
        if (lastHit > 0 && firstMiss > 0)
        {
            long lo = lastHit, hi = firstMiss; // lo exists, hi does not (the ids between may have gaps: good enough for a sample)
            while (hi - lo > 1 && probes < 80) { var mid = lo + (hi - lo) / 2; if (await Exists(mid)) lo = mid; else hi = mid; }
            lastHit = lo;
        }
        if (lastHit > 0)
        {
            data.MaxOrderId = lastHit;
            var candidates = new HashSet<long>();
            var budget = (int)Math.Min(200, lastHit);
            if (lastHit <= budget) for (long i = 1; i <= lastHit; i++) candidates.Add(i);
            else while (candidates.Count < budget) candidates.Add(1 + random.NextInt64(lastHit));
            candidates.ExceptWith(found);
            var hits = new List<long>();
            await ForEachAsync(candidates.Order().ToList(), 8, async id =>
            {
                using var r = await http.GetAsync($"/api/orders/{id}?optimize=true", HttpCompletionOption.ResponseHeadersRead, ct);
                Interlocked.Increment(ref probes);
                if (r.StatusCode == HttpStatusCode.OK) lock (hits) hits.Add(id);
            }, ct);
            found.UnionWith(hits);
        }
        data.OrderProbes = probes;
        data.Orders = found.Take(MaxOrderIds).ToArray();
    }

    /// <summary>The scenario's hot set, as the k6 scripts choose it: the in-stock sampled products with the most stock (so the storm lasts).</summary>
    public static long[] HotProducts(IReadOnlyDictionary<long, long> stock, int count) =>
        stock.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(count).Select(kv => kv.Key).ToArray();

    public static async Task<JsonNode?> GetJsonAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var r = await http.GetAsync(path, ct);
        if (r.StatusCode != HttpStatusCode.OK) return null;
        try { return JsonNode.Parse(await r.Content.ReadAsStringAsync(ct)); }
        catch (JsonException) { return null; }
    }

    /// <summary>Stock of each product through GET /api/products/{id} (null: not readable).</summary>
    public static async Task<Dictionary<long, long?>> ReadStockAsync(HttpClient http, IReadOnlyCollection<long> ids, int parallelism, CancellationToken ct)
    {
        var result = new Dictionary<long, long?>();
        await ForEachAsync(ids.ToList(), parallelism, async id =>
        {
            long? stock = null;
            try
            {
                var d = await GetJsonAsync(http, $"/api/products/{id}?optimize=true", ct);
                if (d?["stock"] is JsonNode s) stock = s.GetValue<long>();
            }
            catch (HttpRequestException) { }
            lock (result) result[id] = stock;
        }, ct);
        return result;
    }

    public static Task ForEachAsync<T>(IReadOnlyList<T> items, int parallelism, Func<T, Task> body, CancellationToken ct) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (item, _) => await body(item));
}
