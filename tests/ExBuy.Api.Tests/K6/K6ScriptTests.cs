using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.K6;

/// <summary>
/// The k6 scripts (k6/*.js) run in <see cref="K6Harness"/> (Jint with stub k6 modules) against a real ExBuy process:
/// every request they send must be a contract route with the operation's parameters as load/scenarios.json defines
/// them, answered with one of the operation's expected statuses, carry a W3C traceparent and pass its checks; their
/// options must follow the environment (RAMP_UP, DURATION, RAMP_DOWN, MAX_VU, RATE).
/// </summary>
public sealed class K6ScriptTests(PostgresCluster cluster)
{
    private static readonly JsonObject Definition =
        JsonNode.Parse(File.ReadAllText(Path.Combine(K6Harness.RepositoryRoot(), "load", "scenarios.json")))!.AsObject();

    private static JsonObject Operations => Definition["operations"]!.AsObject();

    private static JsonObject ScenarioOf(string name) => Definition["scenarios"]![name]!.AsObject();

    private static List<string> ScenarioNames => [.. Definition["scenarios"]!.AsObject().Select(s => s.Key)];

    public static TheoryData<string> Scenarios() => [.. ScenarioNames];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Regex TraceParent = new("^00-(?<trace>[0-9a-f]{32})-(?<span>[0-9a-f]{16})-01$", RegexOptions.CultureInvariant);

    private static readonly string[] Orderings = ["id", "name", "price", "stock", "created_at"];

    private const string Id = "[1-9][0-9]*";

    /// <summary>The contract's routes (README, Endpoints) and the query parameters each accepts.</summary>
    private static readonly (string Method, Regex Path, string[] Query)[] ContractRoutes =
    [
        ("GET", Route("/api/health"), []),
        ("GET", Route("/api/health/ready"), []),
        ("GET", Route("/api/info"), []),
        ("GET", Route("/api/products"), ["category", "min_price", "max_price", "ordering", "page", "page_size", "optimize"]),
        ("GET", Route($"/api/products/{Id}"), ["optimize"]),
        ("DELETE", Route($"/api/products/{Id}"), []),
        ("GET", Route($"/api/products/{Id}/reviews"), ["page", "page_size", "optimize"]),
        ("GET", Route("/api/search/products"), ["q", "category", "in_stock", "page", "page_size", "optimize"]),
        ("POST", Route("/api/orders"), []),
        ("GET", Route($"/api/orders/{Id}"), ["optimize"]),
        ("PATCH", Route($"/api/orders/{Id}"), []),
        ("POST", Route("/api/orders/bulk"), []),
        ("POST", Route("/api/inventory/reserve"), ["lock_type"]),
        ("GET", Route("/api/stats/top-products"), ["limit"]),
        ("POST", Route("/api/reviews"), []),
        ("GET", Route("/api/reviews"), ["product_id", "user_id", "rating", "page", "page_size", "optimize"]),
        ("POST", Route("/api/uploads"), []),
        ("GET", Route("/api/uploads/[0-9a-fA-F-]+"), []),
    ];

    private static Regex Route(string pattern) => new("^" + pattern + "$", RegexOptions.CultureInvariant);

    // --------------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task ScriptSendsOnlyContractRequestsThatPassTheirChecks(string scenario)
    {
        var weights = ScenarioOf(scenario)["weights"]!.AsObject().ToDictionary(w => w.Key, w => w.Value!.GetValue<double>());
        await using var server = await ExBuyServer.StartAsync("sqlite", cluster, null, Ct);
        var workDir = Directory.CreateTempSubdirectory("exbuy-k6-").FullName;
        try
        {
            var summaryPath = Path.Combine(workDir, $"k6-{scenario}.json");
            var run = await Task.Run(() => K6Harness.Run(new K6RunSpec
            {
                Script = $"k6/{scenario}.js",
                Environment = new() { ["BASE_URL"] = server.BaseUrl, ["SUMMARY_JSON"] = summaryPath },
                Vus = 2,
                MinIterations = 60,
                MaxIterations = 400,
                // Go on (bounded) until every weighted operation ran, however small its weight.
                Enough = r => weights.Keys.All(op => r.IterationRequests.Any(q => q.Tags.GetValueOrDefault("op") == op)),
                WorkingDirectory = workDir,
            }), Ct);

            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{scenario}: {run.Iterations} iterations, {run.Requests.Count} requests ({run.Requests.Count(r => r.Phase == "setup")} in set-up), "
                + $"{run.Checks.Count} checks in {run.Elapsed.TotalSeconds:F1} s; mix: "
                + string.Join(", ", run.IterationRequests.GroupBy(r => $"{r.Tags["op"]}→{r.Status}").OrderBy(g => g.Key, StringComparer.Ordinal)
                    .Select(g => $"{g.Key}×{g.Count()}")));
            TestContext.Current.TestOutputHelper?.WriteLine(run.SummaryOutputs.GetValueOrDefault("stdout") ?? "(no stdout summary)");
            Assert.Empty(run.IterationErrors);
            Assert.InRange(run.Iterations, 60, 400);
            AssertSetup(scenario, run, await ProductCountAsync(server));
            AssertEveryRequestIsAContractRoute(run);
            AssertTraceParents(run);
            AssertIterations(scenario, run, weights);
            AssertChecks(run);
            AssertMetrics(run);
            AssertSummary(scenario, run, summaryPath);
        }
        finally
        {
            Directory.Delete(workDir, recursive: true);
        }
    }

    private static async Task<long> ProductCountAsync(ExBuyServer server)
    {
        using var response = await server.Client.GetAsync("/api/products?page_size=1&optimize=true", Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        return body["count"]!.GetValue<long>();
    }

    private static void AssertSetup(string scenario, K6Run run, long productCount)
    {
        var setup = run.Requests.Where(r => r.Phase == "setup").ToList();
        Assert.NotEmpty(setup);
        Assert.All(setup, r => Assert.True(r.Method == "GET", $"set-up sent {r.Method} {r.Url}: discovery only reads"));
        Assert.All(setup, r => Assert.True(r.Expected, $"set-up {r.Method} {r.Url} answered {r.Status}, not an expected status"));
        Assert.True(setup.Count <= 200, $"set-up sent {setup.Count} requests: discovery must be bounded");
        Assert.DoesNotContain(run.Requests, r => r.Phase == "init");

        var data = run.SetupData!.AsObject();
        Assert.Equal(scenario, data["scenario"]!.GetValue<string>());
        Assert.Equal(productCount, data["product_count"]!.GetValue<long>());
        Assert.Equal((long)Math.Ceiling(productCount / 20.0), data["product_pages"]!.GetValue<long>());
        var products = Ids(data["products"]);
        Assert.NotEmpty(products);
        // Every id the set-up kept was seen in an answer, never assumed.
        var seen = string.Join("\n", setup.Select(r => r.ResponseBody));
        Assert.All(products, id => Assert.Contains($"\"id\":{id},", seen, StringComparison.Ordinal));
        var orders = Ids(data["orders"]);
        Assert.NotEmpty(orders);
        Assert.All(orders, id => Assert.Contains(setup, r => r.Status == 200 && r.Uri.AbsolutePath == $"/api/orders/{id}"));
        var hot = ScenarioOf(scenario)["hot_products"]?.GetValue<int>();
        if (hot is not null)
        {
            var hotIds = Ids(data["hot_products"]);
            Assert.Equal(hot.Value, hotIds.Count);
            Assert.Subset(Ids(data["in_stock"]).ToHashSet(), hotIds.ToHashSet());
        }
        else
        {
            Assert.Null(data["hot_products"]);
        }
    }

    private static void AssertEveryRequestIsAContractRoute(K6Run run)
    {
        Assert.All(run.Requests, r =>
        {
            Assert.Null(r.Error);
            var path = r.Uri.AbsolutePath;
            var route = ContractRoutes.FirstOrDefault(c => c.Method == r.Method && c.Path.IsMatch(path));
            Assert.True(route.Path is not null, $"{r.Method} {path} is no route of the contract");
            foreach (var (key, value) in Query(r.Uri))
            {
                Assert.True(route.Query.Contains(key), $"{r.Method} {r.Url}: the contract's {route.Path} takes no '{key}'");
                Assert.True(ValidQueryValue(key, value), $"{r.Method} {r.Url}: '{key}={value}' is not a valid value");
            }
        });
    }

    private static bool ValidQueryValue(string key, string value) => key switch
    {
        "optimize" or "in_stock" => value is "true" or "false",
        "page" => long.TryParse(value, out var p) && p >= 1,
        "page_size" or "limit" => int.TryParse(value, out var n) && n is >= 1 and <= 100,
        "ordering" => Orderings.Contains(value.TrimStart('-')),
        "lock_type" => value is "optimistic" or "pessimistic" or "versioned",
        "q" => value.Length <= 100,
        _ => true,
    };

    private static void AssertTraceParents(K6Run run)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Assert.All(run.Requests, r =>
        {
            Assert.True(r.Headers.TryGetValue("traceparent", out var tp), $"{r.Method} {r.Url} carried no traceparent");
            var m = TraceParent.Match(tp!);
            Assert.True(m.Success, $"traceparent '{tp}' is not 00-<32 hex>-<16 hex>-01");
            Assert.NotEqual(new string('0', 32), m.Groups["trace"].Value);
            Assert.NotEqual(new string('0', 16), m.Groups["span"].Value);
            Assert.True(seen.Add(m.Groups["trace"].Value), $"trace id of '{tp}' was sent twice: each request needs a fresh one");
        });
    }

    private static void AssertIterations(string scenario, K6Run run, Dictionary<string, double> weights)
    {
        var sc = ScenarioOf(scenario);
        var data = run.SetupData!.AsObject();
        var pool = Ids(data["hot_products"] ?? data["products"]).ToHashSet();
        var orders = Ids(data["orders"]).ToHashSet();
        var optimize = sc["optimize"]!.GetValue<string>();
        var lockType = sc["lock_type"]!.GetValue<string>();
        var terms = Definition["search_terms"]!.AsArray().Select(t => t!.GetValue<string>()).ToHashSet();
        var ownOrders = new Dictionary<int, HashSet<long>>();
        var perIteration = run.IterationRequests.GroupBy(r => (r.Vu, r.Iteration)).ToList();
        Assert.Equal(run.Iterations, perIteration.Count);
        Assert.All(perIteration, g => Assert.Single(g));

        foreach (var r in run.IterationRequests)
        {
            var where = $"{r.Method} {r.Url} (VU {r.Vu} iteration {r.Iteration})";
            Assert.True(r.Tags.TryGetValue("op", out var opName), $"{where}: no op tag");
            Assert.True(weights.ContainsKey(opName!), $"{where}: op {opName} is not weighted by {scenario}");
            var op = Operations[opName!]!.AsObject();
            Assert.Equal(op["method"]!.GetValue<string>(), r.Method);
            var expect = op["expect"]!.AsArray().Select(s => s!.GetValue<int>()).ToList();
            Assert.True(expect.Contains(r.Status), $"{where}: {r.Status} is not in expect [{string.Join(",", expect)}]: {r.ResponseBody}");
            Assert.True(r.Expected, $"{where}: {r.Status} counts as failed (http_req_failed): the responseCallback must follow expect");

            // The path and query are the operation's template with each {parameter} drawn as $comment says.
            var template = op["path"]!.GetValue<string>();
            var parameters = Regex.Matches(template, @"\{([a-z_]+)\}").Select(m => m.Groups[1].Value).ToList();
            var pattern = "^" + Regex.Replace(Regex.Escape(template), @"\\\{([a-z_]+)}", "([^/?&]+)") + "$";
            var actual = r.Uri.PathAndQuery;
            var match = Regex.Match(actual, pattern);
            Assert.True(match.Success, $"{where}: '{actual}' does not follow the template '{template}'");
            var values = parameters.Select((p, i) => (p, Uri.UnescapeDataString(match.Groups[i + 1].Value))).ToList();
            var vuOrders = ownOrders.TryGetValue(r.Vu, out var o) ? o : ownOrders[r.Vu] = [];
            foreach (var (p, v) in values)
            {
                Assert.True(p switch
                {
                    "product" => pool.Contains(long.Parse(v, CultureInfo.InvariantCulture)),
                    "page" => long.Parse(v, CultureInfo.InvariantCulture) <= data["product_pages"]!.GetValue<long>(),
                    "review_page" => long.Parse(v, CultureInfo.InvariantCulture) <= data["review_pages"]!.GetValue<long>(),
                    "order" => orders.Contains(long.Parse(v, CultureInfo.InvariantCulture)),
                    "own_order" => vuOrders.Contains(long.Parse(v, CultureInfo.InvariantCulture)),
                    "optimize" => optimize == "random" ? v is "true" or "false" : v == optimize,
                    "ordering" => Orderings.Contains(v.TrimStart('-')),
                    "term" => terms.Contains(v),
                    "lock_type" => v == lockType,
                    _ => false,
                }, $"{where}: {{{p}}} = '{v}' is not what the set-up discovered or the scenario allows");
                if (p == "optimize")
                {
                    Assert.Equal(v, r.Tags.GetValueOrDefault("optimize"));
                }
            }
            if (!parameters.Contains("optimize"))
            {
                Assert.False(r.Tags.ContainsKey("optimize"), $"{where}: an optimize tag on an operation without the flag");
            }

            if (op["body"] is JsonObject bodyTemplate)
            {
                Assert.StartsWith("application/json", r.RequestContentType ?? "", StringComparison.Ordinal);
                var sent = JsonNode.Parse(r.RequestBody!)!;
                AssertFilled(where, bodyTemplate, sent, pool);
            }
            if (op["multipart"] is JsonObject multipart)
            {
                Assert.StartsWith("multipart/form-data", r.RequestContentType ?? "", StringComparison.Ordinal);
                Assert.Matches($"^{multipart["field"]!.GetValue<string>()}=<file [^ ]+ {multipart["bytes"]!.GetValue<int>()} bytes>;$",
                    r.RequestBody ?? "");
            }

            // Orders this VU placed: what {own_order} may draw from later on.
            if (r.Status == 201 && opName is "create_order" or "bulk_order")
            {
                var answer = JsonNode.Parse(r.ResponseBody)!;
                var placed = opName == "create_order" ? [answer] : answer["orders"]!.AsArray().ToList();
                foreach (var order in placed)
                {
                    vuOrders.Add(order!["id"]!.GetValue<long>());
                }
            }
        }

        // The mix covers every weighted operation (the run goes on, bounded, until it does).
        var total = weights.Values.Sum();
        var ran = run.IterationRequests.GroupBy(r => r.Tags["op"]).ToDictionary(g => g.Key, g => g.Count());
        foreach (var (op, weight) in weights)
        {
            if (weight / total >= 0.02)
            {
                Assert.True(ran.ContainsKey(op), $"{scenario}: operation {op} (weight {weight}) never ran in {run.Iterations} iterations; "
                    + $"ran: {string.Join(", ", ran.Select(kv => $"{kv.Key}={kv.Value}"))}");
            }
        }
        if (optimize == "random")
        {
            var flags = run.IterationRequests.Select(r => r.Tags.GetValueOrDefault("optimize")).Where(f => f is not null).ToHashSet();
            Assert.Equal(["false", "true"], flags.Order());
        }
        Assert.Empty(run.Sleeps); // THINK_TIME defaults to 0
    }

    /// <summary>A sent body against its template: constants as written, each "{parameter}" drawn as $comment says.</summary>
    private static void AssertFilled(string where, JsonNode template, JsonNode? sent, HashSet<long> pool)
    {
        if (template is JsonObject obj)
        {
            var actual = Assert.IsType<JsonObject>(sent);
            Assert.Equal(obj.Select(p => p.Key).Order(), actual.Select(p => p.Key).Order());
            foreach (var (key, value) in obj)
            {
                AssertFilled($"{where} .{key}", value!, actual[key], pool);
            }
            return;
        }
        var text = template.GetValue<string>();
        var parameter = Regex.Match(text, @"^\{([a-z_]+)\}$");
        if (!parameter.Success)
        {
            Assert.Equal(text, sent!.GetValue<string>());
            return;
        }
        Assert.True(ValidBodyParameter(parameter.Groups[1].Value, sent, pool),
            $"{where}: {{{parameter.Groups[1].Value}}} = {sent?.ToJsonString()} is not as load/scenarios.json's $comment says");
    }

    private static bool IsInt(JsonNode? n, long min, long max) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var x) && x >= min && x <= max;

    private static bool ValidItems(JsonNode? n, HashSet<long> pool) =>
        n is JsonArray items && items.Count is >= 1 and <= 3
        && items.All(i => i is JsonObject o && o.Count == 2 && IsInt(o["product_id"], 1, long.MaxValue)
            && pool.Contains(o["product_id"]!.GetValue<long>()) && IsInt(o["quantity"], 1, 3))
        && items.Select(i => i!["product_id"]!.GetValue<long>()).Distinct().Count() == items.Count;

    private static bool ValidBodyParameter(string name, JsonNode? n, HashSet<long> pool) => name switch
    {
        "product" => IsInt(n, 1, long.MaxValue) && pool.Contains(n!.GetValue<long>()),
        "user" => IsInt(n, 1, 100000),
        "quantity" => IsInt(n, 1, 3),
        "rating" => IsInt(n, 1, 5),
        "text" => n is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length is >= 1 and <= 2000,
        "items" => ValidItems(n, pool),
        "orders" => n is JsonArray orders && orders.Count is >= 2 and <= 5
            && orders.All(o => o is JsonObject order && order.Count == 2 && IsInt(order["user_id"], 1, 100000) && ValidItems(order["items"], pool)),
        _ => false,
    };

    private static void AssertChecks(K6Run run)
    {
        Assert.NotEmpty(run.Checks);
        var failed = run.Checks.Where(c => !c.Passed).ToList();
        Assert.True(failed.Count == 0, "failed checks: " + string.Join("; ", failed.Select(c =>
        {
            var r = run.Requests.LastOrDefault(q => q.Vu == c.Vu && q.Iteration == c.Iteration && q.Phase == c.Phase);
            return $"{c.Name} (VU {c.Vu} iteration {c.Iteration}: {r?.Method} {r?.Url} → {r?.Status} {r?.ResponseBody})";
        })));
        // Each iteration checked its status (and the shape of a 2xx body), tagged with its operation.
        foreach (var r in run.IterationRequests)
        {
            var mine = run.Checks.Where(c => c.Vu == r.Vu && c.Iteration == r.Iteration && c.Phase == "iteration").ToList();
            Assert.Contains(mine, c => c.Name.StartsWith(r.Tags["op"] + ": status in", StringComparison.Ordinal));
            if (r.Status is >= 200 and < 300)
            {
                Assert.Contains(mine, c => c.Name == r.Tags["op"] + ": body shape");
            }
            Assert.All(mine, c => Assert.Equal(r.Tags["op"], c.Tags.GetValueOrDefault("op")));
        }
    }

    private static void AssertMetrics(K6Run run)
    {
        var requests = run.IterationRequests.ToList();
        Assert.All(run.Samples, s => Assert.True(double.IsFinite(s.Value) && s.Value >= 0, $"{s.Metric} got {s.Value}"));
        // Every /api/* answer carries Server-Timing (app;dur, db;dur) and X-Query-Count: one sample each per request.
        Assert.Equal(requests.Count, run.Samples.Count(s => s.Metric == "exbuy_server_app"));
        Assert.Equal(requests.Count, run.Samples.Count(s => s.Metric == "exbuy_server_db"));
        Assert.Equal(requests.Count, run.Samples.Count(s => s.Metric == "exbuy_query_count"));
        Assert.Equal(requests.Count(r => r.Status == 409), run.Samples.Where(s => s.Metric == "exbuy_conflicts").Sum(s => s.Value));
        Assert.DoesNotContain(run.Samples, s => s.Metric == "exbuy_unexpected_status");
        Assert.Equal("counter", run.CustomMetrics["exbuy_conflicts"].Type);
        Assert.True(run.CustomMetrics["exbuy_server_app"].IsTime);
        Assert.All(run.Samples.Where(s => s.Metric != "exbuy_unexpected_status"), s => Assert.True(s.Tags.ContainsKey("op")));
    }

    private static void AssertSummary(string scenario, K6Run run, string summaryPath)
    {
        Assert.Equal(new HashSet<string> { "stdout", summaryPath }, run.SummaryOutputs.Keys.ToHashSet());
        Assert.Contains($"scenario {scenario}", run.SummaryOutputs["stdout"], StringComparison.Ordinal);
        Assert.Contains("checks: ", run.SummaryOutputs["stdout"], StringComparison.Ordinal);
        var written = JsonNode.Parse(File.ReadAllText(summaryPath))!;
        Assert.Equal(scenario, written["exbuy"]!["scenario"]!.GetValue<string>());
        Assert.NotNull(written["metrics"]!["http_req_duration"]);
        Assert.NotNull(written["setup_data"]!["products"]);
        // The thresholds parsed (k6's syntax, on metrics that exist) and those that do not measure latency hold here.
        Assert.NotEmpty(run.Thresholds);
        Assert.All(run.Thresholds.Where(t => !t.Metric.StartsWith("http_req_duration", StringComparison.Ordinal)),
            t => Assert.True(t.Ok, $"threshold {t.Metric} {t.Expression} failed: {t.Value}"));
    }

    // --------------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void OptionsFollowTheEnvironment(string scenario)
    {
        var script = $"k6/{scenario}.js";
        var expectedThresholds = ScenarioOf(scenario)["thresholds"]!.AsObject();

        // Defaults: the closed model, ramping VUs.
        var defaults = K6Harness.Init(script, new Dictionary<string, string>());
        var options = defaults.Export("options")!.AsObject();
        AssertStages(options["stages"], ("30s", 50), ("1m", 50), ("30s", 0));
        AssertShortcutsOnly(options, "stages");
        foreach (var (metric, list) in expectedThresholds)
        {
            Assert.True(JsonNode.DeepEquals(list, options["thresholds"]![metric]), $"{scenario}: threshold {metric} differs from load/scenarios.json");
        }
        foreach (var (key, list) in options["thresholds"]!.AsObject())
        {
            foreach (var expression in list!.AsArray())
            {
                K6Harness.ParseThreshold(key, expression!.GetValue<string>(), defaults.MetricTypes);
            }
        }

        // Closed model from the environment.
        var closed = K6Harness.Init(script, new Dictionary<string, string>
        {
            ["MAX_VU"] = "7", ["RAMP_UP"] = "5s", ["DURATION"] = "1m30s", ["RAMP_DOWN"] = "0s",
        }).Export("options")!.AsObject();
        AssertStages(closed["stages"], ("5s", 7), ("1m30s", 7), ("0s", 0));
        AssertShortcutsOnly(closed, "stages");

        // RATE: the open model, ramping arrival rate, VUs from MAX_VU.
        var ramping = K6Harness.Init(script, new Dictionary<string, string>
        {
            ["RATE"] = "200", ["MAX_VU"] = "80", ["RAMP_UP"] = "10s", ["DURATION"] = "2m", ["RAMP_DOWN"] = "5s",
        }).Export("options")!.AsObject();
        AssertShortcutsOnly(ramping, "scenarios");
        var executor = Assert.Single(ramping["scenarios"]!.AsObject());
        Assert.Equal(scenario, executor.Key);
        var e = executor.Value!.AsObject();
        Assert.Equal("ramping-arrival-rate", e["executor"]!.GetValue<string>());
        Assert.Equal(0, e["startRate"]!.GetValue<int>());
        Assert.Equal("1s", e["timeUnit"]!.GetValue<string>());
        Assert.Equal(80, e["maxVUs"]!.GetValue<int>());
        Assert.InRange(e["preAllocatedVUs"]!.GetValue<int>(), 1, 80);
        AssertStages(e["stages"], ("10s", 200), ("2m", 200), ("5s", 0));
        Assert.Null(e["exec"]); // the default function

        // RATE without ramps: a constant arrival rate.
        var constant = K6Harness.Init(script, new Dictionary<string, string>
        {
            ["RATE"] = "100", ["RAMP_UP"] = "0s", ["RAMP_DOWN"] = "0s", ["PRE_VU"] = "20",
        }).Export("options")!["scenarios"]![scenario]!.AsObject();
        Assert.Equal("constant-arrival-rate", constant["executor"]!.GetValue<string>());
        Assert.Equal(100, constant["rate"]!.GetValue<int>());
        Assert.Equal("1m", constant["duration"]!.GetValue<string>());
        Assert.Equal(20, constant["preAllocatedVUs"]!.GetValue<int>());
        Assert.Equal(50, constant["maxVUs"]!.GetValue<int>());

        // A wrong value stops the script at init, naming the variable.
        foreach (var (name, value) in new[] { ("DURATION", "soon"), ("RAMP_UP", "10"), ("MAX_VU", "0"), ("RATE", "fast"), ("LOCK_TYPE", "none"), ("OPTIMIZE", "yes") })
        {
            var error = Assert.ThrowsAny<Exception>(() => K6Harness.Init(script, new Dictionary<string, string> { [name] = value }));
            Assert.Contains(name, error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// k6 lets --vus/--duration (a higher config tier) replace the script's stages or scenarios; that works only while
    /// the script sets exactly one of the execution shortcuts, so `k6 run --vus 50 --duration 30s` works as written.
    /// </summary>
    private static void AssertShortcutsOnly(JsonObject options, string which)
    {
        Assert.NotNull(options[which]);
        foreach (var other in new[] { "stages", "scenarios", "duration", "iterations", "vus" }.Where(o => o != which))
        {
            Assert.Null(options[other]);
        }
    }

    private static void AssertStages(JsonNode? stages, params (string Duration, int Target)[] expected)
    {
        var actual = Assert.IsType<JsonArray>(stages).Select(s => (s!["duration"]!.GetValue<string>(), s["target"]!.GetValue<int>())).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void EveryScenarioHasItsScriptAndTheLibraryReadsTheOneDefinition()
    {
        var root = K6Harness.RepositoryRoot();
        var scripts = Directory.GetFiles(Path.Combine(root, "k6"), "*.js").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.Equal(ScenarioNames.Order(), scripts);

        // open() in k6/lib/exbuy.js resolves from k6/lib (k6's rule at a module's top level): the same JSON.
        var lib = K6Harness.Init("k6/lib/exbuy.js", new Dictionary<string, string>());
        Assert.True(JsonNode.DeepEquals(Definition, lib.Export("def")));
        Assert.Equal("http://localhost:8000", lib.Export("BASE_URL")!.GetValue<string>());
        var custom = K6Harness.Init("k6/lib/exbuy.js", new Dictionary<string, string> { ["BASE_URL"] = "http://127.0.0.1:8001/" });
        Assert.Equal("http://127.0.0.1:8001", custom.Export("BASE_URL")!.GetValue<string>());

        // handleSummary(): stdout and the JSON result, by default under results/, else where SUMMARY_JSON says.
        const string data = """{"metrics":{},"root_group":{"name":"","groups":[],"checks":[]},"options":{},"state":{}}""";
        var byDefault = K6Harness.Init("k6/mixed.js", new Dictionary<string, string>()).Call("handleSummary", data)!.AsObject();
        Assert.Equal(new HashSet<string> { "results/k6-mixed-summary.json", "stdout" }, byDefault.Select(p => p.Key).ToHashSet());
        Assert.Equal("mixed", JsonNode.Parse(byDefault["results/k6-mixed-summary.json"]!.GetValue<string>())!["exbuy"]!["scenario"]!.GetValue<string>());
        var chosen = K6Harness.Init("k6/read-only.js", new Dictionary<string, string> { ["SUMMARY_JSON"] = "out/ro.json" }).Call("handleSummary", data)!.AsObject();
        Assert.Equal(new HashSet<string> { "out/ro.json", "stdout" }, chosen.Select(p => p.Key).ToHashSet());

        // The traceparent generator and the Server-Timing parser the iterations use.
        for (var i = 0; i < 50; i++)
        {
            Assert.Matches(TraceParent, lib.Call("traceparent")!.GetValue<string>());
        }
        var timing = lib.Call("serverTiming", "\"app;dur=1.25, db;dur=0.5;desc=\\\"2 queries\\\"\"")!;
        Assert.Equal(1.25, timing["app"]!.GetValue<double>());
        Assert.Equal(0.5, timing["db"]!.GetValue<double>());
    }

    private static List<long> Ids(JsonNode? node) => node is JsonArray a ? [.. a.Select(x => x!.GetValue<long>())] : [];

    private static IEnumerable<(string Key, string Value)> Query(Uri uri) =>
        uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(kv => (Uri.UnescapeDataString(kv[0]), kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : ""));
}
