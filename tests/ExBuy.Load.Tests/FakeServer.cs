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
    public long OrdersCreated;
    public string BaseUrl { get; private set; } = "";

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

    public static async Task<FakeServer> StartAsync(bool stall = false, bool offByOne = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeServer(app) { StallEveryTenth = stall, OffByOneReadBack = offByOne };
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
                _stock[p] -= q;
                _written[p] = true;
                return Json(new JsonObject { ["product_id"] = p, ["quantity"] = q, ["remaining_stock"] = _stock[p], ["lock_type"] = lock_type ?? "optimistic" });
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
