using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Orders;

/// <summary>GET /api/orders/{id} (contract #7): the same bytes on both optimize paths, one query per item only when naive.</summary>
public abstract class OrderDetailTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task OrderDetailIsNPlusOneNaivelyAndOneQueryOptimizedWithTheSameBytes()
    {
        var products = await App.AddProductsAsync(4);
        var created = await (await Client.PostJsonAsync("/api/orders",
                Arrange.OrderJson(Arrange.NewUserId(), [.. products.Select(p => (p.Id, 1))])))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();

        var naive = await Client.GetAsync($"/api/orders/{id}", Ct);
        var naiveExplicit = await Client.GetAsync($"/api/orders/{id}?optimize=0", Ct);
        var optimized = await Client.GetAsync($"/api/orders/{id}?optimize=TRUE", Ct);
        var naiveBody = await naive.ExpectAsync(HttpStatusCode.OK);
        var optimizedBody = await optimized.ExpectAsync(HttpStatusCode.OK);
        await naiveExplicit.ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(naiveBody.GetRawText(), optimizedBody.GetRawText());
        Assert.Equal(2 + products.Count, naive.QueryCount());
        Assert.Equal(2 + products.Count, naiveExplicit.QueryCount());
        Assert.InRange(optimized.QueryCount(), 1, 3);
    }

    [Fact]
    public async Task OrderDetailKeepsShowingDeletedProductsInItemIdOrder()
    {
        var products = await App.AddProductsAsync(3);
        var created = await (await Client.PostJsonAsync("/api/orders",
                Arrange.OrderJson(Arrange.NewUserId(), (products[2].Id, 1), (products[0].Id, 1), (products[1].Id, 1))))
            .ExpectAsync(HttpStatusCode.Created);
        await App.SoftDeleteAsync(products[0].Id);

        foreach (var optimize in new[] { "false", "true" })
        {
            var body = await (await Client.GetAsync($"/api/orders/{created.GetProperty("id").GetInt64()}?optimize={optimize}", Ct))
                .ExpectAsync(HttpStatusCode.OK);
            var items = body.GetProperty("items").EnumerateArray().ToArray();
            Assert.Equal([products[2].Id, products[0].Id, products[1].Id], items.Select(i => i.GetProperty("product_id").GetInt64()));
            Assert.Equal(products[0].Name, items[1].GetProperty("product_name").GetString());
            var itemIds = items.Select(i => i.GetProperty("id").GetInt64()).ToArray();
            Assert.Equal(itemIds.Order(), itemIds);
        }
    }

    [Theory]
    [InlineData("/api/orders/999999999999")]
    [InlineData("/api/orders/999999999999?optimize=true")]
    [InlineData("/api/orders/0")]
    [InlineData("/api/orders/-1")]
    [InlineData("/api/orders/abc")]
    [InlineData("/api/orders/99999999999999999999999")]
    public async Task UnknownOrBadOrderIdIs404(string url)
    {
        var response = await Client.GetAsync(url, Ct);
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("")]
    [InlineData("2")]
    public async Task BadOptimizeFlagIs400(string value)
    {
        var response = await Client.GetAsync($"/api/orders/1?optimize={value}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "optimize");
        Assert.Equal(0, response.QueryCount());
    }
}

public sealed class OrderDetailSqliteTests(SqliteApp app) : OrderDetailTests(app), IClassFixture<SqliteApp>;

public sealed class OrderDetailPostgresTests(PostgresApp app) : OrderDetailTests(app), IClassFixture<PostgresApp>;
