using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Faults;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Observability;

namespace ExBuy.Api.Tests.OpenApi;

/// <summary>
/// <c>GET /openapi/v1.json</c> against the contract (v1.1), against <c>docs/API.md</c>, and against what the handlers
/// really answer: every contract operation and status is documented and nothing else is; every documented query
/// parameter is one the handler parses; response bodies have the documented properties.
/// </summary>
public sealed partial class OpenApiDocumentTests(AdminSqliteApp app) : EngineTests(app), IClassFixture<AdminSqliteApp>
{
    /// <summary>
    /// The contract's operations and the statuses it gives each: its endpoint table and "Beyond the original", plus
    /// what its conventions give every operation of a kind: 503 for every database-backed route (unreachable database,
    /// exhausted pool), 413 for a JSON body over the limit, 415 for a framework-bound body that is not JSON; and the
    /// reliability promise's 507 for an upload that finds the disk full.
    /// </summary>
    private static readonly Dictionary<string, int[]> Contract = new()
    {
        ["GET /api/health"] = [200],
        ["GET /api/products"] = [200, 400, 404, 503],
        ["GET /api/products/{id}"] = [200, 400, 404, 503],
        ["GET /api/products/{id}/reviews"] = [200, 400, 404, 503],
        ["GET /api/search/products"] = [200, 400, 404, 503],
        ["POST /api/orders"] = [201, 400, 409, 413, 415, 503],
        ["GET /api/orders/{id}"] = [200, 400, 404, 503],
        ["PATCH /api/orders/{id}"] = [200, 400, 404, 409, 413, 415, 503],
        ["POST /api/orders/bulk"] = [201, 400, 409, 413, 415, 503],
        ["POST /api/inventory/reserve"] = [200, 400, 404, 409, 413, 415, 503],
        ["GET /api/stats/top-products"] = [200, 400, 503],
        ["POST /api/reviews"] = [201, 400, 413, 415, 503],
        ["GET /api/reviews"] = [200, 400, 404, 503],
        ["POST /api/uploads"] = [201, 400, 413, 415, 507],
        ["DELETE /api/products/{id}"] = [204, 404, 503],
        ["GET /api/health/ready"] = [200, 503],
        ["GET /api/uploads/{id}"] = [200, 404],
        ["GET /metrics"] = [200],
        ["GET /openapi/v1.json"] = [200],
        ["GET /api/info"] = [200],
        ["GET /api/admin/faults"] = [200, 401],
        ["PUT /api/admin/faults"] = [200, 400, 401, 413],
        ["DELETE /api/admin/faults"] = [204, 401],
        ["PUT /api/admin/faults/seed"] = [200, 400, 401, 413],
    };

    private static readonly string[] OptimizeRoutes =
    [
        "GET /api/products", "GET /api/products/{id}", "GET /api/products/{id}/reviews", "GET /api/search/products",
        "GET /api/orders/{id}", "GET /api/reviews",
    ];

    private async Task<JsonObject> DocumentAsync(HttpClient? client = null)
    {
        using var response = await (client ?? Client).GetAsync("/openapi/v1.json", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
    }

    private static IEnumerable<(string Key, JsonObject Operation)> Operations(JsonObject document) =>
        from path in document["paths"]!.AsObject()
        from op in path.Value!.AsObject()
        select ($"{op.Key.ToUpperInvariant()} {path.Key}", op.Value!.AsObject());

    private static int[] Statuses(JsonObject operation) =>
        [.. operation["responses"]!.AsObject().Select(r => int.Parse(r.Key, System.Globalization.CultureInfo.InvariantCulture)).Order()];

    private static string[] QueryParameters(JsonObject operation) =>
        [.. (operation["parameters"]?.AsArray() ?? []).Where(p => (string?)p!["in"] == "query").Select(p => (string)p!["name"]!)];

    [Fact]
    public async Task The_document_has_every_contract_operation_and_status_and_nothing_else()
    {
        var document = await DocumentAsync();
        Assert.StartsWith("3.1", (string)document["openapi"]!);
        Assert.Equal("1.1", (string?)document["info"]!["version"]);
        var documented = Operations(document).ToDictionary(o => o.Key, o => Statuses(o.Operation));
        Assert.Equal(Contract.Keys.Order(), documented.Keys.Order());
        foreach (var (operation, statuses) in Contract)
        {
            Assert.True(statuses.SequenceEqual(documented[operation]),
                $"{operation}: the contract gives [{string.Join(", ", statuses)}], the document [{string.Join(", ", documented[operation])}]");
        }
        // Each operation is named (client generators use it) and no status code is a 5xx other than 503.
        Assert.All(Operations(document), o => Assert.False(string.IsNullOrEmpty((string?)o.Operation["operationId"]), o.Key));
        Assert.DoesNotContain(documented.Values.SelectMany(s => s), s => s >= 500 && s is not (503 or 507));
    }

    [Fact]
    public async Task Errors_are_problem_json_and_the_503s_say_when_to_retry()
    {
        var document = await DocumentAsync();
        foreach (var (key, operation) in Operations(document))
        {
            foreach (var (status, response) in operation["responses"]!.AsObject())
            {
                var code = int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
                var content = response!["content"]?.AsObject();
                if (key == "GET /api/health/ready" || code < 400)
                {
                    continue;
                }
                Assert.True(content is not null && content.ContainsKey("application/problem+json"), $"{key} {status}: {response.ToJsonString()}");
                var schema = (string?)content!["application/problem+json"]!["schema"]!["$ref"];
                Assert.Equal(code == 400 ? "#/components/schemas/HttpValidationProblemDetails" : "#/components/schemas/ProblemDetails", schema);
                if (code == 503)
                {
                    Assert.NotNull(response["headers"]?["Retry-After"]);
                }
            }
            if (key.Contains(" /api/", StringComparison.Ordinal))
            {
                Assert.All(operation["responses"]!.AsObject(), r => Assert.NotNull(r.Value!["headers"]?["X-Query-Count"]));
            }
        }
        // The readiness probe's 503 is its own JSON shape, not a problem.
        var ready = Operations(document).Single(o => o.Key == "GET /api/health/ready").Operation;
        Assert.Equal("#/components/schemas/ReadyResponse", (string?)ready["responses"]!["503"]!["content"]!["application/json"]!["schema"]!["$ref"]);
    }

    [Fact]
    public async Task Every_documented_query_parameter_is_one_the_handler_checks_and_names_in_its_400()
    {
        var document = await DocumentAsync();
        var optimize = Operations(document).Where(o => QueryParameters(o.Operation).Contains("optimize")).Select(o => o.Key).Order();
        Assert.Equal(OptimizeRoutes.Order(), optimize);
        var checkedCount = 0;
        foreach (var (key, operation) in Operations(document))
        {
            foreach (var parameter in (operation["parameters"]?.AsArray() ?? []).Where(p => (string?)p!["in"] == "query"))
            {
                var name = (string)parameter!["name"]!;
                var bad = BadValue(parameter["schema"]!.AsObject());
                if (bad is null)
                {
                    continue; // a free-form string (category): every value is valid
                }
                var method = new HttpMethod(key[..key.IndexOf(' ')]);
                var path = key[(key.IndexOf(' ') + 1)..].Replace("{id}", "1", StringComparison.Ordinal);
                using var request = new HttpRequestMessage(method, $"{path}?{name}={Uri.EscapeDataString(bad)}");
                if (method == HttpMethod.Post)
                {
                    request.Content = JsonContent.Create(new { product_id = 1, quantity = 1 });
                }
                using var response = await Client.SendAsync(request, Ct);
                var body = await response.Content.ReadAsStringAsync(Ct);
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{key}?{name}={bad}: {(int)response.StatusCode} {body}");
                Assert.Contains(name, JsonNode.Parse(body)!["errors"]!.AsObject().Select(e => e.Key));
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 20, $"only {checkedCount} parameters checked");
    }

    /// <summary>A value the parameter's schema forbids, or null when it allows every string.</summary>
    private static string? BadValue(JsonObject schema)
    {
        if (schema["enum"] is JsonArray)
        {
            return "not-a-choice";
        }
        if (schema["maxLength"] is { } max)
        {
            return new string('x', (int)max + 1);
        }
        return (string?)schema["type"] switch
        {
            "integer" => schema["maximum"] is { } maximum && (long)maximum < int.MaxValue ? ((long)maximum + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0",
            "number" => "-1",
            _ => null,
        };
    }

    [Fact]
    public async Task Response_bodies_have_exactly_the_documented_properties()
    {
        var document = await DocumentAsync();
        var schemas = document["components"]!["schemas"]!.AsObject();
        var products = await App.AddProductsAsync(2);
        var reviewJson = await PostAsync("/api/reviews", new { product = products[0].Id, user_id = 7, rating = 5, body = "fine" });
        var order = await PostAsync("/api/orders", new { user_id = 7, items = new[] { new { product_id = products[0].Id, quantity = 1 } } });
        var reserve = await PostAsync("/api/inventory/reserve", new { product_id = products[1].Id, quantity = 1 });
        Matches(schemas, "ReviewDto", reviewJson);
        Matches(schemas, "OrderDto", order);
        Matches(schemas, "OrderItemDto", order["items"]![0]!.AsObject());
        Matches(schemas, "ReserveResponse", reserve);
        Matches(schemas, "ProductDetailDto", await GetAsync($"/api/products/{products[0].Id}?optimize=true"));
        var page = await GetAsync("/api/products?page_size=1");
        Matches(schemas, "PageOfProductDto", page);
        Matches(schemas, "ProductDto", page["results"]![0]!.AsObject());
        Matches(schemas, "TopProductsResponse", await GetAsync("/api/stats/top-products"));
        Matches(schemas, "InfoResponse", await GetAsync("/api/info"));
        Matches(schemas, "ReadyResponse", await GetAsync("/api/health/ready"));
    }

    private async Task<JsonObject> GetAsync(string url) =>
        JsonNode.Parse(await Client.GetStringAsync(url, Ct))!.AsObject();

    private async Task<JsonObject> PostAsync(string url, object body)
    {
        using var response = await Client.PostAsJsonAsync(url, body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static void Matches(JsonObject schemas, string name, JsonObject body)
    {
        var schema = schemas[name]!.AsObject();
        var properties = schema["properties"]!.AsObject().Select(p => p.Key).Order().ToArray();
        Assert.Equal(properties, body.Select(p => p.Key).Order().ToArray());
        var required = schema["required"]?.AsArray().Select(r => (string)r!).Order().ToArray() ?? [];
        Assert.Equal(properties, required);
        foreach (var (property, value) in body)
        {
            var type = schema["properties"]![property]!["type"];
            if (value is null || type is null)
            {
                continue; // null where the type allows it, checked below; references are checked by their own call
            }
            var types = type is JsonArray many ? many.Select(t => (string)t!).ToArray() : [(string)type!];
            var kind = value.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.String => "string",
                System.Text.Json.JsonValueKind.Number => "number",
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "boolean",
                System.Text.Json.JsonValueKind.Array => "array",
                _ => "object",
            };
            Assert.True(types.Contains(kind) || (kind == "number" && types.Contains("integer")), $"{name}.{property}: {value.ToJsonString()} is not {type.ToJsonString()}");
        }
    }

    [Fact]
    public async Task Request_schemas_carry_the_validators_ranges_and_required_fields()
    {
        var schemas = (await DocumentAsync())["components"]!["schemas"]!.AsObject();
        var item = schemas["OrderItemRequest"]!["properties"]!;
        Assert.Equal("integer", (string?)item["quantity"]!["type"]);
        Assert.Equal(1, (int)item["quantity"]!["minimum"]!);
        Assert.Equal(1000, (int)item["quantity"]!["maximum"]!);
        Assert.Equal(50, (int)schemas["CreateOrderRequest"]!["properties"]!["items"]!["maxItems"]!);
        Assert.Equal(100, (int)schemas["BulkOrdersRequest"]!["properties"]!["orders"]!["maxItems"]!);
        Assert.Equal(["cancelled", "delivered", "paid", "pending", "shipped"],
            schemas["UpdateOrderStatusRequest"]!["properties"]!["status"]!["enum"]!.AsArray().Select(v => (string)v!).Order());
        Assert.Equal(2000, (int)schemas["CreateReviewRequest"]!["properties"]!["body"]!["maxLength"]!);
        Assert.Equal(new[] { "product", "rating", "user_id", "body" }.Order(), schemas["CreateReviewRequest"]!["required"]!.AsArray().Select(v => (string)v!).Order());
        // Money is a number with cents, timestamps ISO-8601 strings (written by the app's own converters).
        var product = schemas["ProductDto"]!["properties"]!;
        Assert.Equal("number", (string?)product["price"]!["type"]);
        Assert.Equal(0.01m, (decimal)product["price"]!["multipleOf"]!);
        Assert.Equal("date-time", (string?)product["created_at"]!["format"]);
        Assert.Equal("string", (string?)product["created_at"]!["type"]);
        var file = schemas["UploadForm"]!["properties"]!["file"]!;
        if ((string?)file["$ref"] is { } reference)
        {
            file = schemas[reference.Split('/')[^1]]!;
        }
        Assert.Equal("binary", (string?)file["format"]);
    }

    [GeneratedRegex(@"^\|\s*(?:\d+)?\s*\|\s*`(?<op>(?:GET|POST|PUT|PATCH|DELETE) [^`]+)`\s*\|[^|]*\|(?<query>[^|]*)\|(?<statuses>[^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex DocsRow();

    [Fact]
    public async Task Docs_API_md_lists_exactly_the_documents_operations_query_parameters_and_statuses()
    {
        var document = await DocumentAsync();
        var text = File.ReadAllText(Repo.File("docs/API.md"));
        var rows = DocsRow().Matches(text).ToDictionary(m => m.Groups["op"].Value, m => m);
        var operations = Operations(document).ToDictionary(o => o.Key, o => o.Operation);
        Assert.Equal(operations.Keys.Order(), rows.Keys.Order());
        foreach (var (key, row) in rows)
        {
            var statuses = row.Groups["statuses"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(int.Parse).ToArray();
            Assert.True(Statuses(operations[key]).SequenceEqual(statuses), $"docs/API.md {key}: [{string.Join(", ", statuses)}]");
            var query = Regex.Matches(row.Groups["query"].Value, "`([a-z_]+)`").Select(m => m.Groups[1].Value).ToArray();
            Assert.True(QueryParameters(operations[key]).SequenceEqual(query), $"docs/API.md {key}: query [{string.Join(", ", query)}]");
        }
        // The README points at the reference inside the repository.
        Assert.Contains("docs/API.md", File.ReadAllText(Repo.File("README.md")));
    }

    [Fact]
    public async Task The_reference_page_is_served_by_the_app_itself()
    {
        using var page = await Client.GetAsync("/docs/", Ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("\"openapi/v1.json\"", html);
        // Its script comes from the app (no CDN): a reference that works on a machine without network.
        var script = Regex.Match(html, "<script[^>]+src=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(script.StartsWith("http", StringComparison.Ordinal), script);
        using var js = await Client.GetAsync(new Uri(new Uri("http://localhost/docs/"), script), Ct);
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.True((await js.Content.ReadAsByteArrayAsync(Ct)).Length > 100_000);
    }
}

/// <summary>Without ADMIN_TOKEN the admin API is not mapped, and the document does not describe it.</summary>
public sealed class OpenApiWithoutAdminTests(SqliteApp app) : EngineTests(app), IClassFixture<SqliteApp>
{
    [Fact]
    public async Task The_admin_operations_are_documented_only_when_they_exist()
    {
        var document = System.Text.Json.Nodes.JsonNode.Parse(await Client.GetStringAsync("/openapi/v1.json", Ct))!;
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToArray();
        Assert.DoesNotContain(paths, p => p.StartsWith("/api/admin", StringComparison.Ordinal));
        Assert.Contains("/api/orders/bulk", paths);
        Assert.Null(document["components"]!["securitySchemes"]);
        using var admin = await Client.GetAsync("/api/admin/faults", Ct);
        Assert.Equal(HttpStatusCode.NotFound, admin.StatusCode);
    }
}

/// <summary>The interactive reference renders the document in a real browser (headless Chromium), from the app alone.</summary>
public sealed class OpenApiReferencePageTests(PostgresCluster cluster) : ServerProcessTests("sqlite", cluster)
{
    [Fact]
    public async Task Headless_Chromium_renders_every_operation_of_the_reference_page()
    {
        var chromium = Tools.Require("chromium", "apt-get install -y chromium");
        var server = await StartAsync(new() { ["SEED_ON_EMPTY"] = "none" });
        var profile = Path.Combine(Path.GetTempPath(), "exbuy-chromium-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var (exit, dom) = await Tools.RunAsync(chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--virtual-time-budget=15000", $"--user-data-dir={profile}",
                "--dump-dom", $"{server.BaseUrl}/docs/",
            ], null, Ct);
            Assert.True(exit == 0, dom[..Math.Min(dom.Length, 2000)]);
            // Rendered from the fetched document: its description, every tag as a group, and the operations of the
            // first group, which the page opens (the others render when opened).
            var text = Regex.Replace(Regex.Replace(dom, "<(style|script)[^>]*>.*?</\\1>", " ", RegexOptions.Singleline), "<[^>]+>", " ");
            text = Regex.Replace(text, @"\s+", " ");
            Assert.True(text.Contains("A miniature commerce API built to be load-tested", StringComparison.Ordinal), text[..Math.Min(text.Length, 3000)]);
            foreach (var expected in new[] { "Products", "Reviews", "Orders", "Inventory", "Stats", "Uploads", "get /api/health/ready", "get /metrics" })
            {
                Assert.True(text.Contains(expected, StringComparison.Ordinal), $"{expected} not rendered:\n{text[..Math.Min(text.Length, 3000)]}");
            }
        }
        finally
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
