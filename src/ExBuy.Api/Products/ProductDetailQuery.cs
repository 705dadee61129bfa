using ExBuy.Api.Data;
using ExBuy.Api.Reviews;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Products;

/// <summary>
/// The optimized product detail (contract #3, the endpoint load tests hit most) as a compiled query: EF skips the
/// per-request expression-tree cache lookup and parameter extraction. A compiled query binds to the first model it
/// runs against (EF CompiledQueryBase), so it lives in a per-host singleton, not a static field (our tests run SQLite and PostgreSQL hosts in one process).
/// <para>One round trip, flat rows: the product LEFT JOINed to its 10 newest reviews (an uncorrelated
/// <c>ORDER BY created_at DESC, id DESC LIMIT 10</c> subquery on the id parameter, so both engines walk the
/// (product_id, created_at, id) index and stop after 10 rows), with the review count and rating sum as uncorrelated
/// scalar subqueries that run once. Flat rows rather than a nested collection projection: EF's collection shaper
/// compiles closures per execution (a DynamicMethod.CreateDelegate per request in a CPU profile of bench/compare.sh).</para>
/// </summary>
public sealed class ProductDetailQuery
{
    private readonly Func<ExBuyDb, long, IAsyncEnumerable<Row>> _query = EF.CompileAsyncQuery(
        (ExBuyDb db, long id) =>
            from p in db.Products
            where p.DeletedAt == null && p.Id == id
            from r in db.Reviews.Where(r => r.ProductId == id)
                .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(ProductDetailDto.RecentReviewCount)
                .DefaultIfEmpty()
            orderby r.CreatedAt descending, r.Id descending
            select new Row(p.Id, p.Name, p.Price, p.Stock, p.Category, p.CreatedAt, p.UpdatedAt,
                db.Reviews.Where(c => c.ProductId == id).LongCount(),
                db.Reviews.Where(c => c.ProductId == id).Sum(c => (long)c.Rating),
                (long?)r.Id, (long?)r.UserId, (int?)r.Rating, r.Body, (DateTime?)r.CreatedAt));

    public async Task<ProductDetailDto?> RunAsync(ExBuyDb db, long id, CancellationToken ct)
    {
        Row? first = null;
        var reviews = new List<ReviewDto>(ProductDetailDto.RecentReviewCount);
        await foreach (var row in _query(db, id).WithCancellation(ct))
        {
            first ??= row;
            if (row.ReviewId is { } reviewId)
            {
                reviews.Add(new ReviewDto(reviewId, row.Id, row.Name, row.UserId!.Value, row.Rating!.Value, row.Body!,
                    row.ReviewCreatedAt!.Value));
            }
        }
        return first is not { } p
            ? null
            : new ProductDetailDto(p.Id, p.Name, p.Price, p.Stock, p.Category, p.CreatedAt, p.UpdatedAt,
                p.ReviewCount, Ratings.Average(p.RatingSum, p.ReviewCount), reviews);
    }

    /// <summary>One product column set per review row (once, with null review columns, when it has none).</summary>
    private sealed record Row(
        long Id, string Name, decimal Price, int Stock, string Category, DateTime CreatedAt, DateTime UpdatedAt,
        long ReviewCount, long RatingSum,
        long? ReviewId, long? UserId, int? Rating, string? Body, DateTime? ReviewCreatedAt);
}
