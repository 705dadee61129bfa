using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Faults;

internal static class AdminApps
{
    public const string Token = "admin-token-for-tests";

    public static readonly IDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["ADMIN_TOKEN"] = Token,
        ["FAULT_SEED"] = "11",
    };
}

public sealed class AdminSqliteApp() : VariantSqliteApp(AdminApps.Settings);

public sealed class AdminPostgresApp(PostgresCluster cluster) : VariantPostgresApp(cluster, AdminApps.Settings);

/// <summary>
/// GET|PUT|DELETE /api/admin/faults (and PUT …/seed) on an app started with ADMIN_TOKEN. The rules are the app's state:
/// every test clears them before and after (the tests of a class run one at a time).
/// </summary>
public abstract class FaultAdminTests(ExBuyApp app) : EngineTests(app)
{
    private const string Faults = "/api/admin/faults";

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        await ClearAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await ClearAsync();
        await base.DisposeAsync();
    }

    private async Task ClearAsync()
    {
        using var response = await AdminAsync(HttpMethod.Delete, Faults);
        await response.ExpectAsync(HttpStatusCode.NoContent);
    }

    private async Task<HttpResponseMessage> AdminAsync(HttpMethod method, string url, string? json = null, string? token = AdminApps.Token)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = Http.Json(json);
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return await Client.SendAsync(request, Ct);
    }

    private async Task<JsonElement> PutAsync(string json)
    {
        using var response = await AdminAsync(HttpMethod.Put, Faults, json);
        return await response.ExpectAsync(HttpStatusCode.OK);
    }

    private async Task<JsonElement> GetRulesAsync()
    {
        using var response = await AdminAsync(HttpMethod.Get, Faults);
        return await response.ExpectAsync(HttpStatusCode.OK);
    }

    private static string? FaultHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Fault", out var values) ? values.Single() : null;

    [Fact]
    public async Task PutReplacesGetReadsDeleteClears()
    {
        var put = await PutAsync("""
            [{"route": "/api/products/{id}", "delay_ms": 5, "percent": 100},
             {"route": "/api/orders*", "error_status": 503, "until": "2099-01-01T00:00:00Z"}]
            """);
        Assert.Equal(2, put.GetArrayLength());
        var rules = await GetRulesAsync();
        Assert.Equal(put.GetRawText(), rules.GetRawText());
        var first = rules[0];
        Assert.Equal("/api/products/{id}", first.GetProperty("route").GetString());
        Assert.Equal(5, first.GetProperty("delay_ms").GetDouble());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("db_delay_ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, first.GetProperty("error_status").ValueKind);
        Assert.Equal(100, first.GetProperty("percent").GetDouble());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("until").ValueKind);
        Assert.Equal("admin", first.GetProperty("source").GetString());
        Assert.Equal("2099-01-01T00:00:00.000Z", rules[1].GetProperty("until").GetString());

        // A second PUT replaces the whole set.
        var replaced = await PutAsync("""[{"error_status": 418}]""");
        Assert.Equal(1, replaced.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, (await GetRulesAsync())[0].GetProperty("route").ValueKind);

        using var delete = await AdminAsync(HttpMethod.Delete, Faults);
        await delete.ExpectAsync(HttpStatusCode.NoContent);
        Assert.Equal(0, (await GetRulesAsync()).GetArrayLength());
    }

    [Fact]
    public async Task GetOutputCanBePutBack()
    {
        var rules = await PutAsync("""[{"route": "/api/stats*", "db_delay_ms": 1, "error_status": 500, "percent": 0, "error_percent": 40}]""");
        Assert.Equal(JsonValueKind.Null, rules[0].GetProperty("percent").ValueKind); // db_delay at 0 %, error at 40 %
        var again = await PutAsync(rules.GetRawText());
        Assert.Equal(rules.GetRawText(), again.GetRawText());
    }

    [Fact]
    public async Task ErrorRuleAnswersWithoutRunningTheHandlerOnItsRoutesOnly()
    {
        var product = await App.AddProductAsync(stock: 10);
        var user = Arrange.NewUserId();
        await PutAsync("""[{"route": "/api/orders*", "error_status": 503}]""");

        using var order = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (product.Id, 2)));
        var problem = await order.ExpectProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Injected fault", problem.GetProperty("title").GetString());
        Assert.Contains("/api/admin/faults", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("error=503", FaultHeader(order));
        Assert.Equal("1", order.Headers.RetryAfter?.ToString());
        Assert.Equal(0, order.QueryCount());
        Assert.Equal(0, await App.OrderCountAsync(user));
        Assert.Equal(10, await App.StockAsync(product.Id));

        using var detail = await Client.GetAsync($"/api/products/{product.Id}", Ct);
        await detail.ExpectAsync(HttpStatusCode.OK);
        Assert.Null(FaultHeader(detail));
    }

    [Fact]
    public async Task DelayRuleIsChargedOnItsRoute()
    {
        var product = await App.AddProductAsync();
        await PutAsync("""[{"route": "/api/products/{id}", "delay_ms": 200}, {"route": "/api/stats*", "db_delay_ms": 150}]""");
        var watch = Stopwatch.StartNew();
        using var detail = await Client.GetAsync($"/api/products/{product.Id}?optimize=true", Ct);
        watch.Stop();
        await detail.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("delay=200ms", FaultHeader(detail));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(190), $"took {watch.Elapsed.TotalMilliseconds} ms");

        watch.Restart();
        using var stats = await Client.GetAsync("/api/stats/top-products?limit=3", Ct);
        watch.Stop();
        await stats.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("db_delay=150ms", FaultHeader(stats));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(140), $"took {watch.Elapsed.TotalMilliseconds} ms");

        using var list = await Client.GetAsync("/api/products?page_size=1", Ct);
        await list.ExpectAsync(HttpStatusCode.OK);
        Assert.Null(FaultHeader(list));
    }

    [Fact]
    public async Task FirstMatchingRuleWinsAndHeadersOverrideItKindByKind()
    {
        await PutAsync("""[{"route": "/api/health", "error_status": 502}, {"error_status": 500}]""");
        using var health = await Client.GetAsync("/api/health", Ct);
        await health.ExpectProblemAsync(HttpStatusCode.BadGateway);
        using var info = await Client.GetAsync("/api/info", Ct);
        await info.ExpectProblemAsync(HttpStatusCode.InternalServerError);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.Add("X-Fault-Error", "429");
        using var overridden = await Client.SendAsync(request, Ct);
        await overridden.ExpectProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("error=429", FaultHeader(overridden));
    }

    [Fact]
    public async Task TheAdminApiIsNeverFaulted()
    {
        await PutAsync("""[{"error_status": 503, "delay_ms": 2000}]""");
        var watch = Stopwatch.StartNew();
        var rules = await GetRulesAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(1500), $"GET took {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(1, rules.GetArrayLength());
    }

    [Fact]
    public async Task ExpiryRemovesTheRule()
    {
        var until = DateTime.UtcNow.AddSeconds(1.5).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        await PutAsync($$"""[{"route": "/api/health", "error_status": 503, "until": "{{until}}"}]""");
        using (var during = await Client.GetAsync("/api/health", Ct))
        {
            await during.ExpectProblemAsync(HttpStatusCode.ServiceUnavailable);
        }
        await Task.Delay(TimeSpan.FromSeconds(1.7), Ct);
        using var after = await Client.GetAsync("/api/health", Ct);
        await after.ExpectAsync(HttpStatusCode.OK);
        Assert.Null(FaultHeader(after));
        Assert.Equal(0, (await GetRulesAsync()).GetArrayLength());
        using var info = await Client.GetAsync("/api/info", Ct);
        var faults = (await info.ExpectAsync(HttpStatusCode.OK)).GetProperty("faults");
        Assert.Equal(0, faults.GetProperty("active_rules").GetInt32());
        Assert.True(faults.GetProperty("admin_api").GetBoolean());
    }

    [Fact]
    public async Task PercentHoldsAndTheSeedEndpointReproducesTheSequence()
    {
        await PutAsync("""[{"route": "/api/health", "error_status": 503, "percent": 30}]""");

        async Task<string> SequenceAsync()
        {
            using (var seed = await AdminAsync(HttpMethod.Put, Faults + "/seed", """{"seed": 2024}"""))
            {
                Assert.Equal(2024, (await seed.ExpectAsync(HttpStatusCode.OK)).GetProperty("seed").GetInt32());
            }
            var outcomes = new char[300];
            for (var i = 0; i < outcomes.Length; i++)
            {
                using var response = await Client.GetAsync("/api/health", Ct);
                outcomes[i] = response.StatusCode == HttpStatusCode.ServiceUnavailable ? 'E' : '.';
            }
            return new string(outcomes);
        }

        var first = await SequenceAsync();
        var errors = first.Count(c => c == 'E');
        Assert.InRange(errors, 60, 120); // 30 % of 300 = 90, σ ≈ 7.9
        Assert.Equal(first, await SequenceAsync());
    }

    [Fact]
    public async Task ValidateOnlyAppliesNothing()
    {
        using var response = await AdminAsync(HttpMethod.Put, Faults + "?validate_only=true", """[{"error_status": 503}]""");
        var normalised = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(503, normalised[0].GetProperty("error_status").GetInt32());
        Assert.Equal(0, (await GetRulesAsync()).GetArrayLength());
        using var health = await Client.GetAsync("/api/health", Ct);
        await health.ExpectAsync(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("""{"error_status": 503}""", "body")]
    [InlineData("""[{"route": "/api/product/{id}", "error_status": 503}]""", "[0].route")]
    [InlineData("""[{"route": "api/products", "error_status": 503}]""", "[0].route")]
    [InlineData("""[{"route": "/api/*/reviews", "error_status": 503}]""", "[0].route")]
    [InlineData("""[{"route": "/api/admin/faults", "error_status": 503}]""", "[0].route")]
    [InlineData("""[{"route": 5, "error_status": 503}]""", "[0].route")]
    [InlineData("""[{"delay_ms": -1}]""", "[0].delay_ms")]
    [InlineData("""[{"delay_ms": "100"}]""", "[0].delay_ms")]
    [InlineData("""[{"delay_ms": 30001}]""", "[0].delay_ms")]
    [InlineData("""[{"db_delay_ms": 1e9}]""", "[0].db_delay_ms")]
    [InlineData("""[{"error_status": 200}]""", "[0].error_status")]
    [InlineData("""[{"error_status": 503.5}]""", "[0].error_status")]
    [InlineData("""[{"error_status": 503, "percent": 101}]""", "[0].percent")]
    [InlineData("""[{"error_status": 503, "error_percent": -1}]""", "[0].error_percent")]
    [InlineData("""[{"error_status": 503, "until": "2020-01-01T00:00:00Z"}]""", "[0].until")]
    [InlineData("""[{"error_status": 503, "until": "2099-01-01T00:00:00"}]""", "[0].until")]
    [InlineData("""[{"error_status": 503, "until": "tomorrow"}]""", "[0].until")]
    [InlineData("""[{"error_status": 503, "delay": 100}]""", "[0].delay")]
    [InlineData("""[{"error_status": 503}, {"route": "/api/health"}]""", "[1]")]
    [InlineData("""[{"error_status": 503}, 7]""", "[1]")]
    [InlineData("""[{"error_status": 503""", "body")]
    public async Task BadRuleIs400NamingTheFieldAndChangesNothing(string json, string field)
    {
        await PutAsync("""[{"route": "/api/stats*", "error_status": 418}]""");
        using var response = await AdminAsync(HttpMethod.Put, Faults, json);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        var rules = await GetRulesAsync();
        Assert.Equal(1, rules.GetArrayLength());
        Assert.Equal(418, rules[0].GetProperty("error_status").GetInt32());
    }

    [Theory]
    [InlineData("""{"seed": "x"}""", "seed")]
    [InlineData("""{}""", "seed")]
    [InlineData("""[1]""", "body")]
    public async Task BadSeedIs400NamingTheField(string json, string field)
    {
        using var response = await AdminAsync(HttpMethod.Put, Faults + "/seed", json);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    [InlineData("admin-token-for-tests-and-more")]
    public async Task MissingOrWrongTokenIs401AndChangesNothing(string? token)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Put, HttpMethod.Delete })
        {
            using var response = await AdminAsync(method, Faults, method == HttpMethod.Put ? """[{"error_status": 503}]""" : null, token);
            await response.ExpectProblemAsync(HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
        using var seed = await AdminAsync(HttpMethod.Put, Faults + "/seed", """{"seed": 1}""", token);
        await seed.ExpectProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(0, (await GetRulesAsync()).GetArrayLength());
    }

    [Fact]
    public async Task BasicAuthIsNotABearerToken()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Faults);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:admin-token-for-tests"u8));
        using var response = await Client.SendAsync(request, Ct);
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Contains("bearer", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Without ADMIN_TOKEN the admin API does not exist: 404 whatever the token.</summary>
public abstract class FaultAdminOffTests(ExBuyApp app) : EngineTests(app)
{
    [Theory]
    [InlineData("GET", "/api/admin/faults")]
    [InlineData("PUT", "/api/admin/faults")]
    [InlineData("DELETE", "/api/admin/faults")]
    [InlineData("PUT", "/api/admin/faults/seed")]
    public async Task AdminApiIs404(string method, string url)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminApps.Token);
        if (method == "PUT")
        {
            request.Content = Http.Json("[]");
        }
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        using var info = await Client.GetAsync("/api/info", Ct);
        Assert.False((await info.ExpectAsync(HttpStatusCode.OK)).GetProperty("faults").GetProperty("admin_api").GetBoolean());
    }
}

public sealed class FaultAdminSqliteTests(AdminSqliteApp app) : FaultAdminTests(app), IClassFixture<AdminSqliteApp>;

public sealed class FaultAdminPostgresTests(AdminPostgresApp app) : FaultAdminTests(app), IClassFixture<AdminPostgresApp>;

public sealed class FaultAdminOffSqliteTests(SqliteApp app) : FaultAdminOffTests(app), IClassFixture<SqliteApp>;

public sealed class FaultAdminOffPostgresTests(PostgresApp app) : FaultAdminOffTests(app), IClassFixture<PostgresApp>;

/// <summary>
/// A real ExBuy process with ADMIN_TOKEN: a refused admin call leaves one log line (no token in it), and a DB delay set
/// at run time holds pooled connections — on PostgreSQL the pool's in-use gauge in /metrics rises by the requests held.
/// </summary>
public abstract class FaultAdminProcessTests(string engineName, PostgresCluster cluster)
    : Observability.ProcessTests(engineName, cluster)
{
    private readonly bool _postgres = engineName == "postgres";

    protected override IDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["ADMIN_TOKEN"] = AdminApps.Token,
        ["DB_POOL_MAX"] = "20",
    };

    private async Task PutRulesAsync(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/admin/faults") { Content = Http.Json(json) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminApps.Token);
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RefusedAdminCallIsLoggedOnceWithoutTheToken()
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/admin/faults");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess-1234");
        using var response = await Client.SendAsync(request, Ct);
        await response.ExpectProblemAsync(HttpStatusCode.Unauthorized);
        var line = await Server.WaitForStdoutAsync(l => l.Contains("Admin request refused: DELETE /api/admin/faults", StringComparison.Ordinal), Ct);
        Assert.Contains("wrong bearer token", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Server.StdoutLines.Concat(Server.StderrLines), l => l.Contains("guess-1234", StringComparison.Ordinal)
            || l.Contains(AdminApps.Token, StringComparison.Ordinal));
    }

    /// <summary>Npgsql's pool gauge: connections of the app's pool ("exbuy") in use.</summary>
    private static double UsedConnections(string exposition) => Samples(exposition)
        .Where(s => s.Key.StartsWith("db_client_connection_count{", StringComparison.Ordinal)
            && s.Key.Contains("db_client_connection_pool_name=\"exbuy\"", StringComparison.Ordinal)
            && s.Key.Contains("db_client_connection_state=\"used\"", StringComparison.Ordinal))
        .Sum(s => s.Value);

    [Fact]
    public async Task DbDelayRuleHoldsPooledConnections()
    {
        await PutRulesAsync("""[{"route": "/api/products/{id}", "db_delay_ms": 1500}]""");
        // SQLite's delay holds the one write lock: concurrent delays would queue behind each other, so one request there.
        var count = _postgres ? 4 : 1;
        var held = Enumerable.Range(1, count).Select(id => Client.GetAsync($"/api/products/{id}?optimize=true", Ct)).ToArray();
        if (_postgres)
        {
            double used = 0;
            for (var i = 0; i < 50 && used < 4; i++)
            {
                await Task.Delay(20, Ct);
                used = UsedConnections(await ScrapeAsync());
            }
            Assert.True(used >= 4, $"the pool's in-use gauge reached only {used} while 4 requests held a DB delay");
        }
        foreach (var task in held)
        {
            using var response = await task;
            await response.ExpectAsync(HttpStatusCode.OK);
            Assert.Equal("db_delay=1500ms", response.Headers.GetValues("X-Fault").Single());
        }
        if (_postgres)
        {
            // Released once each request's scope ends, which is just after its response was sent.
            double left = -1;
            for (var i = 0; i < 100 && left != 0; i++)
            {
                left = UsedConnections(await ScrapeAsync());
                if (left != 0)
                {
                    await Task.Delay(20, Ct);
                }
            }
            Assert.Equal(0, left);
        }
    }
}

public sealed class FaultAdminProcessSqliteTests(PostgresCluster cluster) : FaultAdminProcessTests("sqlite", cluster);

public sealed class FaultAdminProcessPostgresTests(PostgresCluster cluster) : FaultAdminProcessTests("postgres", cluster);
