using System.Net;
using CsCheck;
using ExBuy.Api.Tests.Faults;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// GET|PUT|DELETE /api/admin/faults and PUT /api/admin/faults/seed (contract: Faults and latency) on an app started with
/// ADMIN_TOKEN, under generated rule lists (mostly a valid list with one field damaged), seeds, <c>validate_only</c>
/// values and Authorization headers. The contract checks of <see cref="FuzzTests"/> hold; a request without the right
/// bearer token is a 401; and a refused request, or one with <c>validate_only</c> true, leaves the active rules as they were.
/// </summary>
public abstract class AdminFuzzTests(ExBuyApp app) : FuzzTests(app)
{
    private const long DefaultIterations = 500;
    private const string Faults = "/api/admin/faults";
    private const string Bearer = "Bearer " + AdminApps.Token;

    private static readonly string[] RuleFields =
        ["route", "delay_ms", "db_delay_ms", "error_status", "percent", "until", "delay_percent", "db_delay_percent", "error_percent", "source"];

    private static readonly EndpointShape RulesShape = new("PUT " + Faults, ["validate_only"], ["[]", .. RuleFields.Select(f => "[]." + f)]);

    private static readonly EndpointShape SeedShape = new("PUT " + Faults + "/seed", [], ["seed"]);

    private static readonly EndpointShape ReadShape = new("GET|DELETE " + Faults, [], []);

    /// <summary>The right token (also spelt "bearer", or padded with spaces), or a missing, malformed or wrong one.</summary>
    private static readonly string[] RightTokens = [Bearer, "bearer " + AdminApps.Token, "Bearer  " + AdminApps.Token + " "];

    private static readonly Gen<string> Authorization = Gen.Frequency<string>(
        (12, Gen.Const(Bearer)),
        (1, Gen.OneOf(RightTokens)),
        (1, Gen.OneOf("", "Bearer", "Bearer ", "Basic " + AdminApps.Token, "Bearer " + AdminApps.Token + "x",
            "Bearer " + AdminApps.Token.ToUpperInvariant(), AdminApps.Token, "Bearer \u202E", "Bearer 😀")));

    /// <summary>A valid rule: an optional route, at least one fault (small delays, any 4xx/5xx status), optional percent and expiry.</summary>
    private static readonly Gen<JsonTree> Rule =
        from route in Gen.OneOf<string?>(null, "/api/products/{id}", "/api/orders*", "/api/reviews", "/api/*")
        from delay in Gen.Int[0, 50].Nullable()
        from error in Gen.Int[400, 599].Nullable()
        from percent in Gen.Int[0, 100].Nullable()
        from until in Gen.Bool
        let members = new (string, JsonTree?)[]
        {
            ("route", route is null ? null : new JsonString(route)),
            ("delay_ms", delay is { } d ? JsonToken.Of(d) : null),
            ("error_status", error is { } e ? JsonToken.Of(e) : delay is null ? JsonToken.Of(503) : null),
            ("percent", percent is { } p ? JsonToken.Of(p) : null),
            ("until", until ? new JsonString("2099-01-01T00:00:00Z") : null),
        }
        select (JsonTree)new JsonObject([.. members.Where(m => m.Item2 is not null).Select(m => (m.Item1, m.Item2!))]);

    [Fact]
    public async Task AdminAnswersByContractAndRefusalsKeepTheRules()
    {
        var rules = FuzzGen.Documents(Rule.Array[0, 3].Select(items => (JsonTree)new JsonArray(items)), RuleFields, oversize: 100);
        var seeds = FuzzGen.Documents(Gen.Int.Select(seed => (JsonTree)new JsonObject(("seed", JsonToken.Of(seed)))), ["seed"], oversize: 100);
        var validateOnly = Gen.Frequency<string>(
            (6, Gen.Const("")),
            (3, Gen.OneOf("true", "false", "1", "0", "TRUE").Select(v => "?validate_only=" + v)),
            (1, FuzzGen.Query([("validate_only", Gen.OneOf("true", "false"))])));
        var requests =
            from kind in Gen.Frequency<int>((6, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3)))
            from request in kind switch
            {
                0 => FuzzGen.JsonRequests(HttpMethod.Put, validateOnly.Select(q => (Faults + q, false)), rules),
                1 => FuzzGen.JsonRequests(HttpMethod.Put, Gen.Const((Faults + "/seed", false)), seeds),
                2 => Gen.Const(new FuzzRequest(HttpMethod.Get, Faults)),
                _ => Gen.Const(new FuzzRequest(HttpMethod.Delete, Faults)),
            }
            from authorization in Authorization
            select request with { Authorization = authorization };
        await CheckAsync(requests, async request =>
        {
            var before = await ActiveRulesAsync();
            var shape = request.Url.StartsWith(Faults + "/seed", StringComparison.Ordinal) ? SeedShape
                : request.Method == HttpMethod.Put ? RulesShape : ReadShape;
            var response = await SendAsync(request, shape);
            Assert.True(request.Authorization is { } token && RightTokens.Contains(token) || response.Status == HttpStatusCode.Unauthorized,
                $"{request}: {(int)response.Status} without the right token");
            var keeps = (int)response.Status >= 400 || (shape == RulesShape && ValidateOnly(request.Url));
            if (keeps)
            {
                Assert.True(before == await ActiveRulesAsync(), $"{request}: {(int)response.Status} changed the active rules");
            }
            return response;
        }, DefaultIterations);
    }

    /// <summary>Clears the rules the property left active.</summary>
    public override async ValueTask DisposeAsync()
    {
        using var clear = new FuzzRequest(HttpMethod.Delete, Faults, Authorization: Bearer).ToMessage();
        (await Client.SendAsync(clear)).Dispose();
        await base.DisposeAsync();
    }

    private async Task<string> ActiveRulesAsync()
    {
        using var get = new FuzzRequest(HttpMethod.Get, Faults, Authorization: Bearer).ToMessage();
        using var response = await Client.SendAsync(get, Ct);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    /// <summary>Whether the URL's one <c>validate_only</c> says true (as the app reads flags); anything else applies the rules or is a 400.</summary>
    private static bool ValidateOnly(string url) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri("http://x" + url).Query).TryGetValue("validate_only", out var values)
        && values.Count == 1 && (string.Equals(values[0], "true", StringComparison.OrdinalIgnoreCase) || values[0] == "1");
}

public sealed class AdminFuzzSqliteTests(AdminSqliteApp app) : AdminFuzzTests(app), IClassFixture<AdminSqliteApp>;

public sealed class AdminFuzzPostgresTests(AdminPostgresApp app) : AdminFuzzTests(app), IClassFixture<AdminPostgresApp>;
