using System.Net;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Reviews;

/// <summary>
/// Review pages with the reviews of a deleted product interleaved in time: the optimized path counts all matching
/// reviews minus those of deleted products, and takes a page's ids with an anti-join before joining the names, so
/// every count and every page must equal what the naive join finds.
/// </summary>
public abstract class ReviewPagingTests(ExBuyApp app) : EngineTests(app)
{
    private const int PageSize = 3;

    [Theory]
    [InlineData("")]
    [InlineData("&rating=4")]
    [InlineData("&rating=2")]
    public async Task CountsAndEveryPageLeaveOutDeletedProductsOnBothPaths(string filter)
    {
        var user = Arrange.NewUserId();
        var products = await App.AddProductsAsync(3);
        var t = Arrange.BaseTime;
        // 3 × 8 reviews, each product's interleaved with the others' (created at 3k + product index seconds).
        var reviews = new List<Review>();
        for (var i = 0; i < products.Count; i++)
        {
            var index = i;
            reviews.AddRange(await App.AddReviewsAsync(products[i].Id, Enumerable.Range(0, 8).Select(k => 1 + (k + index) % 5),
                user, k => t.AddSeconds(3 * k + index)));
        }
        await App.SoftDeleteAsync(products[1].Id);

        var rating = filter.Length == 0 ? (int?)null : int.Parse(filter[(filter.IndexOf('=') + 1)..]);
        var expected = reviews
            .Where(r => r.ProductId != products[1].Id && (rating is null || r.Rating == rating))
            .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => r.Id).ToArray();
        Assert.NotEmpty(expected);

        var url = $"/api/reviews?user_id={user}{filter}&page_size={PageSize}";
        var pages = (expected.Length + PageSize - 1) / PageSize;
        for (var page = 1; page <= pages; page++)
        {
            var (naive, _, _, optimizedQueries) = await Client.BothPathsAsync($"{url}&page={page}", Ct);
            Assert.Equal(expected.Length, naive.GetProperty("count").GetInt64());
            Assert.Equal(expected.Skip((page - 1) * PageSize).Take(PageSize), naive.Ids());
            Assert.Equal(2, optimizedQueries);
        }
        await (await Client.GetAsync($"{url}&page={pages + 1}&optimize=true", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeletingAProductTakesItsReviewsOutOfTheUnfilteredCount()
    {
        var (before, _, _, _) = await Client.BothPathsAsync("/api/reviews?page_size=1", Ct);
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [5, 4, 3]);
        var (added, _, _, _) = await Client.BothPathsAsync("/api/reviews?page_size=1", Ct);
        await App.SoftDeleteAsync(product.Id);
        var (after, _, _, _) = await Client.BothPathsAsync("/api/reviews?page_size=1", Ct);

        // Other test classes use other databases; within this class tests run one after another.
        Assert.Equal(before.GetProperty("count").GetInt64() + 3, added.GetProperty("count").GetInt64());
        Assert.Equal(before.GetProperty("count").GetInt64(), after.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task ProductReviewPagesAreTheSameOnBothPaths()
    {
        var product = await App.AddProductAsync();
        var reviews = await App.AddReviewsAsync(product.Id, Enumerable.Range(0, 11).Select(k => 1 + k % 5),
            createdAt: k => Arrange.BaseTime.AddSeconds(k / 2)); // pairs share a timestamp: id breaks the tie
        var expected = reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Select(r => r.Id).ToArray();
        for (var page = 1; page <= 4; page++)
        {
            var (naive, _, _, optimizedQueries) = await Client.BothPathsAsync(
                $"/api/products/{product.Id}/reviews?page_size={PageSize}&page={page}", Ct);
            Assert.Equal(expected.Skip((page - 1) * PageSize).Take(PageSize), naive.Ids());
            Assert.Equal(2, optimizedQueries);
        }
    }
}

public sealed class ReviewPagingSqliteTests(SqliteApp app) : ReviewPagingTests(app), IClassFixture<SqliteApp>;

public sealed class ReviewPagingPostgresTests(PostgresApp app) : ReviewPagingTests(app), IClassFixture<PostgresApp>;
