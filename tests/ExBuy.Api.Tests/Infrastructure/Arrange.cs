using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>
/// Rows tests arrange straight in the database, and the database state they assert afterwards. Each test makes its
/// own rows under fresh user ids and categories, so what it counts or lists is its own.
/// </summary>
public static class Arrange
{
    /// <summary>A fixed instant for tests that assert exact timestamps on the wire.</summary>
    public static readonly DateTime BaseTime = new(2026, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc);

    /// <summary>A product id no test creates.</summary>
    public const long UnknownProductId = 8_000_000_000_000;

    private static long _userId = Random.Shared.Next(1_000, 1_000_000) * 1000L;

    /// <summary>A user id no other test uses, so "this user's orders" or "this user's reviews" are a test's own rows.</summary>
    public static long NewUserId() => Interlocked.Increment(ref _userId);

    /// <summary>A category no other test uses, so list counts are this test's own.</summary>
    public static string NewCategory() => "cat-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// A product row, not yet saved: in a fresh category unless told, created now unless told, updated when created
    /// unless told, and soft-deleted now when <paramref name="deleted"/>.
    /// </summary>
    public static Product NewProduct(string? category = null, string? name = null, decimal price = 10.00m, int stock = 100,
        DateTime? createdAt = null, bool deleted = false, DateTime? updatedAt = null)
    {
        var now = Clock.UtcNow();
        var created = createdAt ?? now;
        return new Product
        {
            Name = name ?? "product-" + Guid.NewGuid().ToString("N")[..10],
            Price = price,
            Stock = stock,
            Category = category ?? NewCategory(),
            CreatedAt = created,
            UpdatedAt = updatedAt ?? created,
            DeletedAt = deleted ? now : null,
        };
    }

    /// <summary>Saves the products in one go, in the given order (ids ascending).</summary>
    public static async Task<List<Product>> AddProductsAsync(this ExBuyApp app, params Product[] products)
    {
        await app.WithDbAsync(async db =>
        {
            db.Products.AddRange(products);
            await db.SaveChangesAsync();
        });
        return [.. products];
    }

    /// <summary><paramref name="count"/> products priced price, price + 1, ..., each with the same stock.</summary>
    public static Task<List<Product>> AddProductsAsync(this ExBuyApp app, int count, decimal price = 10.00m, int stock = 100) =>
        app.AddProductsAsync([.. Enumerable.Range(0, count).Select(i => NewProduct(price: price + i, stock: stock))]);

    public static async Task<Product> AddProductAsync(this ExBuyApp app, string? category = null, string? name = null,
        decimal price = 10.00m, int stock = 100, DateTime? createdAt = null, bool deleted = false, DateTime? updatedAt = null) =>
        (await app.AddProductsAsync(NewProduct(category, name, price, stock, createdAt, deleted, updatedAt)))[0];

    /// <summary>
    /// A catalog shaped like seeded data for query-count tests: <paramref name="count"/> products in a new category,
    /// named "&lt;token&gt; item i" (the token makes them searchable), 1–5 reviews each by one new user, and the first
    /// product busy with <paramref name="count"/> more reviews.
    /// </summary>
    public static async Task<(string Category, string Token, long UserId, List<Product> Products)> AddReviewedCatalogAsync(
        this ExBuyApp app, string tokenPrefix, int count)
    {
        var category = NewCategory();
        var token = tokenPrefix + Guid.NewGuid().ToString("N")[..10];
        var userId = NewUserId();
        var products = await app.AddProductsAsync(
            [.. Enumerable.Range(0, count).Select(i => NewProduct(category, $"{token} item {i}", 5m + i, i % 7))]);
        foreach (var (product, i) in products.Select((p, i) => (p, i)))
        {
            await app.AddReviewsAsync(product.Id, [.. Enumerable.Range(0, 1 + i % 5).Select(k => 1 + (i + k) % 5)], userId);
        }
        await app.AddReviewsAsync(products[0].Id, [.. Enumerable.Range(0, count).Select(k => 1 + k % 5)]);
        return (category, token, userId, products);
    }

    public static Task SoftDeleteAsync(this ExBuyApp app, long productId) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == productId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.DeletedAt, Clock.UtcNow())));

    public static Task SetPriceAsync(this ExBuyApp app, long productId, decimal price) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == productId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Price, price)));

    public static Task SetStockAsync(this ExBuyApp app, long productId, int stock) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == productId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Stock, stock)));

    /// <summary>Adds one review per rating; review i is created at BaseTime + i seconds unless told otherwise.</summary>
    public static async Task<List<Review>> AddReviewsAsync(this ExBuyApp app, long productId, IEnumerable<int> ratings,
        long userId = 7, Func<int, DateTime>? createdAt = null)
    {
        var reviews = ratings.Select((rating, i) => new Review
        {
            ProductId = productId,
            UserId = userId,
            Rating = rating,
            Body = $"review {i} of {productId}",
            CreatedAt = createdAt?.Invoke(i) ?? BaseTime.AddSeconds(i),
        }).ToList();
        await app.WithDbAsync(async db =>
        {
            db.Reviews.AddRange(reviews);
            await db.SaveChangesAsync();
        });
        return reviews;
    }

    /// <summary>An order written directly (status chosen) at the products' current prices; their stock is left as it is.</summary>
    public static async Task<long> AddOrderAsync(this ExBuyApp app, long userId, string status, params (Product Product, int Quantity)[] lines)
    {
        var now = Clock.UtcNow();
        var order = new Order
        {
            UserId = userId,
            Status = status,
            TotalPrice = lines.Sum(l => l.Quantity * l.Product.Price),
            CreatedAt = now,
            UpdatedAt = now,
            Items = [.. lines.Select(l => new OrderItem { ProductId = l.Product.Id, Quantity = l.Quantity, UnitPrice = l.Product.Price })],
        };
        await app.WithDbAsync(async db =>
        {
            db.Orders.Add(order);
            await db.SaveChangesAsync();
        });
        return order.Id;
    }

    /// <summary>The body of POST /api/orders (and one element of a bulk request's <c>orders</c>).</summary>
    public static string OrderJson(long userId, params (long ProductId, int Quantity)[] items) =>
        $$"""{"user_id":{{userId}},"items":[{{string.Join(",", items.Select(i => $$"""{"product_id":{{i.ProductId}},"quantity":{{i.Quantity}}}"""))}}]}""";

    public static Task<Product> ReadProductAsync(this ExBuyApp app, long id) =>
        app.WithDbAsync(db => db.Products.SingleAsync(p => p.Id == id));

    public static Task<int> StockAsync(this ExBuyApp app, long productId) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == productId).Select(p => p.Stock).SingleAsync());

    public static Task<int> OrderCountAsync(this ExBuyApp app, long userId) =>
        app.WithDbAsync(db => db.Orders.CountAsync(o => o.UserId == userId));

    public static Task<int> ReviewCountAsync(this ExBuyApp app, long productId) =>
        app.WithDbAsync(db => db.Reviews.CountAsync(r => r.ProductId == productId));
}
