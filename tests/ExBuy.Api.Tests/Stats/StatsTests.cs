using System.Net;
using System.Text.Json;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Stats;

/// <summary>
/// The stats are global to the class's database, which only these tests write (tests of one class run one after
/// another): each test asserts on its own products (with limit=100) and on properties of the whole list.
/// </summary>
public abstract class StatsTests(ExBuyApp app) : EngineTests(app)
{
    private async Task<JsonElement[]> TopAsync(string query = "?limit=100")
    {
        var response = await Client.GetAsync("/api/stats/top-products" + query, Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, response.QueryCount());
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        // Whatever else is there, the list is ordered by units_sold DESC, product_id ASC.
        var keys = results.Select(r => (Units: r.GetProperty("units_sold").GetInt64(), Id: r.GetProperty("product_id").GetInt64())).ToArray();
        Assert.Equal(keys.OrderByDescending(k => k.Units).ThenBy(k => k.Id), keys);
        return results;
    }

    private static JsonElement Entry(JsonElement[] results, long productId) =>
        results.Single(r => r.GetProperty("product_id").GetInt64() == productId);

    [Fact]
    public async Task TopProductsSumsNonCancelledOrdersAtTheirUnitPrices()
    {
        var a = await App.AddProductAsync(stock: 1000, price: 2.50m);
        var b = await App.AddProductAsync(stock: 1000, price: 10m);
        var user = Arrange.NewUserId();
        await App.AddOrderAsync(user, OrderStatus.Pending, (a, 3), (b, 1));
        await App.AddOrderAsync(user, OrderStatus.Paid, (a, 2));
        await App.AddOrderAsync(user, OrderStatus.Cancelled, (a, 500), (b, 500));
        await App.AddOrderAsync(user, OrderStatus.Shipped, (b, 1));
        // An order through the API; then the price changes: revenue uses what was paid.
        await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (b.Id, 2)))).ExpectAsync(HttpStatusCode.Created);
        await App.SetPriceAsync(b.Id, 99m);
        await App.AddOrderAsync(user, OrderStatus.Delivered, (await App.ReadProductAsync(b.Id), 1));

        var results = await TopAsync();
        Assert.Equal($$"""{"product_id":{{a.Id}},"name":"{{a.Name}}","units_sold":5,"revenue":12.50,"order_count":2}""",
            Entry(results, a.Id).GetRawText());
        Assert.Equal($$"""{"product_id":{{b.Id}},"name":"{{b.Name}}","units_sold":5,"revenue":139.00,"order_count":4}""",
            Entry(results, b.Id).GetRawText());
        // Equal units: the lower product id first.
        Assert.True(Array.FindIndex(results, r => r.GetProperty("product_id").GetInt64() == a.Id)
            < Array.FindIndex(results, r => r.GetProperty("product_id").GetInt64() == b.Id));
    }

    [Fact]
    public async Task DeletedProductsAndProductsWithOnlyCancelledOrdersAreLeftOut()
    {
        var deleted = await App.AddProductAsync(stock: 1000);
        var cancelledOnly = await App.AddProductAsync(stock: 1000);
        var kept = await App.AddProductAsync(stock: 1000);
        var user = Arrange.NewUserId();
        await App.AddOrderAsync(user, OrderStatus.Paid, (deleted, 7), (kept, 1));
        await App.AddOrderAsync(user, OrderStatus.Cancelled, (cancelledOnly, 9));
        await App.SoftDeleteAsync(deleted.Id);

        var results = await TopAsync();
        var ids = results.Select(r => r.GetProperty("product_id").GetInt64()).ToArray();
        Assert.Contains(kept.Id, ids);
        Assert.DoesNotContain(deleted.Id, ids);
        Assert.DoesNotContain(cancelledOnly.Id, ids);
    }

    [Fact]
    public async Task LimitCutsTheListAndDefaultsToTen()
    {
        var products = await App.AddProductsAsync(12, stock: 1000);
        var user = Arrange.NewUserId();
        foreach (var product in products)
        {
            await App.AddOrderAsync(user, OrderStatus.Pending, (product, 1));
        }

        var response = await Client.GetAsync("/api/stats/top-products", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(10, body.GetProperty("limit").GetInt32());
        Assert.Equal(10, body.GetProperty("results").GetArrayLength());

        var one = await (await Client.GetAsync("/api/stats/top-products?limit=1", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, one.GetProperty("limit").GetInt32());
        Assert.Equal(1, one.GetProperty("results").GetArrayLength());

        var all = await TopAsync("?limit=100");
        Assert.InRange(all.Length, 12, 100);
        Assert.Equal(all[0].GetRawText(), one.GetProperty("results")[0].GetRawText());
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=101")]
    [InlineData("?limit=-1")]
    [InlineData("?limit=abc")]
    [InlineData("?limit=1.5")]
    [InlineData("?limit=")]
    [InlineData("?limit=99999999999999999999")]
    [InlineData("?limit=5&limit=6")]
    public async Task BadLimitIs400(string query)
    {
        var response = await Client.GetAsync("/api/stats/top-products" + query, Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "limit");
        Assert.Equal(0, response.QueryCount());
    }
}

public sealed class StatsSqliteTests(SqliteApp app) : StatsTests(app), IClassFixture<SqliteApp>;

public sealed class StatsPostgresTests(PostgresApp app) : StatsTests(app), IClassFixture<PostgresApp>;
