using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Products;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Reviews;

/// <summary>
/// Review reads, with the two data paths of the optimize flag side by side (same records, same JSON):
/// naive = tracked page, then each review's product in its own query (DRF's <c>source="product.name"</c> N+1);
/// optimized = no tracking, the product name joined into an inline projection; a list is COUNT + page.
/// </summary>
public static class ReviewQueries
{
    /// <summary>Reviews of live products only: a soft-deleted product takes its reviews out of every list (contract #15).</summary>
    public static IQueryable<Review> Visible(this ExBuyDb db) => db.Reviews.Where(r => r.Product!.DeletedAt == null);

    public static IQueryable<Review> Filter(this IQueryable<Review> reviews, ReviewListQuery query)
    {
        if (query.ProductId is { } productId)
        {
            reviews = reviews.Where(r => r.ProductId == productId);
        }
        if (query.UserId is { } userId)
        {
            reviews = reviews.Where(r => r.UserId == userId);
        }
        if (query.Rating is { } rating)
        {
            reviews = reviews.Where(r => r.Rating == rating);
        }
        return reviews;
    }

    /// <summary>Newest first = created_at DESC, id DESC (contract: Resources).</summary>
    public static IQueryable<Review> NewestFirst(this IQueryable<Review> reviews) =>
        reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id);

    /// <summary>
    /// Review count of a live product in one query, or null when the product is unknown or deleted (404), so the
    /// optimized <c>GET /api/products/{id}/reviews</c> is 2 queries. The naive path fetches the tracked product first
    /// (DRF's <c>get_object_or_404</c>) and counts separately.
    /// </summary>
    public static async Task<long?> CountForProductAsync(ExBuyDb db, long productId, bool optimize, CancellationToken ct)
    {
        if (optimize)
        {
            return await db.Live().Where(p => p.Id == productId)
                .Select(p => (long?)p.Reviews.LongCount())
                .FirstOrDefaultAsync(ct);
        }
        var product = await db.Live().AsTracking().FirstOrDefaultAsync(p => p.Id == productId, ct);
        if (product is null)
        {
            return null;
        }
        return await db.Entry(product).Collection(p => p.Reviews).Query().LongCountAsync(ct);
    }

    public static Task<List<ReviewDto>> PageAsync(
        ExBuyDb db, IQueryable<Review> ordered, PageRequest page, bool optimize, CancellationToken ct) =>
        optimize ? PageOptimizedAsync(ordered, page, ct) : PageNaiveAsync(db, ordered, page, ct);

    /// <summary>Naive: 1 query for the tracked page, then 1 per review for its product.</summary>
    public static async Task<List<ReviewDto>> PageNaiveAsync(
        ExBuyDb db, IQueryable<Review> ordered, PageRequest page, CancellationToken ct)
    {
        var reviews = await ordered.AsTracking().Skip(page.Offset).Take(page.Size).ToListAsync(ct);
        return await ToDtosNaiveAsync(db, reviews, ct);
    }

    /// <summary>Optimized: 1 query, the product name joined in and projected straight into the record.</summary>
    public static async Task<List<ReviewDto>> PageOptimizedAsync(IQueryable<Review> ordered, PageRequest page, CancellationToken ct) =>
        await ordered.AsNoTracking().Skip(page.Offset).Take(page.Size)
            .Select(r => new ReviewDto(r.Id, r.ProductId, r.Product!.Name, r.UserId, r.Rating, r.Body, r.CreatedAt))
            .ToListAsync(ct);

    /// <summary>
    /// Each tracked review loads its product with its own query, as Django's <c>review.product</c> does per instance.
    /// <c>Reference(...).LoadAsync()</c> would skip rows whose product the context already tracks (IsLoaded), which
    /// hides the per-row cost for reviews of one product; <c>Query()</c> always goes to the database and identity
    /// resolution still hands back the tracked instance.
    /// </summary>
    internal static async Task<List<ReviewDto>> ToDtosNaiveAsync(ExBuyDb db, List<Review> reviews, CancellationToken ct)
    {
        var results = new List<ReviewDto>(reviews.Count);
        foreach (var review in reviews)
        {
            var product = await db.Entry(review).Reference(r => r.Product).Query().AsTracking().SingleAsync(ct);
            results.Add(new ReviewDto(review.Id, review.ProductId, product.Name, review.UserId, review.Rating,
                review.Body, review.CreatedAt));
        }
        return results;
    }

    /// <summary>
    /// Creates a review of a live product (contract #12): the product's name in one query (null → unknown or deleted),
    /// then the INSERT.
    /// </summary>
    public static async Task<ReviewDto?> CreateAsync(ExBuyDb db, CreateReviewRequest request, CancellationToken ct)
    {
        var productId = request.Product!.Value;
        var productName = await db.Live().Where(p => p.Id == productId).Select(p => p.Name).FirstOrDefaultAsync(ct);
        if (productName is null)
        {
            return null;
        }
        var review = new Review
        {
            ProductId = productId,
            UserId = request.UserId!.Value,
            Rating = request.Rating!.Value,
            Body = request.Body!,
            CreatedAt = Clock.UtcNow(),
        };
        db.Reviews.Add(review);
        await db.SaveChangesAsync(ct);
        return new ReviewDto(review.Id, review.ProductId, productName, review.UserId, review.Rating, review.Body, review.CreatedAt);
    }
}
