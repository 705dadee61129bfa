using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ExBuy.Load.Tests;

/// <summary>
/// Just enough of the contract for the test scenarios: product list/detail, reviews count, order probes (none),
/// POST /api/orders and the optimistic reservation, on 20 products. Switches inject a stall or an inconsistency.
/// </summary>
public sealed class FakeServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly object _gate = new();
    private readonly long[] _stock = Enumerable.Repeat(100_000L, 21).ToArray(); // index = id, 1..20
    private readonly bool[] _written = new bool[21];
    private long _orderId;
    private long _detailRequests;

    /// <summary>Every 10th product detail sleeps 200 ms.</summary>
    public bool StallEveryTenth { get; init; }
    /// <summary>The stock read back for a product written to is one less than the real one.</summary>
    public bool OffByOneReadBack { get; init; }
    /// <summary>The Nth successful reservation (1-based, counted over every client) answers 200 but leaves the stock as it was: a lost write; 0 = never.</summary>
    public int LoseWrite { get; init; }
    private int _reservations;
    /// <summary>The product whose write was lost (0 until then).</summary>
    public long LostWriteProduct;
    public long OrdersCreated;
    public string BaseUrl { get; private set; } = "";

    /// <summary>The admin fault API (GET/PUT/DELETE /api/admin/faults) with this bearer token; null = not mapped (404, like ExBuy without ADMIN_TOKEN).</summary>
    public string? AdminToken { get; init; }
    /// <summary>Apply the active rules' error_status and delay_ms to /api requests (with X-Fault), as ExBuy does; route patterns as ExBuy's.</summary>
    public bool InjectFaults { get; init; }
    /// <summary>The Nth applying PUT (1-based, validate_only excluded) answers 500 and changes nothing; 0 = never.</summary>
    public int FailPut { get; init; }
    private JsonArray _faultRules = [];
    private int _puts;

    /// <summary>One call of the admin API as it arrived: method, query, body, Stopwatch timestamp, status answered.</summary>
    public sealed record AdminCall(string Method, string Query, string? Body, long Timestamp, int Status)
    {
        public bool ValidateOnly => Query.Contains("validate_only=true", StringComparison.Ordinal);
    }
    private readonly List<AdminCall> _adminCalls = [];
    public IReadOnlyList<AdminCall> AdminCalls { get { lock (_adminCalls) return [.. _adminCalls]; } }
    public JsonArray ActiveRules { get { lock (_gate) return (JsonArray)_faultRules.DeepClone(); } }

    public const string Scenarios = """
        {
          "version": 1,
          "search_terms": ["a"],
          "operations": {
            "detail":       { "method": "GET",  "path": "/api/products/{product}?optimize={optimize}", "expect": [200], "effect": "none" },
            "create_order": { "method": "POST", "path": "/api/orders", "body": { "user_id": "{user}", "items": "{items}" }, "expect": [201, 409], "effect": "order" },
            "reserve":      { "method": "POST", "path": "/api/inventory/reserve?lock_type={lock_type}", "body": { "product_id": "{product}", "quantity": "{quantity}" }, "expect": [200, 409], "effect": "reserve" }
          },
          "scenarios": {
            "reads":  { "optimize": "true", "lock_type": "optimistic", "weights": { "detail": 1 } },
            "writes": { "optimize": "true", "lock_type": "optimistic", "weights": { "detail": 2, "create_order": 5, "reserve": 3 },
                        "thresholds": { "http_req_failed": ["rate<0.01"] } }
          }
        }
        """;

    public static string WriteScenarios(string dir)
    {
        var path = Path.Combine(dir, "scenarios.json");
        File.WriteAllText(path, Scenarios);
        return path;
    }

    private FakeServer(WebApplication app) => _app = app;

    public static async Task<FakeServer> StartAsync(bool stall = false, bool offByOne = false, string? adminToken = null, JsonArray? rules = null,
        bool injectFaults = false, int failPut = 0, int loseWrite = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeServer(app) { StallEveryTenth = stall, OffByOneReadBack = offByOne, AdminToken = adminToken, InjectFaults = injectFaults, FailPut = failPut, LoseWrite = loseWrite };
        if (rules is not null) fake._faultRules = rules;
        fake.Map(app);
        await app.StartAsync();
        fake.BaseUrl = app.Urls.First();
        return fake;
    }

    private static IResult Json(JsonNode body, int status = 200) =>
        Results.Content(body.ToJsonString(), "application/json", System.Text.Encoding.UTF8, status);

    private JsonObject Product(long id)
    {
        var stock = _stock[id] - (OffByOneReadBack && _written[id] ? 1 : 0);
        return new JsonObject { ["id"] = id, ["name"] = $"product {id}", ["price"] = 9.99m, ["stock"] = stock, ["category"] = "books" };
    }

    private void Map(WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            ctx.Response.Headers["Server-Timing"] = "app;dur=0.250, db;dur=0.100;desc=\"1 queries\"";
            await next(ctx);
        });
        if (InjectFaults) app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path.Value ?? "";
            JsonObject? rule = null;
            if (path.StartsWith("/api/", StringComparison.Ordinal) && !path.StartsWith("/api/admin", StringComparison.Ordinal))
                lock (_gate) rule = _faultRules.OfType<JsonObject>().FirstOrDefault(r => RouteMatches(r["route"]?.GetValue<string>(), path));
            if (rule is null) { await next(ctx); return; }
            var kinds = new List<string>();
            if (rule["delay_ms"] is { } d) { kinds.Add($"delay={d.GetValue<double>()}ms"); await Task.Delay(TimeSpan.FromMilliseconds(d.GetValue<double>())); }
            if (rule["db_delay_ms"] is { } db) kinds.Add($"db_delay={db.GetValue<double>()}ms");
            if (rule["error_status"] is { } e)
            {
                kinds.Add($"error={e.GetValue<int>()}");
                ctx.Response.Headers["X-Fault"] = string.Join(", ", kinds);
                ctx.Response.StatusCode = e.GetValue<int>();
                ctx.Response.ContentType = "application/problem+json";
                await ctx.Response.WriteAsync($$"""{"title": "Injected fault", "status": {{e.GetValue<int>()}}}""");
                return;
            }
            ctx.Response.Headers["X-Fault"] = string.Join(", ", kinds);
            await next(ctx);
        });
        if (AdminToken is not null) MapAdmin(app);
        app.MapGet("/api/health", () => Json(new JsonObject { ["status"] = "ok" })); // what `calibrate` loops on
        app.MapGet("/api/info", () => Json(new JsonObject { ["version"] = "fake", ["db_engine"] = "memory" }));
        app.MapGet("/api/products", (int? page, int? page_size) =>
        {
            var size = page_size ?? 20;
            var p = page ?? 1;
            var ids = Enumerable.Range(1, 20).Skip((p - 1) * size).Take(size).ToList();
            if (ids.Count == 0 && p > 1) return Results.NotFound();
            lock (_gate)
                return Json(new JsonObject { ["count"] = 20, ["next"] = null, ["previous"] = null, ["results"] = new JsonArray(ids.Select(i => (JsonNode)Product(i)).ToArray()) });
        });
        app.MapGet("/api/products/{id:long}", async (long id) =>
        {
            if (id is < 1 or > 20) return Results.NotFound();
            if (StallEveryTenth && Interlocked.Increment(ref _detailRequests) % 10 == 0) await Task.Delay(200);
            lock (_gate) return Json(Product(id));
        });
        app.MapGet("/api/reviews", () => Json(new JsonObject { ["count"] = 0, ["next"] = null, ["previous"] = null, ["results"] = new JsonArray() }));
        app.MapGet("/api/orders/{id:long}", (long id) => Results.NotFound());
        app.MapPost("/api/orders", async (HttpRequest request) =>
        {
            var body = await JsonNode.ParseAsync(request.Body);
            var lines = body!["items"]!.AsArray().Select(i => (P: i!["product_id"]!.GetValue<long>(), Q: i["quantity"]!.GetValue<int>())).ToList();
            if (lines.Any(l => l.P is < 1 or > 20)) return Results.BadRequest();
            lock (_gate)
            {
                if (lines.Any(l => _stock[l.P] < l.Q)) return Results.Conflict();
                foreach (var (p, q) in lines) { _stock[p] -= q; _written[p] = true; }
                var id = ++_orderId;
                Interlocked.Increment(ref OrdersCreated);
                var items = new JsonArray(lines.Select((l, i) => (JsonNode)new JsonObject
                {
                    ["id"] = id * 100 + i, ["product_id"] = l.P, ["product_name"] = $"product {l.P}", ["quantity"] = l.Q, ["unit_price"] = 9.99m, ["subtotal"] = l.Q * 9.99m,
                }).ToArray());
                return Json(new JsonObject
                {
                    ["id"] = id, ["user_id"] = body["user_id"]!.GetValue<long>(), ["status"] = "pending", ["total_price"] = lines.Sum(l => l.Q * 9.99m), ["items"] = items,
                }, 201);
            }
        });
        app.MapPost("/api/inventory/reserve", async (HttpRequest request, string? lock_type) =>
        {
            var body = await JsonNode.ParseAsync(request.Body);
            var p = body!["product_id"]!.GetValue<long>();
            var q = body["quantity"]!.GetValue<int>();
            if (p is < 1 or > 20) return Results.NotFound();
            lock (_gate)
            {
                if (_stock[p] < q) return Results.Conflict();
                if (++_reservations == LoseWrite) LostWriteProduct = p;
                else _stock[p] -= q;
                _written[p] = true;
                return Json(new JsonObject { ["product_id"] = p, ["quantity"] = q, ["remaining_stock"] = _stock[p], ["lock_type"] = lock_type ?? "optimistic" });
            }
        });
    }

    /// <summary>ExBuy's route patterns: null = every route, a prefix ending in *, or a template whose {parameters} match one segment.</summary>
    private static bool RouteMatches(string? route, string path)
    {
        if (route is null) return true;
        if (route.EndsWith('*')) return path.StartsWith(route[..^1], StringComparison.OrdinalIgnoreCase);
        var pattern = "^" + System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Escape(route).Replace(@"\{", "{"), "{[^}]*}", "[^/]+") + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(path, pattern, System.Text.RegularExpressions.RegexOptions.IgnoreCase);
    }

    private static readonly string[] KnownRoutes = ["/api/products", "/api/products/{id}", "/api/reviews", "/api/orders", "/api/orders/{id}", "/api/inventory/reserve", "/api/health", "/api/info"];

    /// <summary>Like ExBuy's: a rule that injects nothing, a negative delay or a route matching no endpoint is a 400 keyed "[i].field".</summary>
    private static Dictionary<string, string[]> Validate(JsonNode? body)
    {
        var errors = new Dictionary<string, string[]>();
        if (body is not JsonArray rules) { errors["body"] = ["Expected a JSON array of rules."]; return errors; }
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i] is not JsonObject r) { errors[$"[{i}]"] = ["Expected an object."]; continue; }
            if (r["delay_ms"] is { } d && d.GetValue<double>() < 0) errors[$"[{i}].delay_ms"] = ["Expected milliseconds, a number ≥ 0 (e.g. 100)."];
            if (r["route"]?.GetValue<string>() is { } route && !KnownRoutes.Any(k => route.EndsWith('*') ? k.StartsWith(route[..^1], StringComparison.Ordinal) : k == route))
                errors[$"[{i}].route"] = [$"'{route}' matches no endpoint."];
            if (r["delay_ms"] is null && r["db_delay_ms"] is null && r["error_status"] is null)
                errors[$"[{i}]"] = ["The rule injects nothing: give delay_ms, db_delay_ms or error_status."];
        }
        return errors;
    }

    private void MapAdmin(WebApplication app)
    {
        async Task<IResult> Handle(HttpContext ctx)
        {
            var request = ctx.Request;
            string? text = null;
            if (request.Method == "PUT") text = await new StreamReader(request.Body).ReadToEndAsync();
            IResult result;
            int status;
            if (request.Headers.Authorization.ToString() != $"Bearer {AdminToken}") (result, status) = (Results.Problem("wrong bearer token", statusCode: 401, title: "Unauthorized"), 401);
            else if (request.Method == "GET") (result, status) = (Json(ActiveRules), 200);
            else if (request.Method == "DELETE") { lock (_gate) _faultRules = []; (result, status) = (Results.NoContent(), 204); }
            else
            {
                var validateOnly = request.Query["validate_only"] == "true";
                JsonNode? body = null;
                try { body = JsonNode.Parse(text!); } catch (JsonException) { }
                var errors = Validate(body);
                if (errors.Count > 0) (result, status) = (Results.ValidationProblem(errors, "A fault rule cannot be honoured; the active rules are unchanged."), 400);
                else if (!validateOnly && Interlocked.Increment(ref _puts) == FailPut) (result, status) = (Results.Problem("injected admin failure", statusCode: 500), 500);
                else
                {
                    if (!validateOnly) lock (_gate) _faultRules = (JsonArray)body!.DeepClone();
                    (result, status) = (Json(body!), 200);
                }
            }
            lock (_adminCalls) _adminCalls.Add(new AdminCall(request.Method, request.QueryString.Value ?? "", text, System.Diagnostics.Stopwatch.GetTimestamp(), status));
            return result;
        }
        app.MapMethods("/api/admin/faults", ["GET", "PUT", "DELETE"], (Delegate)Handle);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
