using System.Net;
using System.Text.Json;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Products;

/// <summary>GET /api/products/{id} (contract #3) and GET /api/products/{id}/reviews (contract #4).</summary>
public abstract class ProductDetailTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task DetailWithoutReviewsIsTheExactContractShape()
    {
        var category = Arrange.NewCategory();
        var product = await App.AddProductAsync(category, "lonely lamp", price: 1234.5m, stock: 0,
            createdAt: Arrange.BaseTime, updatedAt: Arrange.BaseTime.AddMinutes(1));

        var (naive, _, _, _) = await Client.BothPathsAsync($"/api/products/{product.Id}", Ct);

        Assert.Equal(
            $$"""{"id":{{product.Id}},"name":"lonely lamp","price":1234.50,"stock":0,"category":"{{category}}","created_at":"2026-03-04T05:06:07.890Z","updated_at":"2026-03-04T05:07:07.890Z","review_count":0,"avg_rating":null,"recent_reviews":[]}""",
            naive.GetRawText());
    }

    [Fact]
    public async Task DetailCarriesTheTenNewestReviewsNewestFirstWithIdBreakingTies()
    {
        var product = await App.AddProductAsync(name: "busy blender");
        // 12 reviews; reviews 0..3 share one timestamp so id DESC decides among them.
        var reviews = await App.AddReviewsAsync(product.Id, [1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 5, 5],
            createdAt: i => i < 4 ? Arrange.BaseTime.AddHours(1) : Arrange.BaseTime.AddSeconds(i));
        var expected = reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(10).ToList();

        var (detail, _, _, _) = await Client.BothPathsAsync($"/api/products/{product.Id}", Ct);

        Assert.Equal(12, detail.GetProperty("review_count").GetInt64());
        Assert.Equal("3.33", detail.GetProperty("avg_rating").GetRawText()); // 40 / 12
        var recent = detail.GetProperty("recent_reviews").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(r => r.Id), recent.Select(r => r.GetProperty("id").GetInt64()));
        var first = expected[0];
        Assert.Equal(
            $$"""{"id":{{first.Id}},"product":{{product.Id}},"product_name":"busy blender","user_id":7,"rating":{{first.Rating}},"body":"{{first.Body}}","created_at":"2026-03-04T06:06:07.890Z"}""",
            recent[0].GetRawText());
    }

    [Fact]
    public async Task DetailQueryCountIsOneOptimizedAndGrowsWithReviewsNaive()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [.. Enumerable.Repeat(4, 15)]);
        var bare = await App.AddProductAsync();

        var busy = await Client.BothPathsAsync($"/api/products/{product.Id}", Ct);
        var quiet = await Client.BothPathsAsync($"/api/products/{bare.Id}", Ct);

        Assert.Equal(1, busy.OptimizedQueries);
        Assert.Equal(1, quiet.OptimizedQueries);
        // Product, review count, rating sum, the 10 newest reviews, then each review's product.
        Assert.Equal(4 + 10, busy.NaiveQueries);
        Assert.Equal(4, quiet.NaiveQueries);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    [InlineData("9223372036854775807")]
    [InlineData("1%27%20OR%201=1")]
    public async Task BadOrUnknownIdIs404Problem(string id)
    {
        foreach (var path in new[] { $"/api/products/{id}", $"/api/products/{id}/reviews" })
        {
            var response = await Client.GetAsync(path, Ct);
            await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task DeletedProductIs404OnBothPaths()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [5]);
        await App.SoftDeleteAsync(product.Id);

        foreach (var optimize in new[] { "false", "true" })
        {
            await (await Client.GetAsync($"/api/products/{product.Id}?optimize={optimize}", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
            await (await Client.GetAsync($"/api/products/{product.Id}/reviews?optimize={optimize}", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
        }
    }

    [Theory]
    [InlineData("optimize=maybe")]
    [InlineData("optimize=")]
    [InlineData("optimize=1&optimize=0")]
    public async Task BadOptimizeFlagOnDetailIs400(string query)
    {
        var product = await App.AddProductAsync();
        var response = await Client.GetAsync($"/api/products/{product.Id}?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "optimize");
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task ProductReviewsAreNewestFirstPaginatedAndOnlyThisProducts()
    {
        var product = await App.AddProductAsync(name: "reviewed radio");
        var other = await App.AddProductAsync();
        var reviews = await App.AddReviewsAsync(product.Id, [.. Enumerable.Range(0, 25).Select(i => 1 + i % 5)],
            createdAt: i => Arrange.BaseTime.AddMinutes(i % 7));
        await App.AddReviewsAsync(other.Id, [1, 2, 3]);
        var expected = reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Select(r => r.Id).ToArray();
        var url = $"/api/products/{product.Id}/reviews?page_size=10";

        var page1 = await Client.BothPathsAsync(url, Ct);
        var page3 = await Client.BothPathsAsync(url + "&page=3", Ct);

        Assert.Equal(25, page1.Naive.GetProperty("count").GetInt64());
        Assert.Equal(expected[..10], page1.Naive.Ids());
        Assert.Equal(expected[20..], page3.Naive.Ids());
        Assert.Equal($"http://localhost/api/products/{product.Id}/reviews?page=2&page_size=10&optimize=false",
            page1.Naive.GetProperty("next").GetString());
        Assert.Equal($"http://localhost/api/products/{product.Id}/reviews?page=2&page_size=10&optimize=true",
            page1.Optimized.GetProperty("next").GetString());
        Assert.Equal(JsonValueKind.Null, page3.Naive.GetProperty("next").ValueKind);
        Assert.All(page1.Naive.GetProperty("results").EnumerateArray(), r =>
        {
            Assert.Equal(product.Id, r.GetProperty("product").GetInt64());
            Assert.Equal("reviewed radio", r.GetProperty("product_name").GetString());
        });
    }

    [Fact]
    public async Task ProductReviewsQueryCountIsTwoOptimizedAndGrowsWithThePageNaive()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [.. Enumerable.Repeat(3, 30)]);

        var small = await Client.BothPathsAsync($"/api/products/{product.Id}/reviews?page_size=5", Ct);
        var large = await Client.BothPathsAsync($"/api/products/{product.Id}/reviews?page_size=30", Ct);

        // Product lookup, COUNT, page, then each review's product.
        Assert.Equal(3 + 5, small.NaiveQueries);
        Assert.Equal(3 + 30, large.NaiveQueries);
        Assert.Equal(2, small.OptimizedQueries);
        Assert.Equal(2, large.OptimizedQueries);
    }

    [Fact]
    public async Task ProductWithoutReviewsHasAnEmptyFirstPageAndA404SecondPage()
    {
        var product = await App.AddProductAsync();

        var (first, _, _, _) = await Client.BothPathsAsync($"/api/products/{product.Id}/reviews", Ct);
        Assert.Equal("""{"count":0,"next":null,"previous":null,"results":[]}""", first.GetRawText());

        var second = await Client.GetAsync($"/api/products/{product.Id}/reviews?page=2&optimize=true", Ct);
        await second.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, second.QueryCount());
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page_size=101", "page_size")]
    [InlineData("page_size=-1", "page_size")]
    [InlineData("page_size=99999999999999999999", "page_size")]
    [InlineData("optimize=nope", "optimize")]
    public async Task ProductReviewsParameterAbuseIs400(string query, string field)
    {
        var product = await App.AddProductAsync();
        var response = await Client.GetAsync($"/api/products/{product.Id}/reviews?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
    }
}

public sealed class ProductDetailSqliteTests(SqliteApp app) : ProductDetailTests(app), IClassFixture<SqliteApp>;

public sealed class ProductDetailPostgresTests(PostgresApp app) : ProductDetailTests(app), IClassFixture<PostgresApp>;
