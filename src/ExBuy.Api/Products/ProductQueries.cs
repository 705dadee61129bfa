using System.Linq.Expressions;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Reviews;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Products;

/// <summary>
/// Product reads, with the two data paths of the contract's optimize flag side by side. Both return the same records,
/// so the JSON is byte-for-byte the same:
/// <list type="bullet">
/// <item>naive: tracked entities, then per product a review-count and a rating-sum query (DRF's
/// <c>SerializerMethodField</c> N+1); <c>X-Query-Count</c> grows with the page.</item>
/// <item>optimized: no tracking, an inline projection of just the needed columns with the aggregates as subqueries in
/// the same SELECT; a list is COUNT + page, a detail is one round trip.</item>
/// </list>
/// </summary>
public static class ProductQueries
{
    /// <summary>Number of reviews embedded in ProductDetail (contract: Resources).</summary>
    public const int RecentReviews = 10;

    /// <summary>Soft-deleted products are invisible to every read (contract #15); there is no global query filter.</summary>
    public static IQueryable<Product> Live(this ExBuyDb db) => db.Products.Where(p => p.DeletedAt == null);

    /// <summary>
    /// The mean rating rounded to 2 decimals, null without reviews. SUM and COUNT come from SQL on both paths and the
    /// division happens here, so both engines and both paths agree to the last digit.
    /// </summary>
    public static decimal? AverageRating(long sum, long count) =>
        count == 0 ? null : Math.Round((decimal)sum / count, 2, MidpointRounding.AwayFromZero);

    public static IQueryable<Product> Filter(this IQueryable<Product> products, ProductListQuery query)
    {
        if (query.Category is { } category)
        {
            products = products.Where(p => p.Category == category);
        }
        if (query.MinPrice is { } min)
        {
            products = products.Where(p => p.Price >= min);
        }
        if (query.MaxPrice is { } max)
        {
            products = products.Where(p => p.Price <= max);
        }
        return products;
    }

    public static IQueryable<Product> Filter(this IQueryable<Product> products, ExBuyDb db, ProductSearchQuery query)
    {
        if (query.Text is { } text)
        {
            products = products.WhereNameContains(db, text);
        }
        if (query.Category is { } category)
        {
            products = products.Where(p => p.Category == category);
        }
        if (query.InStock is { } inStock)
        {
            products = inStock ? products.Where(p => p.Stock > 0) : products.Where(p => p.Stock == 0);
        }
        return products;
    }

    /// <summary>
    /// The requested order with <c>id</c> in the same direction as tie-breaker, so pages are stable and each ordering
    /// walks its <c>(column, id)</c> index over live rows.
    /// </summary>
    public static IQueryable<Product> Order(this IQueryable<Product> products, string field, bool descending) => field switch
    {
        "name" => By(products, p => p.Name, descending),
        "price" => By(products, p => p.Price, descending),
        "stock" => By(products, p => p.Stock, descending),
        "created_at" => By(products, p => p.CreatedAt, descending),
        _ => descending ? products.OrderByDescending(p => p.Id) : products.OrderBy(p => p.Id),
    };

    private static IQueryable<Product> By<TKey>(IQueryable<Product> products, Expression<Func<Product, TKey>> key, bool descending) =>
        descending
            ? products.OrderByDescending(key).ThenByDescending(p => p.Id)
            : products.OrderBy(key).ThenBy(p => p.Id);

    /// <summary>One page of an ordered product query, by the requested path.</summary>
    public static Task<List<ProductDto>> PageAsync(
        ExBuyDb db, IQueryable<Product> ordered, PageRequest page, bool optimize, CancellationToken ct) =>
        optimize ? PageOptimizedAsync(ordered, page, ct) : PageNaiveAsync(db, ordered, page, ct);

    /// <summary>Naive: 1 query for the tracked page, then 2 per product (review count, rating sum).</summary>
    public static async Task<List<ProductDto>> PageNaiveAsync(
        ExBuyDb db, IQueryable<Product> ordered, PageRequest page, CancellationToken ct)
    {
        var products = await ordered.AsTracking().Skip(page.Offset).Take(page.Size).ToListAsync(ct);
        var results = new List<ProductDto>(products.Count);
        foreach (var product in products)
        {
            var (count, sum) = await RatingsNaiveAsync(db, product, ct);
            results.Add(new ProductDto(product.Id, product.Name, product.Price, product.Stock, product.Category,
                product.CreatedAt, product.UpdatedAt, count, AverageRating(sum, count)));
        }
        return results;
    }

    /// <summary>
    /// Optimized: 1 query, the aggregates as correlated subqueries served by the (product_id, created_at, id) index.
    /// The SQL projects into <see cref="ProductRow"/> (only these columns, never the entity) and the record is built
    /// from it: with <c>new ProductDto(..., count, AverageRating(sum, count))</c> inline, EF would emit the COUNT
    /// subquery twice, once per use.
    /// </summary>
    public static async Task<List<ProductDto>> PageOptimizedAsync(IQueryable<Product> ordered, PageRequest page, CancellationToken ct)
    {
        var rows = await ordered.AsNoTracking().Skip(page.Offset).Take(page.Size)
            .Select(p => new ProductRow(p.Id, p.Name, p.Price, p.Stock, p.Category, p.CreatedAt, p.UpdatedAt,
                p.Reviews.LongCount(), p.Reviews.Sum(r => (long)r.Rating)))
            .ToListAsync(ct);
        return rows.ConvertAll(r => r.ToDto());
    }

    public static Task<ProductDetailDto?> DetailAsync(ExBuyDb db, ProductDetailQuery query, long id, bool optimize, CancellationToken ct) =>
        optimize ? DetailOptimizedAsync(db, query, id, ct) : DetailNaiveAsync(db, id, ct);

    /// <summary>
    /// Naive: the tracked product, its review count, its rating sum, its 10 newest reviews, then each review's product
    /// (4 + reviews queries).
    /// </summary>
    public static async Task<ProductDetailDto?> DetailNaiveAsync(ExBuyDb db, long id, CancellationToken ct)
    {
        var product = await db.Live().AsTracking().FirstOrDefaultAsync(p => p.Id == id, ct);
        if (product is null)
        {
            return null;
        }
        var (count, sum) = await RatingsNaiveAsync(db, product, ct);
        var recent = await db.Entry(product).Collection(p => p.Reviews).Query()
            .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(RecentReviews)
            .AsTracking().ToListAsync(ct);
        var reviews = await ReviewQueries.ToDtosNaiveAsync(db, recent, ct);
        return new ProductDetailDto(product.Id, product.Name, product.Price, product.Stock, product.Category,
            product.CreatedAt, product.UpdatedAt, count, AverageRating(sum, count), reviews);
    }

    /// <summary>
    /// Optimized: one round trip — the product, its aggregates and its 10 newest reviews in one SELECT, through the
    /// host's compiled query (<see cref="ProductDetailQuery"/>).
    /// </summary>
    public static Task<ProductDetailDto?> DetailOptimizedAsync(ExBuyDb db, ProductDetailQuery query, long id, CancellationToken ct) =>
        query.RunAsync(db, id, ct);

    /// <summary>Soft delete (contract #15): one conditional UPDATE; false when the product is unknown or already deleted.</summary>
    public static async Task<bool> SoftDeleteAsync(ExBuyDb db, long id, CancellationToken ct)
    {
        var now = Clock.UtcNow();
        // The version bump makes an in-flight versioned reservation of this product fail its compare-and-swap.
        var rows = await db.Products.Where(p => p.Id == id && p.DeletedAt == null)
            .ExecuteUpdateAsync(s => s
                .SetProperty(p => p.DeletedAt, now)
                .SetProperty(p => p.UpdatedAt, now)
                .SetProperty(p => p.Version, p => p.Version + 1), ct);
        return rows > 0;
    }

    /// <summary>DRF's per-row <c>review_count</c> and <c>avg_rating</c> methods: two queries for one product.</summary>
    private static async Task<(long Count, long Sum)> RatingsNaiveAsync(ExBuyDb db, Product product, CancellationToken ct)
    {
        var reviews = db.Entry(product).Collection(p => p.Reviews).Query();
        var count = await reviews.LongCountAsync(ct);
        var sum = await reviews.SumAsync(r => (long)r.Rating, ct);
        return (count, sum);
    }

    /// <summary>A product as the optimized SQL returns it: its columns and the two aggregates, each computed once.</summary>
    internal sealed record ProductRow(
        long Id, string Name, decimal Price, int Stock, string Category, DateTime CreatedAt, DateTime UpdatedAt,
        long ReviewCount, long RatingSum)
    {
        public ProductDto ToDto() =>
            new(Id, Name, Price, Stock, Category, CreatedAt, UpdatedAt, ReviewCount, AverageRating(RatingSum, ReviewCount));
    }
}
