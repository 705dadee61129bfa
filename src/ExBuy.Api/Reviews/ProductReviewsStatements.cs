using ExBuy.Api.Data;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Reviews;

/// <summary>
/// The optimized <c>GET /api/products/{id}/reviews</c> (a fixed shape: product id, offset, size) as two compiled
/// queries in a per-host singleton (a compiled query binds to the first model it runs against; the tests run SQLite
/// and PostgreSQL hosts in one process). EF then skips the per-request work of a LINQ query — building the expression
/// tree, extracting its parameters and looking it up in the query cache — which measured about 300 µs of server CPU
/// per request against the raw-Npgsql handler running the same SQL.
/// </summary>
public sealed class ProductReviewsStatements
{
    private readonly Func<ExBuyDb, long, Task<long?>> _count = EF.CompileAsyncQuery(
        (ExBuyDb db, long productId) => db.Products
            .Where(p => p.DeletedAt == null && p.Id == productId)
            .Select(p => (long?)p.Reviews.LongCount())
            .FirstOrDefault());

    private readonly Func<ExBuyDb, long, int, int, IAsyncEnumerable<ReviewDto>> _page = EF.CompileAsyncQuery(
        (ExBuyDb db, long productId, int offset, int size) => db.Reviews
            .Where(r => db.Reviews.Where(x => x.ProductId == productId)
                .OrderByDescending(x => x.CreatedAt).ThenByDescending(x => x.Id)
                .Skip(offset).Take(size).Select(x => x.Id).Contains(r.Id))
            .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => new ReviewDto(r.Id, r.ProductId, r.Product!.Name, r.UserId, r.Rating, r.Body, r.CreatedAt)));

    /// <summary>The review count of a live product, null when it is unknown or deleted (404).</summary>
    public Task<long?> CountAsync(ExBuyDb db, long productId, CancellationToken ct) => _count(db, productId);

    public async Task<List<ReviewDto>> PageAsync(ExBuyDb db, long productId, Common.PageRequest page, CancellationToken ct)
    {
        var results = new List<ReviewDto>(page.Size);
        await foreach (var review in _page(db, productId, page.Offset, page.Size).WithCancellation(ct))
        {
            results.Add(review);
        }
        return results;
    }
}
