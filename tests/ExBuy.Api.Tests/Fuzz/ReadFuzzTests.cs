using System.Globalization;
using CsCheck;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// The GET endpoints of the contract under generated query strings (known parameters with valid or hostile values,
/// repeated, empty, unknown, percent-encoded or not, huge) and path ids (live, unknown, 0, negative, overflowing,
/// non-numeric): the contract checks of <see cref="FuzzTests"/> hold, a path id that is no positive integer is a 404,
/// and a 400 names only query parameters the endpoint takes.
/// </summary>
public abstract class ReadFuzzTests(ExBuyApp app) : FuzzTests(app)
{
    private const long DefaultIterations = 150;

    private static readonly string[] Paging = ["page", "page_size", "optimize"];

    [Theory]
    [InlineData("/api/products")]
    [InlineData("/api/products/{id}")]
    [InlineData("/api/products/{id}/reviews")]
    [InlineData("/api/search/products")]
    [InlineData("/api/orders/{id}")]
    [InlineData("/api/reviews")]
    [InlineData("/api/stats/top-products")]
    [InlineData("/api/uploads/{id}")]
    [InlineData("/api/health")]
    [InlineData("/api/health/ready")]
    [InlineData("/api/info")]
    public async Task GetAnswersByContract(string template)
    {
        var (category, token, userId, products) = await App.AddReviewedCatalogAsync("fuzz", 12);
        var deleted = await App.AddProductAsync(category, deleted: true);
        var orders = new List<long>();
        foreach (var (product, i) in products.Take(4).Select((p, i) => (p, i)))
        {
            orders.Add(await App.AddOrderAsync(userId, OrderStatus.All[i], (product, 1 + i)));
        }
        long[] productIds = [.. products.Select(p => p.Id), deleted.Id];
        var anyProduct = Gen.OneOf(productIds).Select(Text);
        var flag = Gen.OneOf("true", "false", "1", "0", "TRUE", "False");
        var page = Gen.Frequency<string>((4, Gen.Const("1")), (1, Gen.Int[2, 4].Select(Text)));
        var pageSize = Gen.Int[1, 100].Select(Text);
        var parameters = new Dictionary<string, Gen<string>>
        {
            ["page"] = page,
            ["page_size"] = pageSize,
            ["optimize"] = flag,
            ["category"] = Gen.OneOf(category, Categories.All[0], "unknown"),
            ["min_price"] = Gen.OneOf("0", "5", "7.5", "9.99"),
            ["max_price"] = Gen.OneOf("10", "12.25", "100", "0"),
            ["ordering"] = Gen.Select(Gen.OneOf("", "-"), Gen.OneOf("id", "name", "price", "stock", "created_at"), (sign, field) => sign + field),
            ["q"] = Gen.OneOf(token, "item", "ITEM 1", "", "%"),
            ["in_stock"] = flag,
            ["limit"] = Gen.Int[1, 100].Select(Text),
            ["product_id"] = anyProduct,
            ["user_id"] = Gen.OneOf(userId, 7, 1).Select(Text),
            ["rating"] = Gen.Int[1, 5].Select(Text),
        };
        var (names, ids) = Describe();
        var shape = new EndpointShape("GET " + template, names, []);
        var query = FuzzGen.Query([.. names.Select(n => (n, parameters[n]))]);
        var requests =
            from id in ids ?? Gen.Const(new PathId("", false))
            from q in query
            select new FuzzRequest(HttpMethod.Get, template.Replace("{id}", id.Text, StringComparison.Ordinal) + q, PathIdIsNotAnId: id.NotAnId);
        await CheckAsync(requests, request => SendAsync(request, shape), DefaultIterations);

        (string[] Names, Gen<PathId>? Ids) Describe() => template switch
        {
            "/api/products" => (["category", "min_price", "max_price", "ordering", .. Paging], null),
            "/api/products/{id}" => (["optimize"], FuzzGen.PathIds(productIds)),
            "/api/products/{id}/reviews" => (Paging, FuzzGen.PathIds(productIds)),
            "/api/search/products" => (["q", "category", "in_stock", .. Paging], null),
            "/api/orders/{id}" => (["optimize"], FuzzGen.PathIds(orders)),
            "/api/reviews" => (["product_id", "user_id", "rating", .. Paging], null),
            "/api/stats/top-products" => (["limit"], null),
            "/api/uploads/{id}" => ([], UploadIds),
            _ => ([], null),
        };
    }

    /// <summary>Upload ids: canonical UUIDs no upload has, other spellings of one, and text that is no UUID (or a path).</summary>
    private static readonly Gen<PathId> UploadIds = Gen.Frequency<PathId>(
        (2, Gen.Guid.Select(g => new PathId(g.ToString(), false))),
        (1, Gen.Guid.Select(g => new PathId(g.ToString("B").ToUpperInvariant(), false))),
        (1, Gen.OneOf("0", "-1", "x", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "00000000-0000-0000-0000-000000000000",
            "d3b07384-d9a0-4c9b-8f0a-%F0%9F%98%80").Select(text => new PathId(text, false))));

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

public sealed class ReadFuzzSqliteTests(SqliteApp app) : ReadFuzzTests(app), IClassFixture<SqliteApp>;

public sealed class ReadFuzzPostgresTests(PostgresApp app) : ReadFuzzTests(app), IClassFixture<PostgresApp>;
