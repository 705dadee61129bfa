using System.Net;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Orders;

public abstract class OrdersTests(ExBuyApp app) : EngineTests(app)
{
    private const long UnknownProductId = 8_000_000_000_000;

    // ---- #6 POST /api/orders -----------------------------------------------------------------------------------

    [Fact]
    public async Task PostingAnOrderCreatesItWithPricesCapturedAndStockTaken()
    {
        var a = await Arrange.ProductAsync(App, stock: 10, price: 12.75m);
        var b = await Arrange.ProductAsync(App, stock: 5, price: 0.10m);
        var user = Arrange.NewUserId();

        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (b.Id, 3), (a.Id, 2)));
        var body = await response.ExpectAsync(HttpStatusCode.Created);

        var id = body.GetProperty("id").GetInt64();
        Assert.Equal($"/api/orders/{id}", response.Headers.Location?.OriginalString);
        var items = body.GetProperty("items").EnumerateArray().ToArray();
        var createdAt = body.GetProperty("created_at").GetString();
        // The exact wire shape: field order, snake_case, money with 2 decimals, items in item-id (= request) order.
        Assert.Equal(
            $$"""{"id":{{id}},"user_id":{{user}},"status":"pending","total_price":25.80,"created_at":"{{createdAt}}","updated_at":"{{createdAt}}","items":[""" +
            $$"""{"id":{{items[0].GetProperty("id").GetInt64()}},"product_id":{{b.Id}},"product_name":"{{b.Name}}","quantity":3,"unit_price":0.10,"subtotal":0.30},""" +
            $$"""{"id":{{items[1].GetProperty("id").GetInt64()}},"product_id":{{a.Id}},"product_name":"{{a.Name}}","quantity":2,"unit_price":12.75,"subtotal":25.50}]}""",
            body.GetRawText());
        Assert.True(items[0].GetProperty("id").GetInt64() < items[1].GetProperty("id").GetInt64());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", createdAt);

        var storedA = await Arrange.ReadProductAsync(App, a.Id);
        var storedB = await Arrange.ReadProductAsync(App, b.Id);
        Assert.Equal((8, a.Version + 1), (storedA.Stock, storedA.Version));
        Assert.Equal((2, b.Version + 1), (storedB.Stock, storedB.Version));
        Assert.True(storedA.UpdatedAt >= a.UpdatedAt);
    }

    [Fact]
    public async Task CreatedOrderReadsBackByteForByte()
    {
        var products = await Arrange.ProductsAsync(App, 3, stock: 2000, price: 3.33m);
        var response = await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(Arrange.NewUserId(), (products[2].Id, 1), (products[0].Id, 7), (products[1].Id, 1000)));
        var created = await response.ExpectAsync(HttpStatusCode.Created);

        foreach (var optimize in new[] { "false", "true" })
        {
            var read = await Client.GetAsync($"{response.Headers.Location}?optimize={optimize}", Ct);
            Assert.Equal(created.GetRawText(), (await read.ExpectAsync(HttpStatusCode.OK)).GetRawText());
        }
    }

    [Fact]
    public async Task PostingAnOrderRunsAConstantNumberOfStatements()
    {
        var few = await Arrange.ProductsAsync(App, 1);
        var many = await Arrange.ProductsAsync(App, 12);
        var one = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (few[0].Id, 1)));
        var twelve = await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(Arrange.NewUserId(), [.. many.Select(p => (p.Id, 2))]));
        await one.ExpectAsync(HttpStatusCode.Created);
        await twelve.ExpectAsync(HttpStatusCode.Created);
        // lock products, decrement stock, insert orders, insert items.
        Assert.Equal(4, one.QueryCount());
        Assert.Equal(4, twelve.QueryCount());
    }

    [Fact]
    public async Task UnitPriceIsThePriceAtOrderTime()
    {
        var product = await Arrange.ProductAsync(App, price: 10m);
        var first = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 2))))
            .ExpectAsync(HttpStatusCode.Created);
        await App.WithDbAsync(db => db.Products.Where(p => p.Id == product.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Price, 19.99m)));

        var second = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 2))))
            .ExpectAsync(HttpStatusCode.Created);
        var reread = await (await Client.GetAsync($"/api/orders/{first.GetProperty("id").GetInt64()}", Ct)).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("10.00", reread.GetProperty("items")[0].GetProperty("unit_price").GetRawText());
        Assert.Equal("20.00", reread.GetProperty("total_price").GetRawText());
        Assert.Equal("19.99", second.GetProperty("items")[0].GetProperty("unit_price").GetRawText());
        Assert.Equal("39.98", second.GetProperty("total_price").GetRawText());
    }

    [Fact]
    public async Task PostingOrderWithUnknownProductNamesTheFieldAndWritesNothing()
    {
        var product = await Arrange.ProductAsync(App, stock: 10);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(user, (product.Id, 1), (UnknownProductId, 1)));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items[1].product_id");
        Assert.Equal(10, await Arrange.StockAsync(App, product.Id));
        Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
    }

    [Fact]
    public async Task PostingOrderWithDeletedProductNamesTheFieldAndWritesNothing()
    {
        var live = await Arrange.ProductAsync(App, stock: 10);
        var deleted = await Arrange.ProductAsync(App, stock: 10, deleted: true);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (deleted.Id, 1), (live.Id, 1)));
        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items[0].product_id");
        Assert.False(problem.GetProperty("errors").TryGetProperty("items[1].product_id", out _));
        Assert.Equal(10, await Arrange.StockAsync(App, live.Id));
        Assert.Equal(10, await Arrange.StockAsync(App, deleted.Id));
        Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
    }

    [Fact]
    public async Task PostingOrderWithInsufficientStockIs409NamingTheProductAndWritesNothing()
    {
        var plenty = await Arrange.ProductAsync(App, stock: 10);
        var scarce = await Arrange.ProductAsync(App, stock: 2);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (plenty.Id, 5), (scarce.Id, 3)));
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains($"product {scarce.Id}", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain($"product {plenty.Id}", problem.GetProperty("detail").GetString());
        Assert.Equal(10, await Arrange.StockAsync(App, plenty.Id));
        Assert.Equal(2, await Arrange.StockAsync(App, scarce.Id));
        Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
    }

    [Fact]
    public async Task OrderingExactlyTheStockLeavesZero()
    {
        var product = await Arrange.ProductAsync(App, stock: 7);
        await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 7))))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(0, await Arrange.StockAsync(App, product.Id));
        await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 1))))
            .ExpectProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task AnOrderTotalBeyondNumeric12_2IsA400NotA500()
    {
        var luxury = await Arrange.ProductAsync(App, stock: 10, price: 9_999_999_999.99m);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (luxury.Id, 2)));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items");
        Assert.Equal(10, await Arrange.StockAsync(App, luxury.Id));
        Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
    }

    public static TheoryData<string, string> BadOrderBodies()
    {
        const string item = """{"product_id":1,"quantity":1}""";
        var fiftyOne = string.Join(",", Enumerable.Range(1, 51).Select(i => $$"""{"product_id":{{i}},"quantity":1}"""));
        return new TheoryData<string, string>
        {
            { "{}", "user_id" },
            { "{}", "items" },
            { $$"""{"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":null,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":0,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":-3,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":"7","items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":1.5,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":true,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":1e30,"items":[{{item}}]}""", "user_id" },
            { $$"""{"user_id":99999999999999999999999,"items":[{{item}}]}""", "user_id" },
            { """{"user_id":1}""", "items" },
            { """{"user_id":1,"items":null}""", "items" },
            { """{"user_id":1,"items":[]}""", "items" },
            { """{"user_id":1,"items":{}}""", "items" },
            { """{"user_id":1,"items":"1"}""", "items" },
            { $$"""{"user_id":1,"items":[{{fiftyOne}}]}""", "items" },
            { """{"user_id":1,"items":[null]}""", "items[0]" },
            { """{"user_id":1,"items":[7]}""", "items[0]" },
            { """{"user_id":1,"items":[{"quantity":1}]}""", "items[0].product_id" },
            { """{"user_id":1,"items":[{"product_id":0,"quantity":1}]}""", "items[0].product_id" },
            { """{"user_id":1,"items":[{"product_id":-1,"quantity":1}]}""", "items[0].product_id" },
            { """{"user_id":1,"items":[{"product_id":"1","quantity":1}]}""", "items[0].product_id" },
            { """{"user_id":1,"items":[{"product_id":1}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":0}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":-2}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":1001}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":2.5}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":"2"}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":2147483648}]}""", "items[0].quantity" },
            { """{"user_id":1,"items":[{"product_id":1,"quantity":1},{"product_id":2,"quantity":0}]}""", "items[1].quantity" },
            { """{"user_id":1,"items":[{"product_id":3,"quantity":1},{"product_id":3,"quantity":2}]}""", "items[1].product_id" },
            { "[]", "body" },
            { "null", "body" },
            { "\"order\"", "body" },
            { "", "body" },
        };
    }

    [Theory]
    [MemberData(nameof(BadOrderBodies))]
    public async Task PostingABadOrderBodyIs400NamingTheFieldBeforeTouchingTheDatabase(string body, string field)
    {
        var response = await Client.PostJsonAsync("/api/orders", body);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task PostingMalformedJsonIs400()
    {
        var response = await Client.PostJsonAsync("/api/orders", """{"user_id":1,"items":[{"product_id":1,""");
        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").EnumerateObject().Any());
        Assert.Equal(0, response.QueryCount());
    }

    // ---- #7 GET /api/orders/{id} --------------------------------------------------------------------------------

    [Fact]
    public async Task OrderDetailIsNPlusOneNaivelyAndOneQueryOptimizedWithTheSameBytes()
    {
        var products = await Arrange.ProductsAsync(App, 4);
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
        Assert.Equal(2 + products.Length, naive.QueryCount());
        Assert.Equal(2 + products.Length, naiveExplicit.QueryCount());
        Assert.InRange(optimized.QueryCount(), 1, 3);
    }

    [Fact]
    public async Task OrderDetailKeepsShowingDeletedProductsInItemIdOrder()
    {
        var products = await Arrange.ProductsAsync(App, 3);
        var created = await (await Client.PostJsonAsync("/api/orders",
                Arrange.OrderJson(Arrange.NewUserId(), (products[2].Id, 1), (products[0].Id, 1), (products[1].Id, 1))))
            .ExpectAsync(HttpStatusCode.Created);
        await App.WithDbAsync(db => db.Products.Where(p => p.Id == products[0].Id)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.DeletedAt, DateTime.UtcNow)));

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

    // ---- #8 PATCH /api/orders/{id} ------------------------------------------------------------------------------

    [Fact]
    public async Task StatusMovesForwardThroughTheWholeLifecycle()
    {
        var product = await Arrange.ProductAsync(App, stock: 10);
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
        Assert.Equal(7, await Arrange.StockAsync(App, product.Id));
    }

    [Fact]
    public async Task SameStatusAgainIsA200NoOp()
    {
        var product = await Arrange.ProductAsync(App, stock: 10);
        var id = await Arrange.OrderAsync(App, Arrange.NewUserId(), OrderStatus.Paid, (product, 2));
        var before = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);

        var response = await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"paid"}""");
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(before.GetRawText(), body.GetRawText());
        Assert.Equal(1, response.QueryCount()); // one read, no write transaction
        Assert.Equal(10, await Arrange.StockAsync(App, product.Id));
    }

    [Fact]
    public async Task CancellingCancelledAgainDoesNotRestockTwice()
    {
        var product = await Arrange.ProductAsync(App, stock: 10);
        var created = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 4))))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();
        await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""")).ExpectAsync(HttpStatusCode.OK);
        await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(10, await Arrange.StockAsync(App, product.Id));
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("paid")]
    public async Task CancellingRestocksEveryItemInTheSameTransaction(string from)
    {
        var a = await Arrange.ProductAsync(App, stock: 10);
        var b = await Arrange.ProductAsync(App, stock: 20);
        var created = await (await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(Arrange.NewUserId(), (b.Id, 5), (a.Id, 4)))).ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();
        if (from == OrderStatus.Paid)
        {
            await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"paid"}""")).ExpectAsync(HttpStatusCode.OK);
        }
        var versionBefore = (await Arrange.ReadProductAsync(App, a.Id)).Version;

        var body = await (await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}"""))
            .ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("cancelled", body.GetProperty("status").GetString());
        Assert.Equal(10, await Arrange.StockAsync(App, a.Id));
        Assert.Equal(20, await Arrange.StockAsync(App, b.Id));
        Assert.Equal(versionBefore + 1, (await Arrange.ReadProductAsync(App, a.Id)).Version);
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
        var product = await Arrange.ProductAsync(App, stock: 10);
        var id = await Arrange.OrderAsync(App, Arrange.NewUserId(), from, (product, 2));
        var before = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);

        var response = await Client.PatchJsonAsync($"/api/orders/{id}", $$"""{"status":"{{to}}"}""");
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains(from, problem.GetProperty("detail").GetString());
        Assert.Equal(1, response.QueryCount()); // decided on one read, no write transaction

        var after = await (await Client.GetAsync($"/api/orders/{id}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(before.GetRawText(), after.GetRawText());
        Assert.Equal(10, await Arrange.StockAsync(App, product.Id));
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
        var product = await Arrange.ProductAsync(App);
        var id = await Arrange.OrderAsync(App, Arrange.NewUserId(), OrderStatus.Pending, (product, 1));
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

    // ---- #9 POST /api/orders/bulk -------------------------------------------------------------------------------

    [Fact]
    public async Task BulkCreatesEveryOrderInRequestOrder()
    {
        var products = await Arrange.ProductsAsync(App, 3, stock: 50, price: 2.50m); // 2.50, 3.50, 4.50
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
        Assert.Equal(50 - 6, await Arrange.StockAsync(App, products[0].Id));
        Assert.Equal(50 - 6, await Arrange.StockAsync(App, products[1].Id));
        Assert.Equal(50 - 9, await Arrange.StockAsync(App, products[2].Id));
        Assert.Equal(4, response.QueryCount());
    }

    [Fact]
    public async Task BulkWithOneUnknownProductNamesItsPathAndWritesNothing()
    {
        var product = await Arrange.ProductAsync(App, stock: 50);
        var deleted = await Arrange.ProductAsync(App, stock: 50, deleted: true);
        var users = new[] { Arrange.NewUserId(), Arrange.NewUserId(), Arrange.NewUserId() };
        var body = $$"""
            {"orders":[
              {{Arrange.OrderJson(users[0], (product.Id, 1))}},
              {{Arrange.OrderJson(users[1], (product.Id, 1), (UnknownProductId, 1))}},
              {{Arrange.OrderJson(users[2], (deleted.Id, 2), (product.Id, 1))}}
            ]}
            """;
        var response = await Client.PostJsonAsync("/api/orders/bulk", body);
        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest,
            "orders[1].items[1].product_id", "orders[2].items[0].product_id");
        Assert.Equal(2, problem.GetProperty("errors").EnumerateObject().Count());
        Assert.Equal(50, await Arrange.StockAsync(App, product.Id));
        foreach (var user in users)
        {
            Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
        }
    }

    [Fact]
    public async Task BulkWhoseOrdersTogetherExceedTheStockIs409NamingProductAndOrderAndWritesNothing()
    {
        var plenty = await Arrange.ProductAsync(App, stock: 100);
        var scarce = await Arrange.ProductAsync(App, stock: 10);
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
        Assert.Equal(100, await Arrange.StockAsync(App, plenty.Id));
        Assert.Equal(10, await Arrange.StockAsync(App, scarce.Id));
        foreach (var user in users)
        {
            Assert.Equal(0, await Arrange.OrderCountAsync(App, user));
        }
    }

    [Fact]
    public async Task BulkOfTheLargestSizeIsOneTransactionOfFourStatements()
    {
        // 100 orders × 50 items = 5,000 lines (the contract's maximum), all over the same 50 products.
        var products = await Arrange.ProductsAsync(App, 50, stock: 100_000, price: 1.01m);
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
        Assert.Equal(4, response.QueryCount());
        Assert.Equal(100, await Arrange.OrderCountAsync(App, user));
        var expected = 100_000 - Enumerable.Range(0, 100).Sum(i => 1 + i % 7);
        Assert.Equal(expected, await Arrange.StockAsync(App, products[0].Id));
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

    // ---- Concurrency (invariants, not timings) ------------------------------------------------------------------

    [Fact]
    public async Task ConcurrentTwoItemOrdersInOppositeItemOrderAllFinishAndConserveStock()
    {
        const int requests = 16, quantity = 3, stock = 20;
        var a = await Arrange.ProductAsync(App, stock: stock);
        var b = await Arrange.ProductAsync(App, stock: stock);
        var user = Arrange.NewUserId();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var responses = await Arrange.ConcurrentlyAsync(requests, async i =>
        {
            var body = i % 2 == 0
                ? Arrange.OrderJson(user, (a.Id, quantity), (b.Id, quantity))
                : Arrange.OrderJson(user, (b.Id, quantity), (a.Id, quantity));
            using var response = await Client.PostAsync("/api/orders", Http.Json(body), timeout.Token);
            return (response.StatusCode, Detail: await response.Content.ReadAsStringAsync(timeout.Token));
        });

        Arrange.AssertOnly(responses.Select(r => r.StatusCode), HttpStatusCode.Created, HttpStatusCode.Conflict);
        // Every 409 is "insufficient stock", not a deadlock victim or a serialization failure dressed as a conflict.
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.Conflict), r => Assert.Contains("Insufficient stock", r.Detail));
        var created = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(stock / quantity, created);
        Assert.Equal(stock - created * quantity, await Arrange.StockAsync(App, a.Id));
        Assert.Equal(stock - created * quantity, await Arrange.StockAsync(App, b.Id));
        Assert.Equal(created, await Arrange.OrderCountAsync(App, user));
    }

    [Fact]
    public async Task ConcurrentCancelAndShipOfOneOrderHaveExactlyOneWinner()
    {
        for (var round = 0; round < 5; round++)
        {
            var product = await Arrange.ProductAsync(App, stock: 10);
            var id = await Arrange.OrderAsync(App, Arrange.NewUserId(), OrderStatus.Paid, (product, 4));
            await App.WithDbAsync(db => db.Products.Where(p => p.Id == product.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.Stock, 6)));

            var targets = round % 2 == 0 ? new[] { "cancelled", "shipped" } : ["shipped", "cancelled"];
            var responses = await Arrange.ConcurrentlyAsync(2, async i =>
            {
                using var response = await Client.PatchJsonAsync($"/api/orders/{id}", $$"""{"status":"{{targets[i]}}"}""");
                return response.StatusCode;
            });

            Arrange.AssertOnly(responses, HttpStatusCode.OK, HttpStatusCode.Conflict);
            Assert.Equal(1, responses.Count(s => s == HttpStatusCode.OK));
            var winner = targets[Array.IndexOf(responses, HttpStatusCode.OK)];
            var status = await App.WithDbAsync(db => db.Orders.Where(o => o.Id == id).Select(o => o.Status).SingleAsync());
            Assert.Equal(winner, status);
            Assert.Equal(winner == "cancelled" ? 10 : 6, await Arrange.StockAsync(App, product.Id));
        }
    }

    [Fact]
    public async Task ConcurrentCancelsOfOneOrderRestockOnce()
    {
        var a = await Arrange.ProductAsync(App, stock: 10);
        var b = await Arrange.ProductAsync(App, stock: 10);
        var created = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (a.Id, 4), (b.Id, 1))))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();

        var responses = await Arrange.ConcurrentlyAsync(6, async _ =>
        {
            using var response = await Client.PatchJsonAsync($"/api/orders/{id}", """{"status":"cancelled"}""");
            return response.StatusCode;
        });

        Arrange.AssertOnly(responses, HttpStatusCode.OK);
        Assert.Equal(10, await Arrange.StockAsync(App, a.Id));
        Assert.Equal(10, await Arrange.StockAsync(App, b.Id));
    }

    [Fact]
    public async Task ConcurrentBulkOrdersAndCancelsNeverDeadlockAndConserveStock()
    {
        var products = await Arrange.ProductsAsync(App, 4, stock: 60);
        var user = Arrange.NewUserId();
        var existing = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var body = await (await Client.PostJsonAsync("/api/orders",
                Arrange.OrderJson(user, (products[3 - i].Id, 2), (products[i].Id, 2)))).ExpectAsync(HttpStatusCode.Created);
            existing.Add(body.GetProperty("id").GetInt64());
        }

        var responses = await Arrange.ConcurrentlyAsync(12, async i =>
        {
            if (i < 4)
            {
                using var cancel = await Client.PatchJsonAsync($"/api/orders/{existing[i]}", """{"status":"cancelled"}""");
                return cancel.StatusCode;
            }
            // Bulk batches walk the products in different orders.
            var order = i % 2 == 0 ? products : products.Reverse().ToArray();
            var bulk = $$"""{"orders":[{{Arrange.OrderJson(user, [.. order.Select(p => (p.Id, 3))])}},{{Arrange.OrderJson(user, (order[1].Id, 1), (order[0].Id, 1))}}]}""";
            using var response = await Client.PostJsonAsync("/api/orders/bulk", bulk);
            return response.StatusCode;
        });

        Arrange.AssertOnly(responses, HttpStatusCode.OK, HttpStatusCode.Created, HttpStatusCode.Conflict);
        Assert.All(responses.Take(4), s => Assert.Equal(HttpStatusCode.OK, s));
        // Conservation: stock + what live (non-cancelled) orders hold = the initial 60, per product.
        foreach (var product in products)
        {
            var held = await App.WithDbAsync(db => db.OrderItems
                .Where(x => x.ProductId == product.Id && x.Order!.Status != OrderStatus.Cancelled)
                .SumAsync(x => x.Quantity));
            Assert.Equal(60, held + await Arrange.StockAsync(App, product.Id));
        }
    }
}

public sealed class OrdersSqliteTests(SqliteApp app) : OrdersTests(app), IClassFixture<SqliteApp>
{
    /// <summary>
    /// Microsoft.Data.Sqlite's BeginTransaction is BEGIN IMMEDIATE: the write lock is taken at BEGIN, so a write
    /// transaction never has to upgrade a read lock later (the upgrade that fails with SQLITE_BUSY under concurrency).
    /// </summary>
    [Fact]
    public async Task WriteTransactionsTakeTheWriteLockAtBegin()
    {
        await App.WithDbAsync(async db =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(Ct);
            var path = ((SqliteConnection)db.Database.GetDbConnection()).DataSource;
            await using var other = new SqliteConnection($"Data Source={path};Pooling=False");
            await other.OpenAsync(Ct);
            await using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.CommandTimeout = 1;
            var error = await Assert.ThrowsAsync<SqliteException>(() => begin.ExecuteNonQueryAsync(Ct));
            Assert.Equal(5, error.SqliteErrorCode); // SQLITE_BUSY: the first transaction holds the write lock
        });
    }
}

public sealed class OrdersPostgresTests(PostgresApp app) : OrdersTests(app), IClassFixture<PostgresApp>;
