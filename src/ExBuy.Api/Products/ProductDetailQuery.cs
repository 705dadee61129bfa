using ExBuy.Api.Data;
using Microsoft.EntityFrameworkCore;
using static ExBuy.Api.Products.ProductQueries;

namespace ExBuy.Api.Products;

/// <summary>
/// The optimized product detail (contract #3, the endpoint load tests hit most) as a compiled query: EF skips the
/// per-request expression-tree cache lookup and parameter extraction. A compiled query binds to the first model it
/// runs against (EF CompiledQueryBase), so it lives in a per-host singleton, not a static field (CONVENTIONS §7).
/// <para>One round trip: the aggregates filter on the id parameter, so they are uncorrelated and run once (PostgreSQL
/// InitPlan, SQLite "SCALAR SUBQUERY") instead of once per joined review row. The reviews go through the navigation
/// (EF emits a ROW_NUMBER() join; a LIMIT subquery would need APPLY/LATERAL, which SQLite lacks) with the same id
/// filter repeated inside, so SQLite searches the index for this product instead of numbering every review.</para>
/// </summary>
public sealed class ProductDetailQuery
{
    private readonly Func<ExBuyDb, long, CancellationToken, Task<DetailRow?>> _query = EF.CompileAsyncQuery(
        (ExBuyDb db, long id, CancellationToken ct) => db.Products
            .Where(p => p.DeletedAt == null && p.Id == id)
            .Select(p => new DetailRow(
                new ProductRow(p.Id, p.Name, p.Price, p.Stock, p.Category, p.CreatedAt, p.UpdatedAt,
                    db.Reviews.Where(r => r.ProductId == id).LongCount(),
                    db.Reviews.Where(r => r.ProductId == id).Sum(r => (long)r.Rating)),
                p.Reviews.Where(r => r.ProductId == id)
                    .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(RecentReviews)
                    .Select(r => new RecentReviewRow(r.Id, r.UserId, r.Rating, r.Body, r.CreatedAt))
                    .ToList()))
            .FirstOrDefault());

    internal Task<DetailRow?> RunAsync(ExBuyDb db, long id, CancellationToken ct) => _query(db, id, ct);
}
