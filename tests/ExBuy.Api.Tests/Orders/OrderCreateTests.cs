using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Orders;

/// <summary>POST /api/orders (contract #6): prices captured, stock taken, all or nothing, validation before the database.</summary>
public abstract class OrderCreateTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task PostingAnOrderCreatesItWithPricesCapturedAndStockTaken()
    {
        var a = await App.AddProductAsync(stock: 10, price: 12.75m);
        var b = await App.AddProductAsync(stock: 5, price: 0.10m);
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

        var storedA = await App.ReadProductAsync(a.Id);
        var storedB = await App.ReadProductAsync(b.Id);
        Assert.Equal((8, a.Version + 1), (storedA.Stock, storedA.Version));
        Assert.Equal((2, b.Version + 1), (storedB.Stock, storedB.Version));
        Assert.True(storedA.UpdatedAt >= a.UpdatedAt);
    }

    [Fact]
    public async Task CreatedOrderReadsBackByteForByte()
    {
        var products = await App.AddProductsAsync(3, stock: 2000, price: 3.33m);
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
        var few = await App.AddProductsAsync(1);
        var many = await App.AddProductsAsync(12);
        var one = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (few[0].Id, 1)));
        var twelve = await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(Arrange.NewUserId(), [.. many.Select(p => (p.Id, 2))]));
        await one.ExpectAsync(HttpStatusCode.Created);
        await twelve.ExpectAsync(HttpStatusCode.Created);
        // PostgreSQL: one statement (lock, check, decrement and both inserts as data-modifying CTEs, in autocommit);
        // SQLite: lock products, decrement stock, insert orders, insert items, in one transaction.
        var statements = IsPostgres ? 1 : 4;
        Assert.Equal(statements, one.QueryCount());
        Assert.Equal(statements, twelve.QueryCount());
    }

    [Fact]
    public async Task UnitPriceIsThePriceAtOrderTime()
    {
        var product = await App.AddProductAsync(price: 10m);
        var first = await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 2))))
            .ExpectAsync(HttpStatusCode.Created);
        await App.SetPriceAsync(product.Id, 19.99m);

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
        var product = await App.AddProductAsync(stock: 10);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders",
            Arrange.OrderJson(user, (product.Id, 1), (Arrange.UnknownProductId, 1)));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items[1].product_id");
        Assert.Equal(10, await App.StockAsync(product.Id));
        Assert.Equal(0, await App.OrderCountAsync(user));
    }

    [Fact]
    public async Task PostingOrderWithDeletedProductNamesTheFieldAndWritesNothing()
    {
        var live = await App.AddProductAsync(stock: 10);
        var deleted = await App.AddProductAsync(stock: 10, deleted: true);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (deleted.Id, 1), (live.Id, 1)));
        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items[0].product_id");
        Assert.False(problem.GetProperty("errors").TryGetProperty("items[1].product_id", out _));
        Assert.Equal(10, await App.StockAsync(live.Id));
        Assert.Equal(10, await App.StockAsync(deleted.Id));
        Assert.Equal(0, await App.OrderCountAsync(user));
    }

    [Fact]
    public async Task PostingOrderWithInsufficientStockIs409NamingTheProductAndWritesNothing()
    {
        var plenty = await App.AddProductAsync(stock: 10);
        var scarce = await App.AddProductAsync(stock: 2);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (plenty.Id, 5), (scarce.Id, 3)));
        var problem = await response.ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains($"product {scarce.Id}", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain($"product {plenty.Id}", problem.GetProperty("detail").GetString());
        Assert.Equal(10, await App.StockAsync(plenty.Id));
        Assert.Equal(2, await App.StockAsync(scarce.Id));
        Assert.Equal(0, await App.OrderCountAsync(user));
    }

    [Fact]
    public async Task OrderingExactlyTheStockLeavesZero()
    {
        var product = await App.AddProductAsync(stock: 7);
        await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 7))))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(0, await App.StockAsync(product.Id));
        await (await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 1))))
            .ExpectProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task AnOrderTotalBeyondNumeric12_2IsA400NotA500()
    {
        var luxury = await App.AddProductAsync(stock: 10, price: 9_999_999_999.99m);
        var user = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(user, (luxury.Id, 2)));
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "items");
        Assert.Equal(10, await App.StockAsync(luxury.Id));
        Assert.Equal(0, await App.OrderCountAsync(user));
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

    [Fact]
    public async Task ConcurrentTwoItemOrdersInOppositeItemOrderAllFinishAndConserveStock()
    {
        const int requests = 16, quantity = 3, stock = 20;
        var a = await App.AddProductAsync(stock: stock);
        var b = await App.AddProductAsync(stock: stock);
        var user = Arrange.NewUserId();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var responses = await Concurrent.RunAsync(requests, async i =>
        {
            var body = i % 2 == 0
                ? Arrange.OrderJson(user, (a.Id, quantity), (b.Id, quantity))
                : Arrange.OrderJson(user, (b.Id, quantity), (a.Id, quantity));
            using var response = await Client.PostAsync("/api/orders", Http.Json(body), timeout.Token);
            return (response.StatusCode, Detail: await response.Content.ReadAsStringAsync(timeout.Token));
        });

        Concurrent.AssertOnly(responses.Select(r => r.StatusCode), HttpStatusCode.Created, HttpStatusCode.Conflict);
        // Every 409 is "insufficient stock", not a deadlock victim or a serialization failure dressed as a conflict.
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.Conflict), r => Assert.Contains("Insufficient stock", r.Detail));
        var created = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(stock / quantity, created);
        Assert.Equal(stock - created * quantity, await App.StockAsync(a.Id));
        Assert.Equal(stock - created * quantity, await App.StockAsync(b.Id));
        Assert.Equal(created, await App.OrderCountAsync(user));
    }
}

public sealed class OrderCreateSqliteTests(SqliteApp app) : OrderCreateTests(app), IClassFixture<SqliteApp>
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

public sealed class OrderCreatePostgresTests(PostgresApp app) : OrderCreateTests(app), IClassFixture<PostgresApp>;
