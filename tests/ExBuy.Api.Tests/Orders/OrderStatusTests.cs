using System.Net;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Orders;

/// <summary>PATCH /api/orders/{id} (contract #8): the status lifecycle, restocking on cancel, and concurrent changes of one order.</summary>
public abstract class OrderStatusTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task StatusMovesForwardThroughTheWholeLifecycle()
    {
        var product = await App.AddProductAsync(stock: 10);
        var created = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 3))))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();

        foreach (var status in new[] { OrderStatus.Paid, OrderStatus.Shipped, OrderStatus.Delivered })
        {
            var response = await Client.PatchJsonAsync($"/api/orders/{id}", $$"""{"status":"{{status}}"}""");
            var body = await response.ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(status, body.GetProperty("status").GetString());
            Assert.Equal(created.GetProperty("items").GetRawText(), body.GetProperty("items").GetRawText());
            Assert.Equal(created.GetProperty("created_at").GetString(), body.GetProperty("created_at").GetString());
            // What PATCH answers is what a later GET reads.
            var reread = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(body.GetRawText(), reread.GetRawText());
        }
        Assert.Equal(7, await App.StockAsync(product.Id));
    }

    [Fact]
    public async Task SameStatusAgainIsA200NoOp()
    {
        var product = await App.AddProductAsync(stock: 10);
        var id = await App.AddOrderAsync(Arrange.NewUserId(), OrderStatus.Paid, (product, 2));
        var before = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);

        var response = await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"paid"}""");
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(before.GetRawText(), body.GetRawText());
        Assert.Equal(1, response.QueryCount()); // one read, no write transaction
        Assert.Equal(10, await App.StockAsync(product.Id));
    }

    [Fact]
    public async Task CancellingCancelledAgainDoesNotRestockTwice()
    {
        var product = await App.AddProductAsync(stock: 10);
        var created = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 4))))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();
        await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""")).ExpectAsync(HttpStatusCode.OK);
        await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(10, await App.StockAsync(product.Id));
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("paid")]
    public async Task CancellingRestocksEveryItemInTheSameTransaction(string from)
    {
        var a = await App.AddProductAsync(stock: 10);
        var b = await App.AddProductAsync(stock: 20);
        var created = await (await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(Arrange.NewUserId(), (b.Id, 5), (a.Id, 4)))).ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();
        if (from == OrderStatus.Paid)
        {
            await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"paid"}""")).ExpectAsync(HttpStatusCode.OK);
        }
        var versionBefore = (await App.ReadProductAsync(a.Id)).Version;

        var body = await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}"""))
            .ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("cancelled", body.GetProperty("status").GetString());
        Assert.Equal(10, await App.StockAsync(a.Id));
        Assert.Equal(20, await App.StockAsync(b.Id));
        Assert.Equal(versionBefore + 1, (await App.ReadProductAsync(a.Id)).Version);
    }

    [Theory]
    [InlineData("pending", "shipped")]
    [InlineData("pending", "delivered")]
    [InlineData("paid", "pending")]
    [InlineData("paid", "delivered")]
    [InlineData("shipped", "pending")]
    [InlineData("shipped", "paid")]
    [InlineData("shipped", "cancelled")]
    [InlineData("delivered", "shipped")]
    [InlineData("delivered", "cancelled")]
    [InlineData("cancelled", "pending")]
    [InlineData("cancelled", "paid")]
    [InlineData("cancelled", "shipped")]
    public async Task AnyOtherTransitionIs409AndChangesNothing(string from, string to)
    {
        var product = await App.AddProductAsync(stock: 10);
        var id = await App.AddOrderAsync(Arrange.NewUserId(), from, (product, 2));
        var before = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);

        var response = await Client.PatchJsonAsync($"/api/orders/{id}", $$"""{"status":"{{to}}"}""");
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains(from, problem.GetProperty("detail").GetString());
        Assert.Equal(1, response.QueryCount()); // decided on one read, no write transaction

        var after = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(before.GetRawText(), after.GetRawText());
        Assert.Equal(10, await App.StockAsync(product.Id));
    }

    [Theory]
    [InlineData("{}", "status")]
    [InlineData("""{"status":null}""", "status")]
    [InlineData("""{"status":"refunded"}""", "status")]
    [InlineData("""{"status":"PAID"}""", "status")]
    [InlineData("""{"status":""}""", "status")]
    [InlineData("""{"status":5}""", "status")]
    [InlineData("""{"status":["paid"]}""", "status")]
    [InlineData("null", "body")]
    [InlineData("", "body")]
    [InlineData("[]", "body")]
    public async Task BadStatusBodyIs400NamingTheField(string body, string field)
    {
        var product = await App.AddProductAsync();
        var id = await App.AddOrderAsync(Arrange.NewUserId(), OrderStatus.Pending, (product, 1));
        var response = await Client.PatchJsonAsync($"/api/orders/{id}", body);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task PatchingAnUnknownOrderIs404()
    {
        var response = await Client.PatchJsonAsync("/api/orders/999999999999", """{"status":"paid"}""");
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ConcurrentCancelAndShipOfOneOrderHaveExactlyOneWinner()
    {
        for (var round = 0; round < 5; round++)
        {
            var product = await App.AddProductAsync(stock: 10);
            var id = await App.AddOrderAsync(Arrange.NewUserId(), OrderStatus.Paid, (product, 4));
            await App.SetStockAsync(product.Id, 6);

            var targets = round % 2 == 0 ? new[] { "cancelled", "shipped" } : ["shipped", "cancelled"];
            var responses = await Concurrent.RunAsync(2, async i =>
            {
                using var response = await Client.PatchJsonAsync($"/api/orders/{id}", $$"""{"status":"{{targets[i]}}"}""");
                return response.StatusCode;
            });

            Concurrent.AssertOnly(responses, HttpStatusCode.OK, HttpStatusCode.Conflict);
            Assert.Equal(1, responses.Count(s => s == HttpStatusCode.OK));
            var winner = targets[Array.IndexOf(responses, HttpStatusCode.OK)];
            var status = await App.WithDbAsync(db => db.Orders.Where(o => o.Id == id).Select(o => o.Status).SingleAsync());
            Assert.Equal(winner, status);
            Assert.Equal(winner == "cancelled" ? 10 : 6, await App.StockAsync(product.Id));
        }
    }

    [Fact]
    public async Task ConcurrentCancelsOfOneOrderRestockOnce()
    {
        var a = await App.AddProductAsync(stock: 10);
        var b = await App.AddProductAsync(stock: 10);
        var created = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (a.Id, 4), (b.Id, 1))))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();

        var responses = await Concurrent.RunAsync(6, async _ =>
        {
            using var response = await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""");
            return response.StatusCode;
        });

        Concurrent.AssertOnly(responses, HttpStatusCode.OK);
        Assert.Equal(10, await App.StockAsync(a.Id));
        Assert.Equal(10, await App.StockAsync(b.Id));
    }
}

public sealed class OrderStatusSqliteTests(SqliteApp app) : OrderStatusTests(app), IClassFixture<SqliteApp>;

public sealed class OrderStatusPostgresTests(PostgresApp app) : OrderStatusTests(app), IClassFixture<PostgresApp>;
