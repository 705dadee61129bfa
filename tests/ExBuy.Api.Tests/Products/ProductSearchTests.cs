using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Products;

/// <summary>GET /api/search/products (contract #5).</summary>
public abstract class ProductSearchTests(ExBuyApp app) : EngineTests(app)
{
    private static string Token() => "tok" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task QIsACaseInsensitiveSubstringOfTheNameOrderedById()
    {
        var token = Token();
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(
            Arrange.NewProduct(category, $"Alpha {token} Widget"),
            Arrange.NewProduct(category, $"beta {token.ToUpperInvariant()} gadget"),
            Arrange.NewProduct(category, $"gamma {token[..^1]} thing"),
            Arrange.NewProduct(category, $"{token}"));

        var (body, _, _, _) = await Client.BothPathsAsync($"/api/search/products?q={token.ToUpperInvariant()[..5]}{token[5..]}", Ct);

        Assert.Equal([products[0].Id, products[1].Id, products[3].Id], body.Ids());
    }

    [Theory]
    [InlineData("%", "100% cotton")]
    [InlineData("_", "snake_case")]
    [InlineData("\\", "back\\slash")]
    [InlineData("\\%", "odd\\%mix")]
    [InlineData("'", "o'brien")]
    public async Task LikeWildcardsAndTheEscapeCharacterMatchLiterally(string q, string matchingName)
    {
        var category = Arrange.NewCategory();
        var names = new[] { "100% cotton", "100 cotton", "snake_case", "snakeXcase", "back\\slash", "odd\\%mix", "o'brien", "plain" };
        var products = await App.AddProductsAsync([.. names.Select(n => Arrange.NewProduct(category, n))]);

        var body = await (await Client.GetAsync(
            $"/api/search/products?category={category}&q={Uri.EscapeDataString(q)}", Ct)).ExpectAsync(HttpStatusCode.OK);

        var expected = products.Where(p => p.Name.Contains(q, StringComparison.Ordinal)).Select(p => p.Id).ToArray();
        Assert.Contains(products.Single(p => p.Name == matchingName).Id, expected);
        Assert.Equal(expected, body.Ids());
    }

    [Fact]
    public async Task EmptyOrAbsentQIsNoTextFilter()
    {
        var category = Arrange.NewCategory();
        await App.AddProductsAsync(Arrange.NewProduct(category, "one"), Arrange.NewProduct(category, "two"));

        foreach (var url in new[] { $"/api/search/products?category={category}", $"/api/search/products?category={category}&q=" })
        {
            var body = await (await Client.GetAsync(url, Ct)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(2, body.GetProperty("count").GetInt64());
        }
    }

    [Fact]
    public async Task QOfHundredCharactersIsFineAndLongerIs400()
    {
        var ok = await Client.GetAsync($"/api/search/products?q={new string('a', 100)}", Ct);
        await ok.ExpectAsync(HttpStatusCode.OK);

        var tooLong = await Client.GetAsync($"/api/search/products?q={new string('a', 101)}", Ct);
        await tooLong.ExpectProblemAsync(HttpStatusCode.BadRequest, "q");
        Assert.Equal(0, tooLong.QueryCount());

        var huge = await Client.GetAsync($"/api/search/products?q={new string('x', 5000)}", Ct);
        await huge.ExpectProblemAsync(HttpStatusCode.BadRequest, "q");
    }

    [Theory]
    [InlineData("true", new[] { 1, 2 })]
    [InlineData("1", new[] { 1, 2 })]
    [InlineData("TRUE", new[] { 1, 2 })]
    [InlineData("false", new[] { 0 })]
    [InlineData("0", new[] { 0 })]
    public async Task InStockFiltersOnStock(string inStock, int[] expectedIndexes)
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(
            Arrange.NewProduct(category, stock: 0), Arrange.NewProduct(category, stock: 1), Arrange.NewProduct(category, stock: 50));

        var (body, _, _, _) = await Client.BothPathsAsync($"/api/search/products?category={category}&in_stock={inStock}", Ct);

        Assert.Equal(expectedIndexes.Select(i => products[i].Id), body.Ids());
    }

    [Theory]
    [InlineData("in_stock=yes", "in_stock")]
    [InlineData("in_stock=", "in_stock")]
    [InlineData("in_stock=2", "in_stock")]
    [InlineData("in_stock=true&in_stock=false", "in_stock")]
    [InlineData("q=a&q=b", "q")]
    [InlineData("q=a%00b", "q")]
    [InlineData("category=a%00b", "category")]
    [InlineData("category=a&category=b", "category")]
    [InlineData("page=0", "page")]
    [InlineData("page=1.5", "page")]
    [InlineData("page_size=101", "page_size")]
    [InlineData("page_size=abc", "page_size")]
    [InlineData("page_size=99999999999999999999", "page_size")]
    [InlineData("optimize=please", "optimize")]
    public async Task BadSearchParameterIs400NamingIt(string query, string field)
    {
        var response = await Client.GetAsync($"/api/search/products?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("' OR 1=1 --")]
    [InlineData("x'; DROP TABLE products;--")]
    [InlineData("%' OR '1'='1")]
    [InlineData("\") OR 1=1; --")]
    public async Task SqlLookingValuesAreSearchedLiterally(string value)
    {
        var category = Arrange.NewCategory();
        await App.AddProductsAsync(Arrange.NewProduct(category, "innocent"), Arrange.NewProduct(category, $"has {value} inside"));
        var escaped = Uri.EscapeDataString(value);

        var byQ = await (await Client.GetAsync($"/api/search/products?category={category}&q={escaped}", Ct)).ExpectAsync(HttpStatusCode.OK);
        var byCategory = await (await Client.GetAsync($"/api/search/products?category={escaped}", Ct)).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(1, byQ.GetProperty("count").GetInt64());
        Assert.Equal(0, byCategory.GetProperty("count").GetInt64());
        var all = await (await Client.GetAsync($"/api/search/products?category={category}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, all.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task DeletedProductsAreNotFound()
    {
        var token = Token();
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(Arrange.NewProduct(category, token + " a"), Arrange.NewProduct(category, token + " b"));
        await App.SoftDeleteAsync(products[0].Id);

        var (body, _, _, _) = await Client.BothPathsAsync($"/api/search/products?q={token}", Ct);

        Assert.Equal([products[1].Id], body.Ids());
    }

    [Fact]
    public async Task SearchPaginatesWithLinksKeepingTheFilters()
    {
        var token = Token();
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 5).Select(i => Arrange.NewProduct(category, $"{token} {i}", stock: 1))]);

        var (page2, _, _, _) = await Client.BothPathsAsync($"/api/search/products?q={token}&in_stock=true&page_size=2&page=2", Ct);

        Assert.Equal(5, page2.GetProperty("count").GetInt64());
        Assert.Equal([products[2].Id, products[3].Id], page2.Ids());
        Assert.Equal($"http://localhost/api/search/products?page=3&q={token}&in_stock=true&page_size=2&optimize=false",
            page2.GetProperty("next").GetString());
        Assert.Equal($"http://localhost/api/search/products?page=1&q={token}&in_stock=true&page_size=2&optimize=false",
            page2.GetProperty("previous").GetString());
        await (await Client.GetAsync($"/api/search/products?q={token}&page_size=2&page=4", Ct)).ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task NaiveQueryCountGrowsAndOptimizedStaysAtTwo()
    {
        var token = Token();
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 12).Select(i => Arrange.NewProduct(category, $"{token} {i}"))]);
        await App.AddReviewsAsync(products[0].Id, [2, 5]);

        var small = await Client.BothPathsAsync($"/api/search/products?q={token}&page_size=3", Ct);
        var large = await Client.BothPathsAsync($"/api/search/products?q={token}&page_size=12", Ct);

        Assert.Equal(2 + 2 * 3, small.NaiveQueries);
        Assert.Equal(2 + 2 * 12, large.NaiveQueries);
        Assert.Equal(2, small.OptimizedQueries);
        Assert.Equal(2, large.OptimizedQueries);
        Assert.Equal("3.50", large.Naive.GetProperty("results")[0].GetProperty("avg_rating").GetRawText());
    }
}

public sealed class ProductSearchSqliteTests(SqliteApp app) : ProductSearchTests(app), IClassFixture<SqliteApp>;

public sealed class ProductSearchPostgresTests(PostgresApp app) : ProductSearchTests(app), IClassFixture<PostgresApp>;
