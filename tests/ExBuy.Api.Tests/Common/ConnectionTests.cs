using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Common;

/// <summary>
/// Handlers that run several statements keep one connection open for the request; the pooled context must hand it
/// back when the request ends. The PostgreSQL test app's pool holds 40 connections, so a connection kept per request
/// would exhaust it long before 3 × 60 requests (and then time out instead of answering).
/// </summary>
public abstract class ConnectionTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task EveryRequestHandsItsConnectionBack()
    {
        var product = await App.AddProductAsync(stock: 1000);
        await App.AddReviewsAsync(product.Id, [4, 5]);
        for (var i = 0; i < 60; i++)
        {
            var optimize = i % 2 == 0 ? "true" : "false";
            await (await Client.GetAsync($"/api/products?page_size=5&optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            await (await Client.GetAsync($"/api/products/{product.Id}/reviews?optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            var reserve = await Client.PostJsonAsync($"/api/inventory/reserve?lock_type={(i % 3 == 0 ? "versioned" : "pessimistic")}",
                $$"""{"product_id":{{product.Id}},"quantity":1}""");
            await reserve.ExpectAsync(HttpStatusCode.OK);
        }
        Assert.Equal(1000 - 60, await App.StockAsync(product.Id));
    }
}

public sealed class ConnectionSqliteTests(SqliteApp app) : ConnectionTests(app), IClassFixture<SqliteApp>;

public sealed class ConnectionPostgresTests(PostgresApp app) : ConnectionTests(app), IClassFixture<PostgresApp>;
