using System.Net;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Products;

/// <summary>
/// Every page of every ordering, with deleted products interleaved: the optimized path takes the page's ids first and
/// aggregates only those rows, so each page must hold exactly the rows, and the ratings, the naive path finds.
/// </summary>
public abstract class ProductPagingTests(ExBuyApp app) : EngineTests(app)
{
    private const int PageSize = 4;

    /// <summary>14 products with ties on every field, 4 of them deleted, reviews on most; returns the live ones.</summary>
    private async Task<(string Category, List<Product> Live)> ArrangeAsync()
    {
        var category = Arrange.NewCategory();
        var t = Arrange.BaseTime;
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 14).Select(i => Arrange.NewProduct(category,
            name: "name " + (char)('a' + i % 5), price: 10.00m + i % 4, stock: i % 3, createdAt: t.AddSeconds(i % 6)))]);
        for (var i = 0; i < products.Count; i++)
        {
            await App.AddReviewsAsync(products[i].Id, Enumerable.Range(0, i % 4).Select(k => 1 + (i + k) % 5));
        }
        foreach (var i in new[] { 1, 6, 7, 12 })
        {
            await App.SoftDeleteAsync(products[i].Id);
        }
        return (category, [.. products.Where((_, i) => i is not (1 or 6 or 7 or 12))]);
    }

    public static TheoryData<string> Orderings() =>
        ["id", "-id", "name", "-name", "price", "-price", "stock", "-stock", "created_at", "-created_at"];

    [Theory]
    [MemberData(nameof(Orderings))]
    public async Task EveryPageOfEveryOrderingIsTheSameOnBothPaths(string ordering)
    {
        var (category, live) = await ArrangeAsync();
        var descending = ordering.StartsWith('-');
        Func<Product, IComparable> key = ordering.TrimStart('-') switch
        {
            "name" => p => p.Name,
            "price" => p => p.Price,
            "stock" => p => p.Stock,
            "created_at" => p => p.CreatedAt,
            _ => p => p.Id,
        };
        var expected = (descending
            ? live.OrderByDescending(key).ThenByDescending(p => p.Id)
            : live.OrderBy(key).ThenBy(p => p.Id)).Select(p => p.Id).ToArray();

        var pages = (expected.Length + PageSize - 1) / PageSize;
        for (var page = 1; page <= pages; page++)
        {
            var (naive, _, _, optimizedQueries) = await Client.BothPathsAsync(
                $"/api/products?category={category}&ordering={ordering}&page_size={PageSize}&page={page}", Ct);
            Assert.Equal(expected.Skip((page - 1) * PageSize).Take(PageSize), naive.Ids());
            Assert.Equal(expected.Length, naive.GetProperty("count").GetInt64());
            Assert.Equal(2, optimizedQueries);
        }
        foreach (var optimize in new[] { "false", "true" })
        {
            var past = await Client.GetAsync(
                $"/api/products?category={category}&ordering={ordering}&page_size={PageSize}&page={pages + 1}&optimize={optimize}", Ct);
            await past.ExpectProblemAsync(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task SearchPagesAreTheSameOnBothPaths()
    {
        var (category, live) = await ArrangeAsync();
        foreach (var filter in new[] { "", "&in_stock=true", "&in_stock=false", "&q=NAME%20B" })
        {
            var url = $"/api/search/products?category={category}{filter}&page_size={PageSize}";
            var (first, _, _, _) = await Client.BothPathsAsync(url, Ct);
            var count = first.GetProperty("count").GetInt64();
            var seen = new List<long>(first.Ids());
            for (var page = 2; (page - 1) * PageSize < count; page++)
            {
                var (naive, _, _, _) = await Client.BothPathsAsync($"{url}&page={page}", Ct);
                seen.AddRange(naive.Ids());
            }
            var expected = live.Where(p => filter switch
            {
                "&in_stock=true" => p.Stock > 0,
                "&in_stock=false" => p.Stock == 0,
                "&q=NAME%20B" => p.Name == "name b",
                _ => true,
            }).Select(p => p.Id).Order();
            Assert.Equal(expected, seen);
        }
    }
}

public sealed class ProductPagingSqliteTests(SqliteApp app) : ProductPagingTests(app), IClassFixture<SqliteApp>;

public sealed class ProductPagingPostgresTests(PostgresApp app) : ProductPagingTests(app), IClassFixture<PostgresApp>;
