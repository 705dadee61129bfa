using System.Net;
using System.Text.Json;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Products;

/// <summary>Arranges products and reviews straight in the database, each test in its own category.</summary>
public static class Catalog
{
    public static readonly DateTime BaseTime = new(2026, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc);

    /// <summary>A category no other test uses, so list counts are this test's own.</summary>
    public static string NewCategory() => "cat-" + Guid.NewGuid().ToString("N")[..12];

    public static Product NewProduct(string category, string? name = null, decimal price = 10.00m, int stock = 5, DateTime? createdAt = null)
    {
        var at = createdAt ?? BaseTime;
        return new Product
        {
            Name = name ?? "product " + Guid.NewGuid().ToString("N")[..8],
            Price = price,
            Stock = stock,
            Category = category,
            CreatedAt = at,
            UpdatedAt = at.AddMinutes(1),
        };
    }

    public static async Task<List<Product>> AddProductsAsync(this ExBuyApp app, params Product[] products)
    {
        await app.WithDbAsync(async db =>
        {
            db.Products.AddRange(products);
            await db.SaveChangesAsync();
        });
        return [.. products];
    }

    public static async Task<Product> AddProductAsync(this ExBuyApp app, string category, string? name = null,
        decimal price = 10.00m, int stock = 5, DateTime? createdAt = null) =>
        (await app.AddProductsAsync(NewProduct(category, name, price, stock, createdAt)))[0];

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

    public static Task<int> ReviewCountAsync(this ExBuyApp app, long productId) =>
        app.WithDbAsync(db => db.Reviews.CountAsync(r => r.ProductId == productId));

    public static Task SoftDeleteAsync(this ExBuyApp app, long productId) =>
        app.WithDbAsync(db => db.Products.Where(p => p.Id == productId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.DeletedAt, Clock.UtcNow())));

    /// <summary>A unique user id, so review lists filtered by it are this test's own.</summary>
    public static long NewUserId() => Random.Shared.NextInt64(1_000_000, long.MaxValue / 2);

    public static long[] Ids(this JsonElement page) =>
        [.. page.GetProperty("results").EnumerateArray().Select(e => e.GetProperty("id").GetInt64())];

    /// <summary>GETs the same URL on both optimize paths and asserts identical bodies (links aside).</summary>
    public static async Task<(JsonElement Naive, JsonElement Optimized, int NaiveQueries, int OptimizedQueries)> BothPathsAsync(
        this HttpClient client, string url, CancellationToken ct)
    {
        var sep = url.Contains('?') ? '&' : '?';
        using var naiveResponse = await client.GetAsync($"{url}{sep}optimize=false", ct);
        var naive = await naiveResponse.ExpectAsync(HttpStatusCode.OK);
        using var optimizedResponse = await client.GetAsync($"{url}{sep}optimize=true", ct);
        var optimized = await optimizedResponse.ExpectAsync(HttpStatusCode.OK);
        if (naive.TryGetProperty("results", out var naiveResults))
        {
            Assert.Equal(naiveResults.GetRawText(), optimized.GetProperty("results").GetRawText());
            Assert.Equal(naive.GetProperty("count").GetInt64(), optimized.GetProperty("count").GetInt64());
            Assert.Equal(Unoptimized(naive.GetProperty("next")), Unoptimized(optimized.GetProperty("next")));
            Assert.Equal(Unoptimized(naive.GetProperty("previous")), Unoptimized(optimized.GetProperty("previous")));
        }
        else
        {
            Assert.Equal(naive.GetRawText(), optimized.GetRawText());
        }
        return (naive, optimized, naiveResponse.QueryCount(), optimizedResponse.QueryCount());
    }

    private static string? Unoptimized(JsonElement link) =>
        link.ValueKind == JsonValueKind.Null ? null : link.GetString()!.Replace("optimize=true", "optimize=false", StringComparison.Ordinal);
}
