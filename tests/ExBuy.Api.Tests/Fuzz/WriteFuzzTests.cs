using System.Net;
using CsCheck;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// The JSON write endpoints (contract #6, #8, #9, #10, #12, #15) under generated bodies: mostly a valid body with one
/// field damaged, some valid ones, some random JSON, sent with damaged bytes or a wrong content type now and then.
/// Besides the contract checks of <see cref="FuzzTests"/> (no 5xx, problem+json, errors naming the field, a refused write
/// changes nothing), stock is conserved across the accepted writes: stock + the quantities held by live orders + what
/// reservations took stays what it was.
/// </summary>
public abstract class WriteFuzzTests(ExBuyApp app) : FuzzTests(app)
{
    private const long DefaultIterations = 250;
    private const int Oversize = 100;

    private static readonly EndpointShape OrderShape = new("POST /api/orders", [],
        ["user_id", "items", "items[]", "items[].product_id", "items[].quantity"]);

    private static readonly EndpointShape BulkShape = new("POST /api/orders/bulk", [],
        ["orders", "orders[]", "orders[].user_id", "orders[].items", "orders[].items[]", "orders[].items[].product_id", "orders[].items[].quantity"]);

    private static readonly EndpointShape StatusShape = new("PATCH /api/orders/{id}", [], ["status"]);

    private static readonly EndpointShape ReserveShape = new("POST /api/inventory/reserve", ["lock_type"], ["product_id", "quantity"]);

    private static readonly EndpointShape ReviewShape = new("POST /api/reviews", [], ["product", "user_id", "rating", "body"]);

    private static readonly EndpointShape DeleteShape = new("DELETE /api/products/{id}", [], []);

    private long _baseline;
    private long _reserved;

    /// <summary>Products to order (plenty of stock, one scarce so 409s happen, one deleted) and orders to move.</summary>
    private sealed record Catalog(long[] Products, long Deleted, long[] Orders);

    [Fact]
    public async Task CreateOrderAnswersByContractAndRefusalsWriteNothing()
    {
        var catalog = await ArrangeCatalogAsync();
        await FuzzBodiesAsync(OrderShape, HttpMethod.Post, Gen.Const("/api/orders"), Order(catalog), ["user_id", "items", "product_id", "quantity"]);
    }

    [Fact]
    public async Task BulkOrdersAnswerByContractAndRefusalsWriteNothing()
    {
        var catalog = await ArrangeCatalogAsync();
        var bulk = Order(catalog).Array[1, 3].Select(orders => (JsonTree)new JsonObject(("orders", new JsonArray(orders))));
        await FuzzBodiesAsync(BulkShape, HttpMethod.Post, Gen.Const("/api/orders/bulk"), bulk, ["orders", "user_id", "items", "product_id", "quantity"]);
    }

    [Fact]
    public async Task OrderStatusChangeAnswersByContractAndRefusalsWriteNothing()
    {
        var catalog = await ArrangeCatalogAsync();
        var url = FuzzGen.PathIds(catalog.Orders).Select(id => id with { Text = "/api/orders/" + id.Text });
        var status = Gen.OneOf(OrderStatus.All).Select(s => (JsonTree)new JsonObject(("status", new JsonString(s))));
        await FuzzBodiesAsync(StatusShape, HttpMethod.Patch, url, status, ["status"]);
    }

    [Fact]
    public async Task ReserveAnswersByContractAndRefusalsWriteNothing()
    {
        var catalog = await ArrangeCatalogAsync();
        var lockType = Gen.OneOf("optimistic", "pessimistic", "versioned");
        var url = Gen.Frequency<string>(
            (3, Gen.Const("")),
            (4, lockType.Select(l => "?lock_type=" + l)),
            (2, FuzzGen.Query([("lock_type", lockType)]))).Select(query => "/api/inventory/reserve" + query);
        var reserve = Gen.Select(Gen.OneOf([.. catalog.Products, catalog.Deleted]), Gen.Int[1, 5], (id, quantity) =>
            (JsonTree)new JsonObject(("product_id", JsonToken.Of(id)), ("quantity", JsonToken.Of(quantity))));
        await FuzzBodiesAsync(ReserveShape, HttpMethod.Post, url, reserve, ["product_id", "quantity"]);
    }

    [Fact]
    public async Task CreateReviewAnswersByContractAndRefusalsWriteNothing()
    {
        var catalog = await ArrangeCatalogAsync();
        var text = Gen.Frequency<string>(
            (4, Gen.Char.AlphaNumeric.Array[1, 40].Select(chars => new string(chars))),
            (1, Gen.OneOf("great 👍", "שלום עולם", "e\u0301te", "\u202Ereversed", "multi\nline")));
        var review = Gen.Select(Gen.OneOf([.. catalog.Products, catalog.Deleted]), Gen.Long[1, 1_000_000], Gen.Int[1, 5], text,
            (product, user, rating, body) => (JsonTree)new JsonObject(
                ("product", JsonToken.Of(product)), ("user_id", JsonToken.Of(user)), ("rating", JsonToken.Of(rating)), ("body", new JsonString(body))));
        await FuzzBodiesAsync(ReviewShape, HttpMethod.Post, Gen.Const("/api/reviews"), review, ["product", "user_id", "rating", "body"]);
    }

    [Fact]
    public async Task DeleteProductAnswersByContractAndRefusalsWriteNothing()
    {
        await ArrangeCatalogAsync();
        var doomed = await App.AddProductsAsync(40);
        var requests = FuzzGen.PathIds([.. doomed.Select(p => p.Id)])
            .Select(id => new FuzzRequest(HttpMethod.Delete, "/api/products/" + id.Text, PathIdIsNotAnId: id.NotAnId));
        await CheckAsync(requests, async request =>
        {
            var response = await SendAsync(request, DeleteShape);
            Assert.True(response.Status is HttpStatusCode.NoContent or HttpStatusCode.NotFound, $"{request}: {(int)response.Status}");
            return response;
        }, DefaultIterations);
    }

    /// <summary>
    /// The property of a JSON write endpoint: documents mostly one mutation away from <paramref name="valid"/>, member
    /// names of random trees from <paramref name="names"/>; accepted writes conserve stock.
    /// </summary>
    private Task FuzzBodiesAsync(EndpointShape shape, HttpMethod method, Gen<PathId> urls, Gen<JsonTree> valid, string[] names) =>
        FuzzBodiesAsync(shape, method, urls.Select(u => (u.Text, u.NotAnId)), valid, names);

    private Task FuzzBodiesAsync(EndpointShape shape, HttpMethod method, Gen<string> urls, Gen<JsonTree> valid, string[] names) =>
        FuzzBodiesAsync(shape, method, urls.Select(u => (u, false)), valid, names);

    private Task FuzzBodiesAsync(EndpointShape shape, HttpMethod method, Gen<(string Url, bool NotAnId)> urls, Gen<JsonTree> valid, string[] names)
    {
        var requests = FuzzGen.JsonRequests(method, urls, FuzzGen.Documents(valid, names, Oversize));
        return CheckAsync(requests, async request =>
        {
            var response = await SendAsync(request, shape);
            if ((int)response.Status is >= 200 and < 300)
            {
                if (shape == ReserveShape)
                {
                    _reserved += response.Body.GetProperty("quantity").GetInt32();
                }
                await AssertStockConservedAsync(request);
            }
            return response;
        }, DefaultIterations);
    }

    private async Task<Catalog> ArrangeCatalogAsync()
    {
        var products = await App.AddProductsAsync([
            .. Enumerable.Range(0, 5).Select(i => Arrange.NewProduct(price: 1.25m + i, stock: 1_000_000)),
            Arrange.NewProduct(price: 99.99m, stock: 5)]);
        var deleted = await App.AddProductAsync(deleted: true);
        var orders = new List<long>();
        foreach (var product in products.Take(5))
        {
            using var response = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 1)));
            orders.Add((await response.ExpectAsync(HttpStatusCode.Created)).GetProperty("id").GetInt64());
        }
        var state = await StoreState.CaptureAsync(App);
        _baseline = state.Stock + state.HeldQuantity;
        return new Catalog([.. products.Select(p => p.Id)], deleted.Id, [.. orders]);
    }

    private async Task AssertStockConservedAsync(FuzzRequest request)
    {
        var state = await StoreState.CaptureAsync(App);
        Assert.True(state.Stock + state.HeldQuantity + _reserved == _baseline,
            $"stock not conserved after {request}: stock {state.Stock} + held {state.HeldQuantity} + reserved {_reserved} != {_baseline}");
    }

    /// <summary>A valid order: a user, and 1..6 distinct products of the catalog (now and then the deleted one) in quantities 1..5.</summary>
    private static Gen<JsonTree> Order(Catalog catalog)
    {
        long[] ids = [.. catalog.Products, catalog.Deleted];
        var all = (1 << ids.Length) - 1;
        var live = (1 << catalog.Products.Length) - 1;
        return
            from user in Gen.Long[1, 10_000_000]
            from mask in Gen.Frequency<int>((9, Gen.Int[1, live]), (1, Gen.Int[1, all]))
            from quantities in Gen.Int[1, 5].Array[ids.Length]
            select (JsonTree)new JsonObject(
                ("user_id", JsonToken.Of(user)),
                ("items", new JsonArray([.. ids.Select((id, i) => (id, i)).Where(x => (mask & (1 << x.i)) != 0)
                    .Select(x => (JsonTree)new JsonObject(("product_id", JsonToken.Of(x.id)), ("quantity", JsonToken.Of(quantities[x.i]))))])));
    }
}

public sealed class WriteFuzzSqliteTests(SqliteApp app) : WriteFuzzTests(app), IClassFixture<SqliteApp>;

public sealed class WriteFuzzPostgresTests(PostgresApp app) : WriteFuzzTests(app), IClassFixture<PostgresApp>;
