using System.Net;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Orders;

/// <summary>Rows the order, inventory and stats tests arrange directly, and the database state they assert.</summary>
internal static class Arrange
{
    public static async Task<Product> ProductAsync(ExBuyApp app, int stock = 100, decimal price = 10m, bool deleted = false)
    {
        var now = Clock.UtcNow();
        var product = new Product
        {
            Name = "p-" + Guid.NewGuid().ToString("N")[..10],
            Price = price,
            Stock = stock,
            Category = "orders-tests",
            CreatedAt = now,
            UpdatedAt = now,
            DeletedAt = deleted ? now : null,
        };
        await app.WithDbAsync(async db =>
        {
            db.Products.Add(product);
            await db.SaveChangesAsync();
        });
        return product;
    }

    public static async Task<Product[]> ProductsAsync(ExBuyApp app, int count, int stock = 100, decimal price = 10m)
    {
        var products = new Product[count];
        for (var i = 0; i < count; i++)
        {
            products[i] = await ProductAsync(app, stock, price + i);
        }
        return products;
    }

    public static Task<Product> ReadProductAsync(ExBuyApp app, long id) =>
        app.WithDbAsync(db => db.Products.SingleAsync(p => p.Id == id));

    public static Task<int> StockAsync(ExBuyApp app, long id) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == id).Select(p => p.Stock).SingleAsync());

    /// <summary>A user id no other test uses, so "this user's orders" isolates a test's rows.</summary>
    public static long NewUserId() => Interlocked.Increment(ref _userId);

    private static long _userId = Random.Shared.Next(1_000, 1_000_000) * 1000L;

    public static Task<int> OrderCountAsync(ExBuyApp app, long userId) =>
        app.WithDbAsync(db => db.Orders.CountAsync(o => o.UserId == userId));

    /// <summary>An order written directly (status chosen), with stock already taken for it.</summary>
    public static async Task<long> OrderAsync(ExBuyApp app, long userId, string status, params (Product Product, int Quantity)[] lines)
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

    public static string OrderJson(long userId, params (long ProductId, int Quantity)[] items) =>
        $$"""{"user_id":{{userId}},"items":[{{string.Join(",", items.Select(i => $$"""{"product_id":{{i.ProductId}},"quantity":{{i.Quantity}}}"""))}}]}""";

    /// <summary>Every response of a concurrent run: only the expected statuses, never a 5xx.</summary>
    public static void AssertOnly(IEnumerable<HttpStatusCode> statuses, params HttpStatusCode[] allowed)
    {
        foreach (var status in statuses)
        {
            Assert.True(allowed.Contains(status), $"unexpected {(int)status}; allowed: {string.Join(", ", allowed.Select(a => (int)a))}");
        }
    }

    /// <summary>Runs <paramref name="count"/> requests released together, so they really contend.</summary>
    public static async Task<T[]> ConcurrentlyAsync<T>(int count, Func<int, Task<T>> request)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count)
            .Select(async i =>
            {
                await start.Task;
                return await request(i);
            })
            .ToArray();
        start.SetResult();
        return await Task.WhenAll(tasks);
    }
}
