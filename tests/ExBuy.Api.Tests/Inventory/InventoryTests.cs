using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Inventory;

public abstract class InventoryTests(ExBuyApp app) : EngineTests(app)
{
    private Task<HttpResponseMessage> ReserveAsync(string lockType, long productId, int quantity) =>
        Client.PostJsonAsync($"/api/inventory/reserve?lock_type={lockType}", $$"""{"product_id":{{productId}},"quantity":{{quantity}}}""");

    [Theory]
    [InlineData("optimistic")]
    [InlineData("pessimistic")]
    [InlineData("versioned")]
    public async Task ReservingTakesStockOnceAndAnswersTheContractShape(string lockType)
    {
        var product = await App.AddProductAsync(stock: 10);
        var response = await ReserveAsync(lockType, product.Id, 3);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal($$"""{"product_id":{{product.Id}},"quantity":3,"remaining_stock":7,"lock_type":"{{lockType}}"}""", body.GetRawText());

        var stored = await App.ReadProductAsync(product.Id);
        Assert.Equal(7, stored.Stock);
        Assert.Equal(product.Version + 1, stored.Version);
        Assert.True(stored.UpdatedAt >= product.UpdatedAt);
    }

    [Fact]
    public async Task TheDefaultLockTypeIsOptimisticAndOneStatement()
    {
        var product = await App.AddProductAsync(stock: 10);
        var response = await Client.PostJsonAsync("/api/inventory/reserve", $$"""{"product_id":{{product.Id}},"quantity":1}""");
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("optimistic", body.GetProperty("lock_type").GetString());
        Assert.Equal(1, response.QueryCount());
    }

    [Theory]
    [InlineData("optimistic")]
    [InlineData("pessimistic")]
    [InlineData("versioned")]
    public async Task ReservingAnUnknownOrDeletedProductIs404(string lockType)
    {
        var deleted = await App.AddProductAsync(stock: 10, deleted: true);
        await (await ReserveAsync(lockType, Arrange.UnknownProductId, 1)).ExpectProblemAsync(HttpStatusCode.NotFound);
        await (await ReserveAsync(lockType, deleted.Id, 1)).ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(10, await App.StockAsync(deleted.Id));
    }

    [Theory]
    [InlineData("optimistic")]
    [InlineData("pessimistic")]
    [InlineData("versioned")]
    public async Task ReservingMoreThanTheStockIs409AndTakesNothing(string lockType)
    {
        var product = await App.AddProductAsync(stock: 4);
        var problem = await (await ReserveAsync(lockType, product.Id, 5)).ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains($"product {product.Id}", problem.GetProperty("detail").GetString());
        var stored = await App.ReadProductAsync(product.Id);
        Assert.Equal((4, product.Version), (stored.Stock, stored.Version));
    }

    [Theory]
    [InlineData("optimistic")]
    [InlineData("pessimistic")]
    [InlineData("versioned")]
    public async Task ReservingExactlyTheStockLeavesZeroThenConflicts(string lockType)
    {
        var product = await App.AddProductAsync(stock: 1000);
        var body = await (await ReserveAsync(lockType, product.Id, 1000)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, body.GetProperty("remaining_stock").GetInt32());
        await (await ReserveAsync(lockType, product.Id, 1)).ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(0, await App.StockAsync(product.Id));
    }

    [Theory]
    [InlineData("?lock_type=foo")]
    [InlineData("?lock_type=")]
    [InlineData("?lock_type=OPTIMISTIC")]
    [InlineData("?lock_type=optimistic&lock_type=versioned")]
    public async Task BadLockTypeIs400(string query)
    {
        var response = await Client.PostJsonAsync("/api/inventory/reserve" + query, """{"product_id":1,"quantity":1}""");
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "lock_type");
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("{}", "product_id")]
    [InlineData("{}", "quantity")]
    [InlineData("""{"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":null,"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":0,"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":-4,"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":"1","quantity":1}""", "product_id")]
    [InlineData("""{"product_id":1.5,"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":1e40,"quantity":1}""", "product_id")]
    [InlineData("""{"product_id":1}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":0}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":-1}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":1001}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":"5"}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":2.5}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":99999999999}""", "quantity")]
    [InlineData("""{"product_id":1,"quantity":[1]}""", "quantity")]
    [InlineData("null", "body")]
    [InlineData("", "body")]
    [InlineData("[]", "body")]
    [InlineData("17", "body")]
    public async Task BadReserveBodyIs400NamingTheField(string body, string field)
    {
        foreach (var lockType in new[] { "optimistic", "pessimistic", "versioned" })
        {
            var response = await Client.PostJsonAsync($"/api/inventory/reserve?lock_type={lockType}", body);
            await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
            Assert.Equal(0, response.QueryCount());
        }
    }

    [Fact]
    public async Task BadBodyAndBadLockTypeAreReportedTogether()
    {
        var response = await Client.PostJsonAsync("/api/inventory/reserve?lock_type=nope", """{"product_id":0,"quantity":0}""");
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "lock_type", "product_id", "quantity");
    }

    /// <summary>
    /// N concurrent reservations of 1 against stock S: exactly min(N, S) succeed, stock ends at S − successes, and the
    /// remaining_stock values of the successes are exactly S−1, S−2, ... (each success took one unit, once).
    /// N = 12 ≤ the versioned technique's 16 attempts, so no request can end "contended".
    /// </summary>
    [Theory]
    [InlineData("optimistic", 5)]
    [InlineData("optimistic", 20)]
    [InlineData("pessimistic", 5)]
    [InlineData("pessimistic", 20)]
    [InlineData("versioned", 5)]
    [InlineData("versioned", 20)]
    public async Task ConcurrentReservationsNeverOversell(string lockType, int stock)
    {
        const int requests = 12;
        var product = await App.AddProductAsync(stock: stock);

        var responses = await Concurrent.RunAsync(requests, async _ =>
        {
            using var response = await ReserveAsync(lockType, product.Id, 1);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        });

        Concurrent.AssertOnly(responses.Select(r => r.StatusCode), HttpStatusCode.OK, HttpStatusCode.Conflict);
        var successes = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToArray();
        Assert.Equal(Math.Min(requests, stock), successes.Length);
        Assert.Equal(stock - successes.Length, await App.StockAsync(product.Id));
        var remaining = successes.Select(r => System.Text.Json.JsonDocument.Parse(r.Body).RootElement.GetProperty("remaining_stock").GetInt32())
            .Order().ToArray();
        Assert.Equal(Enumerable.Range(stock - successes.Length, successes.Length), remaining);
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.Conflict), r => Assert.Contains("Insufficient stock", r.Body));
        var stored = await App.ReadProductAsync(product.Id);
        Assert.Equal(product.Version + successes.Length, stored.Version);
    }

    /// <summary>Every technique bumps version, so the versioned CAS notices the optimistic and pessimistic writers.</summary>
    [Fact]
    public async Task MixedTechniquesTogetherNeverOversell()
    {
        const int stock = 6;
        var product = await App.AddProductAsync(stock: stock);
        string[] lockTypes = ["optimistic", "pessimistic", "versioned"];

        var responses = await Concurrent.RunAsync(12, async i =>
        {
            using var response = await ReserveAsync(lockTypes[i % 3], product.Id, 1);
            return response.StatusCode;
        });

        Concurrent.AssertOnly(responses, HttpStatusCode.OK, HttpStatusCode.Conflict);
        Assert.Equal(stock, responses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(0, await App.StockAsync(product.Id));
    }
}

public sealed class InventorySqliteTests(SqliteApp app) : InventoryTests(app), IClassFixture<SqliteApp>;

public sealed class InventoryPostgresTests(PostgresApp app) : InventoryTests(app), IClassFixture<PostgresApp>;
