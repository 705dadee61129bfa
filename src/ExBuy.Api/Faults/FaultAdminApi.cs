using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ExBuy.Api.Common;
using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Faults;

/// <summary>
/// The runtime fault rules (contract: Faults and latency, "At run time"): <c>GET|PUT|DELETE /api/admin/faults</c> read,
/// replace or clear this process's active rules (<see cref="FaultRuleSet"/>); <c>PUT /api/admin/faults/seed</c>
/// restarts the draws from a seed. Mapped only when <c>ADMIN_TOKEN</c> is set (otherwise these paths answer 404 like any
/// unknown path); every call needs <c>Authorization: Bearer &lt;ADMIN_TOKEN&gt;</c>, compared in constant time (SHA-256
/// of both sides, so neither content nor length leaks through timing); a refused call is a 401 and one log line.
/// <c>PUT ?validate_only=true</c> checks and normalises a list without applying it (a load runner pre-flights its
/// timeline with it).
/// </summary>
public static class FaultAdminApi
{
    public const string Prefix = "/api/admin";
    public const int MaxRules = 100;
    private const string LogCategory = "ExBuy.Admin";

    private static readonly HashSet<string> Fields =
        ["route", "delay_ms", "db_delay_ms", "error_status", "percent", "until", "delay_percent", "db_delay_percent", "error_percent", "source"];

    /// <summary>Maps the admin API (when ADMIN_TOKEN is set); call it last: it also hands the mapped routes to <see cref="FaultRoutes"/>.</summary>
    public static IEndpointRouteBuilder MapFaultAdmin(this IEndpointRouteBuilder app)
    {
        app.ServiceProvider.GetRequiredService<FaultRoutes>().Attach(app.DataSources);
        var options = app.ServiceProvider.GetRequiredService<FaultOptions>();
        if (options.AdminTokenHash is not { } tokenHash)
        {
            return app;
        }
        var log = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        var group = app.MapGroup(Prefix + "/faults").WithTags("Admin");
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var refusal = Refusal(http.Request, tokenHash);
            if (refusal is null)
            {
                return await next(context);
            }
            log.LogWarning("Admin request refused: {Method} {Path} from {Remote}: {Reason}",
                http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress, refusal);
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"exbuy-admin\"";
            return TypedResults.Problem(
                $"{refusal}: send Authorization: Bearer <ADMIN_TOKEN> (the token the server was started with).",
                statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        });
        group.MapGet("", Get).WithName("GetFaultRules");
        group.MapPut("", Put).WithName("PutFaultRules").WithDocumentedBody(typeof(FaultRuleDto[]), "application/json");
        group.MapDelete("", Delete).WithName("DeleteFaultRules");
        group.MapPut("/seed", PutSeed).WithName("PutFaultSeed").WithDocumentedBody(typeof(FaultSeedDto), "application/json");
        return app;
    }

    /// <summary>Why the request is not authorised, or null when it is.</summary>
    internal static string? Refusal(HttpRequest request, byte[] tokenHash)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return "missing Authorization header";
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return "Authorization is not a bearer token";
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header.AsSpan(7).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(given, tokenHash) ? null : "wrong bearer token";
    }

    public static Ok<FaultRuleDto[]> Get(FaultRuleSet rules) =>
        TypedResults.Ok(Array.ConvertAll(rules.Live(DateTimeOffset.UtcNow), FaultRuleDto.From));

    public static async Task<Results<Ok<FaultRuleDto[]>, ValidationProblem>> Put(
        HttpRequest request, FaultRuleSet rules, FaultOptions options, FaultRoutes routes, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var validateOnly = QueryParsing.Flag(request.Query, "validate_only", errors);
        using var body = await ReadBodyAsync(request, errors, ct);
        FaultRule[] parsed = [];
        if (body is not null)
        {
            parsed = Parse(body.RootElement, options.MaxDelay, routes, DateTimeOffset.UtcNow, errors);
        }
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors, "A fault rule cannot be honoured; the active rules are unchanged.");
        }
        if (!validateOnly)
        {
            rules.Replace(parsed);
        }
        return TypedResults.Ok(Array.ConvertAll(parsed, FaultRuleDto.From));
    }

    public static NoContent Delete(FaultRuleSet rules)
    {
        rules.Clear();
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<FaultSeedDto>, ValidationProblem>> PutSeed(
        HttpRequest request, FaultRandom random, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        using var body = await ReadBodyAsync(request, errors, ct);
        int seed = 0;
        if (body is not null)
        {
            if (body.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("body", "Expected an object such as {\"seed\": 42}.");
            }
            else if (!body.RootElement.TryGetProperty("seed", out var s))
            {
                errors.Add("seed", Messages.Required);
            }
            else if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out seed))
            {
                errors.Add("seed", "A valid integer is required (a 32-bit seed).");
            }
        }
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        random.Reseed(seed);
        return TypedResults.Ok(new FaultSeedDto(seed));
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpRequest request, ValidationErrors errors, CancellationToken ct)
    {
        JsonDocument? document = null;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, ct);
            ReadAllText(document.RootElement);
            return document;
        }
        catch (InvalidOperationException)
        {
            // JsonDocument checks a string's text only when it is read: a lone surrogate escape (\ud800) or invalid UTF-8
            // in a name or a value would surface later, wherever it is read, as an InvalidOperationException.
            document?.Dispose();
            errors.Add("body", "The JSON contains text that is not valid Unicode (a lone surrogate escape such as \\ud800, or invalid UTF-8).");
            return null;
        }
        catch (JsonException e)
        {
            errors.Add("body", request.ContentLength == 0 || e.BytePositionInLine == 0 && e.LineNumber == 0
                ? Messages.BodyRequired
                : $"The request body is not valid JSON ({e.Message.Split(" Path:")[0]})");
            return null;
        }
    }

    /// <summary>Reads every member name and string once, so text that is not valid Unicode is refused up front.</summary>
    private static void ReadAllText(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    ReadAllText(item);
                }
                break;
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    _ = member.Name;
                    ReadAllText(member.Value);
                }
                break;
        }
    }

    /// <summary>The list of rules, validated field by field (errors keyed <c>[i].field</c>).</summary>
    internal static FaultRule[] Parse(JsonElement root, TimeSpan maxDelay, FaultRoutes routes, DateTimeOffset now, ValidationErrors errors)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            errors.Add("body", "Expected a JSON array of rules, e.g. [{\"route\": \"/api/orders*\", \"error_status\": 503, \"percent\": 5}] ([] clears).");
            return [];
        }
        if (root.GetArrayLength() > MaxRules)
        {
            errors.Add("body", $"At most {MaxRules} rules; got {root.GetArrayLength()}.");
            return [];
        }
        var list = new List<FaultRule>();
        var i = 0;
        foreach (var item in root.EnumerateArray())
        {
            var at = $"[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(at, "Expected an object with route, delay_ms, db_delay_ms, error_status, percent, until.");
                continue;
            }
            foreach (var p in item.EnumerateObject())
            {
                if (!Fields.Contains(p.Name))
                {
                    errors.Add($"{at}.{p.Name}", $"Unknown field: use {string.Join(", ", Fields.Where(f => f != "source"))}.");
                }
            }
            var route = Route(item, at, routes, errors);
            var delay = Delay(item, "delay_ms", at, maxDelay, errors);
            var dbDelay = Delay(item, "db_delay_ms", at, maxDelay, errors);
            int? status = null;
            if (Field(item, "error_status") is { } s)
            {
                if (s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var v) && v is >= 400 and <= 599)
                {
                    status = v;
                }
                else
                {
                    errors.Add($"{at}.error_status", "Use an HTTP status from 400 to 599.");
                }
            }
            var percent = Percent(item, "percent", at, 100, errors);
            var until = Until(item, at, now, errors);
            if (delay is null && dbDelay is null && status is null && !errors.Keys.Any(k => k.StartsWith(at + ".", StringComparison.Ordinal)))
            {
                errors.Add(at, "The rule injects nothing: give delay_ms, db_delay_ms or error_status.");
            }
            list.Add(new FaultRule(route, delay, Percent(item, "delay_percent", at, percent, errors),
                dbDelay, Percent(item, "db_delay_percent", at, percent, errors),
                status, Percent(item, "error_percent", at, percent, errors), until, FaultRule.FromAdmin));
        }
        return [.. list];
    }

    private static JsonElement? Field(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string? Route(JsonElement item, string at, FaultRoutes routes, ValidationErrors errors)
    {
        if (Field(item, "route") is not { } r)
        {
            return null;
        }
        if (r.ValueKind != JsonValueKind.String)
        {
            errors.Add($"{at}.route", "Expected a string: a route template such as /api/products/{id}, or a prefix ending in * such as /api/orders*.");
            return null;
        }
        var route = r.GetString()!.Trim();
        if (routes.Check(route) is { } problem)
        {
            errors.Add($"{at}.route", problem);
            return null;
        }
        return route.EndsWith('*') ? route : FaultRule.NormaliseTemplate(route);
    }

    private static TimeSpan? Delay(JsonElement item, string name, string at, TimeSpan max, ValidationErrors errors)
    {
        if (Field(item, name) is not { } d)
        {
            return null;
        }
        if (d.ValueKind != JsonValueKind.Number || !d.TryGetDouble(out var ms) || ms < 0 || !double.IsFinite(ms))
        {
            errors.Add($"{at}.{name}", "Expected milliseconds, a number ≥ 0 (e.g. 100).");
            return null;
        }
        if (ms > max.TotalMilliseconds)
        {
            errors.Add($"{at}.{name}", $"{ms.ToString(CultureInfo.InvariantCulture)} ms exceeds the maximum delay ({FaultValues.Format(max)}, FAULT_MAX_DELAY).");
            return null;
        }
        return TimeSpan.FromMilliseconds(ms);
    }

    private static double Percent(JsonElement item, string name, string at, double fallback, ValidationErrors errors)
    {
        if (Field(item, name) is not { } p)
        {
            return fallback;
        }
        if (p.ValueKind == JsonValueKind.Number && p.TryGetDouble(out var v) && v is >= 0 and <= 100)
        {
            return v;
        }
        errors.Add($"{at}.{name}", "Expected a percentage from 0 to 100.");
        return fallback;
    }

    private static DateTimeOffset? Until(JsonElement item, string at, DateTimeOffset now, ValidationErrors errors)
    {
        if (Field(item, "until") is not { } u)
        {
            return null;
        }
        var raw = u.ValueKind == JsonValueKind.String ? u.GetString()! : "";
        if (!DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.None, out var until)
            || !(raw.EndsWith('Z') || raw.EndsWith('z') || raw.LastIndexOfAny(['+', '-']) > raw.IndexOf('T')))
        {
            errors.Add($"{at}.until", "Expected an ISO-8601 time with its UTC offset, e.g. 2026-12-02T12:00:00Z.");
            return null;
        }
        if (until <= now)
        {
            errors.Add($"{at}.until", $"{until.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ} is not in the future (now {now.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}); the rule would never apply.");
            return null;
        }
        return until.ToUniversalTime();
    }
}

/// <summary>
/// The route templates a fault rule can name: every mapped <c>/api/*</c> endpoint except the admin API, normalised as in
/// the endpoint table (constraints dropped). Read on first use from the app's endpoint data sources, which
/// <see cref="FaultAdminApi.MapFaultAdmin"/> attaches after every other endpoint is mapped.
/// </summary>
public sealed class FaultRoutes
{
    private ICollection<EndpointDataSource> _sources = [];
    private string[]? _templates;

    public void Attach(ICollection<EndpointDataSource> sources)
    {
        _sources = sources;
        _templates = null;
    }

    public IReadOnlyList<string> Templates => _templates ??= [.. _sources.SelectMany(s => s.Endpoints)
        .OfType<RouteEndpoint>()
        .Select(e => FaultRule.NormaliseTemplate("/" + e.RoutePattern.RawText!.TrimStart('/')))
        .Where(t => t.StartsWith("/api/", StringComparison.Ordinal) && !t.StartsWith(FaultAdminApi.Prefix, StringComparison.Ordinal))
        .Distinct()
        .Order(StringComparer.Ordinal)];

    /// <summary>Why <paramref name="route"/> cannot be honoured, or null when it names at least one endpoint.</summary>
    public string? Check(string route)
    {
        const string Use = "use a route template as in the endpoint table (e.g. /api/products/{id}) or a prefix ending in * (e.g. /api/orders*)";
        if (!route.StartsWith('/') || route.IndexOf('*') is var star && star >= 0 && star != route.Length - 1)
        {
            return $"'{route}' is not a route pattern: {Use}.";
        }
        if (route.StartsWith(FaultAdminApi.Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return $"'{route}': the admin API is never faulted.";
        }
        var prefix = route.EndsWith('*');
        var pattern = prefix ? route[..^1] : FaultRule.NormaliseTemplate(route);
        var matches = Templates.Any(t => prefix
            ? t.StartsWith(pattern, StringComparison.OrdinalIgnoreCase)
            : string.Equals(t, pattern, StringComparison.OrdinalIgnoreCase));
        return matches ? null : $"'{route}' matches no endpoint: {Use}.";
    }
}
