using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Products;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Reviews;

/// <summary>
/// Review reads: the filters both data paths share, then the two paths of the optimize flag side by side (same
/// records, same JSON). A soft-deleted product takes its reviews out of every list (contract #15).
/// </summary>
public static class ReviewQueries
{
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
    /// Creates a review of a live product (contract #12): the product's name in one query (null → unknown or deleted),
    /// then the INSERT.
    /// </summary>
    public static async Task<ReviewDto?> CreateAsync(ExBuyDb db, CreateReviewRequest request, CancellationToken ct)
    {
        var productId = request.Product!.Value;
        await db.KeepConnectionOpenAsync(ct);
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

    /// <summary>
    /// The naive ORM path: the reviews of live products as the ORM reads them (a join to every review's product), a
    /// tracked page, then each review's product in its own query (DRF's <c>source="product.name"</c> N+1).
    /// </summary>
    public static class Naive
    {
        public static IQueryable<Review> Visible(ExBuyDb db) => db.Reviews.Where(r => r.Product!.DeletedAt == null);

        public static async Task<long?> CountAsync(ExBuyDb db, ReviewListQuery query, CancellationToken ct) =>
            await Visible(db).Filter(query).LongCountAsync(ct);

        /// <summary>The tracked product first (DRF's <c>get_object_or_404</c>), then its review count; null → 404.</summary>
        public static async Task<long?> CountForProductAsync(ExBuyDb db, long productId, CancellationToken ct)
        {
            var product = await db.Live().AsTracking().FirstOrDefaultAsync(p => p.Id == productId, ct);
            if (product is null)
            {
                return null;
            }
            return await db.Entry(product).Collection(p => p.Reviews).Query().LongCountAsync(ct);
        }

        public static Task<List<ReviewDto>> PageAsync(ExBuyDb db, ReviewListQuery query, CancellationToken ct) =>
            PageAsync(db, Visible(db).Filter(query).NewestFirst(), query.Page, ct);

        public static Task<List<ReviewDto>> ProductPageAsync(ExBuyDb db, long productId, PageRequest page, CancellationToken ct) =>
            PageAsync(db, db.Reviews.Where(r => r.ProductId == productId).NewestFirst(), page, ct);

        /// <summary>1 query for the tracked page, then 1 per review for its product.</summary>
        private static async Task<List<ReviewDto>> PageAsync(
            ExBuyDb db, IQueryable<Review> ordered, PageRequest page, CancellationToken ct)
        {
            var reviews = await ordered.AsTracking().Skip(page.Offset).Take(page.Size).ToListAsync(ct);
            return await ToDtosAsync(db, reviews, ct);
        }

        /// <summary>
        /// Each tracked review loads its product with its own query, as Django's <c>review.product</c> does per
        /// instance. <c>Reference(...).LoadAsync()</c> would skip rows whose product the context already tracks
        /// (IsLoaded), which hides the per-row cost for reviews of one product; <c>Query()</c> always goes to the
        /// database and identity resolution still hands back the tracked instance.
        /// </summary>
        internal static async Task<List<ReviewDto>> ToDtosAsync(ExBuyDb db, List<Review> reviews, CancellationToken ct)
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
    }

    /// <summary>
    /// The optimized path (a product's reviews: <see cref="ProductReviewsStatements"/>): no tracking, count and page each one query, shaped so PostgreSQL reads indexes only
    /// (the review indexes carry product_id / rating as INCLUDE columns) and joins products for the page's rows alone.
    /// </summary>
    public static class Optimized
    {
        /// <summary>
        /// The reviews of live products, counted as all matching reviews minus those of deleted products, in one
        /// statement: the first count is an index-only scan, the second a nested loop from the few deleted products
        /// (a partial index) into their reviews. Joining every review to its live product instead costs a hash
        /// probe per review: on 100K reviews 36–49 ms against 8 ms this way.
        /// </summary>
        public static async Task<long?> CountAsync(ExBuyDb db, ReviewListQuery query, CancellationToken ct)
        {
            var matching = db.Reviews.Filter(query);
            var ofDeleted = matching.Where(r => db.Products.Any(p => p.Id == r.ProductId && p.DeletedAt != null));
            // A one-row source to hang both scalar subqueries on: SELECT (…) - (…) FROM (SELECT 1) AS s.
            var row = await db.Database.SqlQuery<int>($"SELECT 1 AS \"Value\"")
                .Select(_ => matching.LongCount() - ofDeleted.LongCount())
                .ToListAsync(ct);
            return row[0];
        }

        /// <summary>
        /// The page's ids first — newest first over the filter's (…, created_at, id) index, skipping reviews of deleted
        /// products with an anti-join that reads product_id from the same index — then those rows joined to their
        /// product's name. With the join in the OFFSET query, every skipped review fetched its heap row and its product.
        /// </summary>
        public static Task<List<ReviewDto>> PageAsync(ExBuyDb db, ReviewListQuery query, CancellationToken ct)
        {
            var visible = db.Reviews.Filter(query)
                .Where(r => !db.Products.Any(p => p.Id == r.ProductId && p.DeletedAt != null));
            return PageAsync(db, visible, query.Page, ct);
        }

        private static Task<List<ReviewDto>> PageAsync(ExBuyDb db, IQueryable<Review> filtered, PageRequest page, CancellationToken ct)
        {
            // Skip/Take on captured locals inside the predicate, so EF parameterises them (see the product page).
            var ordered = filtered.NewestFirst();
            var (offset, size) = (page.Offset, page.Size);
            return db.Reviews.Where(r => ordered.Skip(offset).Take(size).Select(x => x.Id).Contains(r.Id)).NewestFirst()
                .Select(r => new ReviewDto(r.Id, r.ProductId, r.Product!.Name, r.UserId, r.Rating, r.Body, r.CreatedAt))
                .ToListAsync(ct);
        }
    }
}
