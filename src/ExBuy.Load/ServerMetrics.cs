using System.Globalization;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

/// <summary>
/// The target's own numbers around the measured phase: GET /metrics (Prometheus text) right before and right after it,
/// and the differences per route of SQL commands, DB time and server time. A target without /metrics (the Django
/// original) records null.
/// </summary>
public static class ServerMetrics
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The sums this reads: series name → what it adds up, by (http_route, optimize).</summary>
    public static readonly string[] Names =
    [
        "exbuy_request_queries_sum", "exbuy_request_queries_count",
        "exbuy_request_db_duration_seconds_sum", "exbuy_request_db_duration_seconds_count",
        "http_server_request_duration_seconds_sum", "http_server_request_duration_seconds_count",
    ];

    /// <summary>One scrape: (metric, http_route, optimize) → value summed over the other labels (status code, method, ...).</summary>
    public sealed record Snapshot(DateTimeOffset At, IReadOnlyDictionary<(string Metric, string Route, string? Optimize), double> Values);

    /// <summary>GET /metrics, bounded to 5 s; null when the target has none (non-200, not Prometheus text, unreachable).</summary>
    public static async Task<Snapshot?> ScrapeAsync(HttpClient http, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync("/metrics", timeout.Token);
            if (!response.IsSuccessStatusCode) return null;
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            return Parse(text, DateTimeOffset.UtcNow);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    /// <summary>Reads the series of <see cref="Names"/> from Prometheus (or OpenMetrics) text; null when it has none of them.</summary>
    public static Snapshot? Parse(string text, DateTimeOffset at)
    {
        var values = new Dictionary<(string, string, string?), double>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0) continue;
            var nameEnd = brace >= 0 && brace < space ? brace : space;
            var name = line[..nameEnd];
            if (Array.IndexOf(Names, name) < 0) continue;
            Dictionary<string, string> labels = [];
            var rest = line[nameEnd..];
            if (rest.StartsWith('{'))
            {
                var close = ParseLabels(rest, labels);
                if (close < 0) continue;
                rest = rest[(close + 1)..];
            }
            // value [timestamp] [# exemplar]
            var fields = rest.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || !double.TryParse(fields[0], NumberStyles.Float, Inv, out var value) || double.IsNaN(value)) continue;
            if (!labels.TryGetValue("http_route", out var route)) continue; // the scrape's own or unrouted (404) requests
            labels.TryGetValue("optimize", out var optimize);
            var key = (name, route, optimize);
            values[key] = values.GetValueOrDefault(key) + value;
        }
        return values.Count == 0 && !text.Contains("exbuy_", StringComparison.Ordinal) && !text.Contains("http_server_request_duration", StringComparison.Ordinal)
            ? null
            : new Snapshot(at, values);
    }

    /// <summary>Parses <c>{a="x",b="y\"z"}</c> at the start of <paramref name="s"/>; returns the index of the closing brace or -1.</summary>
    private static int ParseLabels(string s, Dictionary<string, string> labels)
    {
        var i = 1;
        while (i < s.Length)
        {
            while (i < s.Length && (s[i] == ',' || s[i] == ' ')) i++;
            if (i < s.Length && s[i] == '}') return i;
            var eq = s.IndexOf('=', i);
            if (eq < 0 || eq + 1 >= s.Length || s[eq + 1] != '"') return -1;
            var name = s[i..eq];
            var value = new System.Text.StringBuilder();
            var j = eq + 2;
            for (; j < s.Length && s[j] != '"'; j++)
            {
                if (s[j] == '\\' && j + 1 < s.Length)
                {
                    j++;
                    value.Append(s[j] == 'n' ? '\n' : s[j]);
                }
                else value.Append(s[j]);
            }
            if (j >= s.Length) return -1;
            labels[name] = value.ToString();
            i = j + 1;
        }
        return -1;
    }

    private static double R(double v) => Math.Round(v, 4);

    /// <summary>
    /// The result's <c>"server_metrics"</c>: per (route, optimize) the requests of the measured phase, SQL commands and DB time per
    /// request; per route the server time per request (http_server_request_duration, which has no optimize label) and the DB
    /// share (Σ DB time ÷ Σ server time of the route). Null when either scrape is missing.
    /// </summary>
    public static JsonObject? Diff(Snapshot? before, Snapshot? after)
    {
        if (before is null || after is null) return null;
        double D(string metric, string route, string? optimize) =>
            after.Values.GetValueOrDefault((metric, route, optimize)) - before.Values.GetValueOrDefault((metric, route, optimize));
        double RouteD(string metric, string route) =>
            after.Values.Where(kv => kv.Key.Metric == metric && kv.Key.Route == route).Sum(kv => kv.Value)
            - before.Values.Where(kv => kv.Key.Metric == metric && kv.Key.Route == route).Sum(kv => kv.Value);

        var keys = after.Values.Keys.Select(k => (k.Route, k.Optimize)).Distinct()
            .OrderBy(k => k.Route, StringComparer.Ordinal).ThenBy(k => k.Optimize, StringComparer.Ordinal);
        var routes = new JsonArray();
        foreach (var (route, optimize) in keys)
        {
            var queriesCount = D("exbuy_request_queries_count", route, optimize);
            var httpCount = RouteD("http_server_request_duration_seconds_count", route);
            if (queriesCount <= 0 && (optimize is not null || httpCount <= 0)) continue;
            if (queriesCount <= 0 && after.Values.Keys.Any(k => k.Route == route && k.Optimize is not null && D("exbuy_request_queries_count", route, k.Optimize) > 0)) continue;
            var httpSum = RouteD("http_server_request_duration_seconds_sum", route);
            var routeDb = RouteD("exbuy_request_db_duration_seconds_sum", route);
            var dbCount = D("exbuy_request_db_duration_seconds_count", route, optimize);
            var dbSum = D("exbuy_request_db_duration_seconds_sum", route, optimize);
            routes.Add(new JsonObject
            {
                ["route"] = route,
                ["optimize"] = optimize,
                ["requests"] = (long)Math.Round(queriesCount > 0 ? queriesCount : httpCount),
                ["sql_per_request"] = queriesCount > 0 ? R(D("exbuy_request_queries_sum", route, optimize) / queriesCount) : null,
                ["db_ms_per_request"] = dbCount > 0 ? R(dbSum * 1000 / dbCount) : null,
                ["route_requests"] = (long)Math.Round(httpCount),
                ["route_server_ms_per_request"] = httpCount > 0 ? R(httpSum * 1000 / httpCount) : null,
                ["route_db_share"] = httpSum > 0 ? R(routeDb / httpSum) : null,
            });
        }
        return new JsonObject
        {
            ["source"] = "GET /metrics right before and right after the measured phase",
            ["before_at"] = before.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["after_at"] = after.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
            ["note"] = "per route and optimize flag: requests, SQL commands and DB time per request (exbuy_request_*); per route: server time per request "
                + "(http_server_request_duration) and DB share = Σ DB time ÷ Σ server time",
            ["routes"] = routes,
        };
    }
}
