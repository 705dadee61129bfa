using System.Net;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Orders;

/// <summary>POST /api/orders/bulk (contract #9): the whole batch in one transaction, errors keyed by their path in the batch.</summary>
public abstract class OrderBulkTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task BulkCreatesEveryOrderInRequestOrder()
    {
        var products = await App.AddProductsAsync(3, stock: 50, price: 2.50m); // 2.50, 3.50, 4.50
        var users = new[] { Arrange.NewUserId(), Arrange.NewUserId(), Arrange.NewUserId() };
        var body = $$"""
            {"orders":[
              {{Arrange.OrderJson(users[0], (products[0].Id, 1), (products[1].Id, 2))}},
              {{Arrange.OrderJson(users[1], (products[2].Id, 3))}},
              {{Arrange.OrderJson(users[2], (products[1].Id, 4), (products[0].Id, 5), (products[2].Id, 6))}}
            ]}
            """;

        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        var created = await response.ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(3, created.GetProperty("created").GetInt32());
        var orders = created.GetProperty("orders").EnumerateArray().ToArray();
        Assert.Equal(users, orders.Select(o => o.GetProperty("user_id").GetInt64()));
        Assert.Equal(["9.50", "13.50", "53.50"], orders.Select(o => o.GetProperty("total_price").GetRawText()));
        Assert.Equal(orders.Select(o => o.GetProperty("id").GetInt64()).Order(), orders.Select(o => o.GetProperty("id").GetInt64()));
        foreach (var order in orders)
        {
            var reread = await (await Client.GetAsync($"/api/orders/{order.GetProperty("id").GetInt64()}?optimize=true", Ct))
                .ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(order.GetRawText(), reread.GetRawText());
        }
        // Stock aggregated per product across the batch.
        Assert.Equal(50 - 6, await App.StockAsync(products[0].Id));
        Assert.Equal(50 - 6, await App.StockAsync(products[1].Id));
        Assert.Equal(50 - 9, await App.StockAsync(products[2].Id));
        Assert.Equal(IsPostgres ? 1 : 4, response.QueryCount()); // one statement on PostgreSQL, four on SQLite
    }

    [Fact]
    public async Task BulkWithOneUnknownProductNamesItsPathAndWritesNothing()
    {
        var product = await App.AddProductAsync(stock: 50);
        var deleted = await App.AddProductAsync(stock: 50, deleted: true);
        var users = new[] { Arrange.NewUserId(), Arrange.NewUserId(), Arrange.NewUserId() };
        var body = $$"""
            {"orders":[
              {{Arrange.OrderJson(users[0], (product.Id, 1))}},
              {{Arrange.OrderJson(users[1], (product.Id, 1), (Arrange.UnknownProductId, 1))}},
              {{Arrange.OrderJson(users[2], (deleted.Id, 2), (product.Id, 1))}}
            ]}
            """;
        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest,
            "orders[1].items[1].product_id", "orders[2].items[0].product_id");
        Assert.Equal(2, problem.GetProperty("errors").EnumerateObject().Count());
        Assert.Equal(50, await App.StockAsync(product.Id));
        foreach (var user in users)
        {
            Assert.Equal(0, await App.OrderCountAsync(user));
        }
    }

    [Fact]
    public async Task BulkWhoseOrdersTogetherExceedTheStockIs409NamingProductAndOrderAndWritesNothing()
    {
        var plenty = await App.AddProductAsync(stock: 100);
        var scarce = await App.AddProductAsync(stock: 10);
        var users = new[] { Arrange.NewUserId(), Arrange.NewUserId(), Arrange.NewUserId() };
        // Each order alone fits; orders[0] + orders[1] + orders[2] need 12 of 10, running out at orders[2].
        var body = $$"""
            {"orders":[
              {{Arrange.OrderJson(users[0], (scarce.Id, 4), (plenty.Id, 1))}},
              {{Arrange.OrderJson(users[1], (plenty.Id, 1), (scarce.Id, 4))}},
              {{Arrange.OrderJson(users[2], (scarce.Id, 4))}}
            ]}
            """;
        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Conflict);
        var detail = problem.GetProperty("detail").GetString();
        Assert.Contains($"product {scarce.Id}", detail);
        Assert.Contains("orders[2]", detail);
        Assert.Equal(100, await App.StockAsync(plenty.Id));
        Assert.Equal(10, await App.StockAsync(scarce.Id));
        foreach (var user in users)
        {
            Assert.Equal(0, await App.OrderCountAsync(user));
        }
    }

    [Fact]
    public async Task BulkOfTheLargestSizeIsAConstantNumberOfStatements()
    {
        // 100 orders × 50 items = 5,000 lines (the contract's maximum), all over the same 50 products.
        var products = await App.AddProductsAsync(50, stock: 100_000, price: 1.01m);
        var user = Arrange.NewUserId();
        var orders = Enumerable.Range(0, 100)
            .Select(i => Arrange.OrderJson(user, [.. products.Select((p, j) => (p.Id, 1 + (i + j) % 7))]));
        var body = $$"""{"orders":[{{string.Join(",", orders)}}]}""";

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        var created = await response.ExpectAsync(HttpStatusCode.Created);
        watch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"{App.Engine}: bulk 100 × 50 took {watch.ElapsedMilliseconds} ms");

        Assert.Equal(100, created.GetProperty("created").GetInt32());
        Assert.All(created.GetProperty("orders").EnumerateArray(), o => Assert.Equal(50, o.GetProperty("items").GetArrayLength()));
        Assert.Equal(IsPostgres ? 1 : 4, response.QueryCount()); // one statement on PostgreSQL, four on SQLite
        Assert.Equal(100, await App.OrderCountAsync(user));
        var expected = 100_000 - Enumerable.Range(0, 100).Sum(i => 1 + i % 7);
        Assert.Equal(expected, await App.StockAsync(products[0].Id));
        var itemCount = await App.WithDbAsync(db => db.OrderItems.CountAsync(i => i.Order!.UserId == user));
        Assert.Equal(5000, itemCount);
    }

    public static TheoryData<string, string> BadBulkBodies()
    {
        const string ok = """{"user_id":1,"items":[{"product_id":1,"quantity":1}]}""";
        var hundredAndOne = string.Join(",", Enumerable.Repeat(ok, 101));
        var fiftyOne = string.Join(",", Enumerable.Range(1, 51).Select(i => $$"""{"product_id":{{i}},"quantity":1}"""));
        return new TheoryData<string, string>
        {
            { "{}", "orders" },
            { """{"orders":null}""", "orders" },
            { """{"orders":[]}""", "orders" },
            { """{"orders":{}}""", "orders" },
            { $$"""{"orders":[{{hundredAndOne}}]}""", "orders" },
            { """{"orders":[null]}""", "orders[0]" },
            { $$"""{"orders":[{{ok}},null]}""", "orders[1]" },
            { $$"""{"orders":[{{ok}},{"items":[{"product_id":1,"quantity":1}]}]}""", "orders[1].user_id" },
            { $$"""{"orders":[{{ok}},{"user_id":0,"items":[{"product_id":1,"quantity":1}]}]}""", "orders[1].user_id" },
            { """{"orders":[{"user_id":"1","items":[]}]}""", "orders[0].user_id" },
            { """{"orders":[{"user_id":1,"items":[]}]}""", "orders[0].items" },
            { $$"""{"orders":[{"user_id":1,"items":[{{fiftyOne}}]}]}""", "orders[0].items" },
            { $$"""{"orders":[{{ok}},{{ok}},{"user_id":1,"items":[null]}]}""", "orders[2].items[0]" },
            { """{"orders":[{"user_id":1,"items":[{"product_id":1,"quantity":0}]}]}""", "orders[0].items[0].quantity" },
            { """{"orders":[{"user_id":1,"items":[{"product_id":1,"quantity":"x"}]}]}""", "orders[0].items[0].quantity" },
            { $$"""{"orders":[{{ok}},{"user_id":1,"items":[{"product_id":1,"quantity":1},{"product_id":2,"quantity":1001}]}]}""", "orders[1].items[1].quantity" },
            { $$"""{"orders":[{{ok}},{"user_id":1,"items":[{"product_id":4,"quantity":1},{"product_id":4,"quantity":1}]}]}""", "orders[1].items[1].product_id" },
            { """{"orders":[{"user_id":1,"items":[{"product_id":0,"quantity":1}]}]}""", "orders[0].items[0].product_id" },
            { """{"orders":[{"user_id":1,"items":[{"product_id":1.5,"quantity":1}]}]}""", "orders[0].items[0].product_id" },
            { "[]", "body" },
            { "null", "body" },
            { "", "body" },
        };
    }

    [Theory]
    [MemberData(nameof(BadBulkBodies))]
    public async Task PostingABadBulkBodyIs400NamingTheFieldBeforeTouchingTheDatabase(string body, string field)
    {
        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task ConcurrentBulkOrdersAndCancelsNeverDeadlockAndConserveStock()
    {
        var products = await App.AddProductsAsync(4, stock: 60);
        var user = Arrange.NewUserId();
        var existing = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var body = await (await Client.PostJsonAsync("/api/orders",
                Arrange.OrderJson(user, (products[3 - i].Id, 2), (products[i].Id, 2)))).ExpectAsync(HttpStatusCode.Created);
            existing.Add(body.GetProperty("id").GetInt64());
        }

        var responses = await Concurrent.RunAsync(12, async i =>
        {
            if (i < 4)
            {
                using var cancel = await Client.PatchJsonAsync($"/api/orders/{existing[i]}", """{"status":"cancelled"}""");
                return cancel.StatusCode;
            }
            // Bulk batches walk the products in different orders.
            var order = i % 2 == 0 ? products : Enumerable.Reverse(products).ToList();
            var bulk = $$"""{"orders":[{{Arrange.OrderJson(user, [.. order.Select(p => (p.Id, 3))])}},{{Arrange.OrderJson(user, (order[1].Id, 1), (order[0].Id, 1))}}]}""";
            using var response = await Client.PostJsonAsync("/api/orders/bulk", bulk);
            return response.StatusCode;
        });

        Concurrent.AssertOnly(responses, HttpStatusCode.OK, HttpStatusCode.Created, HttpStatusCode.Conflict);
        Assert.All(responses.Take(4), s => Assert.Equal(HttpStatusCode.OK, s));
        // Conservation: stock + what live (non-cancelled) orders hold = the initial 60, per product.
        foreach (var product in products)
        {
            var held = await App.WithDbAsync(db => db.OrderItems
                .Where(x => x.ProductId == product.Id && x.Order!.Status != OrderStatus.Cancelled)
                .SumAsync(x => x.Quantity));
            Assert.Equal(60, held + await App.StockAsync(product.Id));
        }
    }
}

public sealed class OrderBulkSqliteTests(SqliteApp app) : OrderBulkTests(app), IClassFixture<SqliteApp>;

public sealed class OrderBulkPostgresTests(PostgresApp app) : OrderBulkTests(app), IClassFixture<PostgresApp>;
