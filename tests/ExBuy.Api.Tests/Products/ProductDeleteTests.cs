using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Products;

/// <summary>DELETE /api/products/{id} (contract #15): soft delete and its visibility everywhere.</summary>
public abstract class ProductDeleteTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task DeleteIsOneConditionalUpdateThatKeepsTheRow()
    {
        var product = await App.AddProductAsync();
        var before = DateTime.UtcNow.AddSeconds(-1);

        var response = await Client.DeleteAsync($"/api/products/{product.Id}", Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(1, response.QueryCount());
        var row = await App.ReadProductAsync(product.Id);
        Assert.NotNull(row.DeletedAt);
        Assert.True(row.DeletedAt > before);
        Assert.Equal(row.DeletedAt, row.UpdatedAt);
        Assert.Equal(product.Version + 1, row.Version);
        Assert.Equal(product.Name, row.Name);
        Assert.Equal(product.Stock, row.Stock);
    }

    [Fact]
    public async Task DeletingAgainIs404AndChangesNothing()
    {
        var product = await App.AddProductAsync();
        (await Client.DeleteAsync($"/api/products/{product.Id}", Ct)).EnsureSuccessStatusCode();
        var first = await App.ReadProductAsync(product.Id);

        var again = await Client.DeleteAsync($"/api/products/{product.Id}", Ct);

        await again.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, again.QueryCount());
        var second = await App.ReadProductAsync(product.Id);
        Assert.Equal(first.DeletedAt, second.DeletedAt);
        Assert.Equal(first.Version, second.Version);
    }

    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("abc")]
    [InlineData("99999999999999999999")]
    public async Task DeletingAnUnknownOrMalformedIdIs404(string id)
    {
        var response = await Client.DeleteAsync($"/api/products/{id}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeletedProductDisappearsEverywhereButItsRowsStay()
    {
        var token = "gone" + Guid.NewGuid().ToString("N")[..10];
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(Arrange.NewProduct(category, token + " kept"), Arrange.NewProduct(category, token + " gone"));
        var (kept, gone) = (products[0], products[1]);
        var userId = Arrange.NewUserId();
        await App.AddReviewsAsync(kept.Id, [4], userId);
        await App.AddReviewsAsync(gone.Id, [1, 2], userId);

        (await Client.DeleteAsync($"/api/products/{gone.Id}", Ct)).EnsureSuccessStatusCode();

        foreach (var optimize in new[] { "false", "true" })
        {
            await (await Client.GetAsync($"/api/products/{gone.Id}?optimize={optimize}", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
            await (await Client.GetAsync($"/api/products/{gone.Id}/reviews?optimize={optimize}", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
            var list = await (await Client.GetAsync($"/api/products?category={category}&optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal([kept.Id], list.Ids());
            var search = await (await Client.GetAsync($"/api/search/products?q={token}&optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal([kept.Id], search.Ids());
            var reviews = await (await Client.GetAsync($"/api/reviews?user_id={userId}&optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(1, reviews.GetProperty("count").GetInt64());
            Assert.All(reviews.GetProperty("results").EnumerateArray(), r => Assert.Equal(kept.Id, r.GetProperty("product").GetInt64()));
            var byProduct = await (await Client.GetAsync($"/api/reviews?product_id={gone.Id}&optimize={optimize}", Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(0, byProduct.GetProperty("count").GetInt64());
        }

        var review = await Client.PostJsonAsync("/api/reviews", $$"""{"product":{{gone.Id}},"user_id":1,"rating":5,"body":"too late"}""");
        await review.ExpectProblemAsync(HttpStatusCode.BadRequest, "product");
        Assert.Equal(2, await App.ReviewCountAsync(gone.Id));
        Assert.True(await App.WithDbAsync(db => db.Products.AnyAsync(p => p.Id == gone.Id)));
    }
}

public sealed class ProductDeleteSqliteTests(SqliteApp app) : ProductDeleteTests(app), IClassFixture<SqliteApp>;

public sealed class ProductDeletePostgresTests(PostgresApp app) : ProductDeleteTests(app), IClassFixture<PostgresApp>;
