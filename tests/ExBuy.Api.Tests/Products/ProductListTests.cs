using System.Globalization;
using System.Net;
using System.Text.Json;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Products;

/// <summary>GET /api/products (contract #2): filters, ordering, pagination, optimize, raw JSON.</summary>
public abstract class ProductListTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task ListItemIsTheContractProductInSnakeCaseWithTwoDecimalMoneyAndUtcTimestamps()
    {
        var category = Arrange.NewCategory();
        var product = await App.AddProductAsync(category, "raw json widget", price: 10.5m, stock: 3,
            createdAt: Arrange.BaseTime, updatedAt: Arrange.BaseTime.AddMinutes(1));

        var response = await Client.GetAsync($"/api/products?category={category}", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("application/json", response.ContentType()?.MediaType);
        Assert.Equal(1, body.GetProperty("count").GetInt64());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("next").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("previous").ValueKind);
        Assert.Equal(
            $$"""{"id":{{product.Id}},"name":"raw json widget","price":10.50,"stock":3,"category":"{{category}}","created_at":"2026-03-04T05:06:07.890Z","updated_at":"2026-03-04T05:07:07.890Z","review_count":0,"avg_rating":null}""",
            body.GetProperty("results")[0].GetRawText());
    }

    [Fact]
    public async Task DefaultOrderIsIdAscendingAndOnlyLiveProductsOfTheCategoryAppear()
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(
            Arrange.NewProduct(category), Arrange.NewProduct(category), Arrange.NewProduct(category), Arrange.NewProduct(category));
        await App.AddProductAsync(Arrange.NewCategory());
        await App.SoftDeleteAsync(products[1].Id);

        var body = await (await Client.GetAsync($"/api/products?category={category}", Ct)).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(3, body.GetProperty("count").GetInt64());
        Assert.Equal([products[0].Id, products[2].Id, products[3].Id], body.Ids());
    }

    [Fact]
    public async Task CategoryMatchesExactlyAndEmptyCategoryIsNoFilter()
    {
        var category = Arrange.NewCategory();
        await App.AddProductAsync(category);

        var upper = await (await Client.GetAsync($"/api/products?category={category.ToUpperInvariant()}", Ct)).ExpectAsync(HttpStatusCode.OK);
        var prefix = await (await Client.GetAsync($"/api/products?category={category[..^1]}", Ct)).ExpectAsync(HttpStatusCode.OK);
        var empty = await (await Client.GetAsync("/api/products?category=", Ct)).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(0, upper.GetProperty("count").GetInt64());
        Assert.Equal(0, prefix.GetProperty("count").GetInt64());
        Assert.True(empty.GetProperty("count").GetInt64() >= 1);
    }

    public static TheoryData<string, bool> Orderings()
    {
        var data = new TheoryData<string, bool>();
        foreach (var field in new[] { "id", "name", "price", "stock", "created_at" })
        {
            data.Add(field, false);
            data.Add(field, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Orderings))]
    public async Task OrderingByEachFieldInBothDirectionsBreaksTiesByIdInTheSameDirection(string field, bool descending)
    {
        var category = Arrange.NewCategory();
        var t = Arrange.BaseTime;
        // Ties on every non-id field, so the id tie-breaker shows.
        var products = await App.AddProductsAsync(
            Arrange.NewProduct(category, "delta", 30.00m, 2, t.AddSeconds(3)),
            Arrange.NewProduct(category, "alpha", 10.00m, 9, t.AddSeconds(1)),
            Arrange.NewProduct(category, "charlie", 20.00m, 0, t.AddSeconds(2)),
            Arrange.NewProduct(category, "alpha", 10.00m, 9, t.AddSeconds(1)),
            Arrange.NewProduct(category, "bravo", 10.01m, 5, t.AddMilliseconds(1500)),
            Arrange.NewProduct(category, "charlie", 9.99m, 2, t.AddSeconds(3)));
        Func<Product, IComparable> key = field switch
        {
            "name" => p => p.Name,
            "price" => p => p.Price,
            "stock" => p => p.Stock,
            "created_at" => p => p.CreatedAt,
            _ => p => p.Id,
        };
        var expected = descending
            ? products.OrderByDescending(key).ThenByDescending(p => p.Id).Select(p => p.Id).ToArray()
            : products.OrderBy(key).ThenBy(p => p.Id).Select(p => p.Id).ToArray();

        var ordering = (descending ? "-" : "") + field;
        var (naive, _, _, _) = await Client.BothPathsAsync($"/api/products?category={category}&ordering={ordering}", Ct);

        Assert.Equal(expected, naive.Ids());
    }

    [Fact]
    public async Task OrderingIsStableAcrossPages()
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync(
            [.. Enumerable.Range(0, 7).Select(i => Arrange.NewProduct(category, "same", 5.00m, 1))]);
        var seen = new List<long>();
        for (var page = 1; page <= 3; page++)
        {
            var body = await (await Client.GetAsync($"/api/products?category={category}&ordering=-price&page_size=3&page={page}", Ct))
                .ExpectAsync(HttpStatusCode.OK);
            seen.AddRange(body.Ids());
        }
        Assert.Equal(products.Select(p => p.Id).OrderDescending(), seen);
    }

    [Theory]
    [InlineData("rating")]
    [InlineData("-")]
    [InlineData("")]
    [InlineData("--price")]
    [InlineData("+price")]
    [InlineData("PRICE")]
    [InlineData("price,id")]
    [InlineData(" id")]
    [InlineData("id; DROP TABLE products;--")]
    [InlineData("deleted_at")]
    public async Task UnknownOrderingIs400NamingOrdering(string ordering)
    {
        var response = await Client.GetAsync($"/api/products?ordering={Uri.EscapeDataString(ordering)}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "ordering");
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("min_price=10.00", new[] { "10.00", "10.01", "20.00", "20.01" })]
    [InlineData("min_price=10", new[] { "10.00", "10.01", "20.00", "20.01" })]
    [InlineData("min_price=10.01", new[] { "10.01", "20.00", "20.01" })]
    [InlineData("max_price=10.00", new[] { "0.00", "9.99", "10.00" })]
    [InlineData("max_price=9.99", new[] { "0.00", "9.99" })]
    [InlineData("min_price=10.00&max_price=20.00", new[] { "10.00", "10.01", "20.00" })]
    [InlineData("min_price=10.005&max_price=10.005", new string[0])]
    [InlineData("min_price=20.01&max_price=10", new string[0])]
    [InlineData("min_price=0", new[] { "0.00", "9.99", "10.00", "10.01", "20.00", "20.01" })]
    [InlineData("max_price=0.00", new[] { "0.00" })]
    public async Task PriceFiltersAreInclusiveAndExactToTheCent(string filter, string[] expectedPrices)
    {
        if (filter.Contains("10.005", StringComparison.Ordinal))
        {
            // Three decimals are refused rather than rounded differently per engine.
            var bad = await Client.GetAsync($"/api/products?{filter}", Ct);
            await bad.ExpectProblemAsync(HttpStatusCode.BadRequest, "min_price", "max_price");
            return;
        }
        var category = Arrange.NewCategory();
        await App.AddProductsAsync(
            [.. new[] { 0m, 9.99m, 10.00m, 10.01m, 20.00m, 20.01m }.Select(price => Arrange.NewProduct(category, price: price))]);

        var body = await (await Client.GetAsync($"/api/products?category={category}&ordering=price&{filter}", Ct))
            .ExpectAsync(HttpStatusCode.OK);

        var prices = body.GetProperty("results").EnumerateArray().Select(p => p.GetProperty("price").GetRawText()).ToArray();
        Assert.Equal(expectedPrices, prices);
    }

    [Theory]
    [InlineData("min_price=-1", "min_price")]
    [InlineData("min_price=abc", "min_price")]
    [InlineData("min_price=", "min_price")]
    [InlineData("min_price=1e400", "min_price")]
    [InlineData("min_price=1e3", "min_price")]
    [InlineData("max_price=99999999999999999999", "max_price")]
    [InlineData("max_price=10000000000.00", "max_price")]
    [InlineData("max_price=NaN", "max_price")]
    [InlineData("max_price=10.001", "max_price")]
    [InlineData("min_price=1&min_price=2", "min_price")]
    [InlineData("max_price=1,5", "max_price")]
    [InlineData("min_price=' OR 1=1 --", "min_price")]
    public async Task BadPriceFilterIs400NamingTheParameter(string query, string field)
    {
        var response = await Client.GetAsync($"/api/products?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task AllBadParametersAreReportedTogether()
    {
        var response = await Client.GetAsync("/api/products?ordering=x&min_price=y&page=0&page_size=101&optimize=maybe", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "ordering", "min_price", "page", "page_size", "optimize");
    }

    [Fact]
    public async Task SqlLookingCategoryIsJustAStringThatMatchesNothing()
    {
        var category = "x'; DROP TABLE products;--";
        var response = await Client.GetAsync($"/api/products?category={Uri.EscapeDataString(category)}", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, body.GetProperty("count").GetInt64());

        var live = await App.AddProductAsync();
        await (await Client.GetAsync($"/api/products/{live.Id}", Ct)).ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task NulInCategoryIs400()
    {
        var response = await Client.GetAsync("/api/products?category=a%00b", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "category");
    }

    [Fact]
    public async Task PaginationLinksAreAbsoluteAndKeepTheOtherParameters()
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 25).Select(_ => Arrange.NewProduct(category))]);
        var ids = products.Select(p => p.Id).ToArray();
        var url = $"/api/products?category={category}&ordering=id&page_size=10";

        var first = await (await Client.GetAsync(url, Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(25, first.GetProperty("count").GetInt64());
        Assert.Equal(ids[..10], first.Ids());
        Assert.Equal($"http://localhost/api/products?page=2&category={category}&ordering=id&page_size=10",
            first.GetProperty("next").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("previous").ValueKind);

        var second = await (await Client.GetAsync(first.GetProperty("next").GetString(), Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(ids[10..20], second.Ids());
        Assert.Equal($"http://localhost/api/products?page=1&category={category}&ordering=id&page_size=10",
            second.GetProperty("previous").GetString());

        var last = await (await Client.GetAsync(url + "&page=3", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(ids[20..], last.Ids());
        Assert.Equal(JsonValueKind.Null, last.GetProperty("next").ValueKind);
        Assert.Equal($"http://localhost/api/products?page=2&category={category}&ordering=id&page_size=10",
            last.GetProperty("previous").GetString());
    }

    [Fact]
    public async Task PagePastTheEndIs404WithoutRunningThePageQuery()
    {
        var category = Arrange.NewCategory();
        await App.AddProductsAsync([.. Enumerable.Range(0, 3).Select(_ => Arrange.NewProduct(category))]);

        foreach (var optimize in new[] { "false", "true" })
        {
            var response = await Client.GetAsync($"/api/products?category={category}&page=2&page_size=3&optimize={optimize}", Ct);
            await response.ExpectProblemAsync(HttpStatusCode.NotFound);
            Assert.Equal(1, response.QueryCount());
        }
    }

    [Fact]
    public async Task FirstPageOfNothingIsAnEmptyPage()
    {
        var body = await (await Client.GetAsync($"/api/products?category={Arrange.NewCategory()}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("""{"count":0,"next":null,"previous":null,"results":[]}""", body.GetRawText());
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page=1.5", "page")]
    [InlineData("page=", "page")]
    [InlineData("page=99999999999999999999", "page")]
    [InlineData("page=1&page=2", "page")]
    [InlineData("page_size=0", "page_size")]
    [InlineData("page_size=-1", "page_size")]
    [InlineData("page_size=101", "page_size")]
    [InlineData("page_size=abc", "page_size")]
    [InlineData("page_size=1.5", "page_size")]
    [InlineData("page_size=1e2", "page_size")]
    [InlineData("page_size=99999999999999999999", "page_size")]
    [InlineData("page_size=10&page_size=20", "page_size")]
    [InlineData("optimize=yes", "optimize")]
    [InlineData("optimize=2", "optimize")]
    [InlineData("optimize=", "optimize")]
    [InlineData("optimize=true&optimize=false", "optimize")]
    public async Task PagingAndFlagAbuseIs400NamingTheParameter(string query, string field)
    {
        var response = await Client.GetAsync($"/api/products?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task HugePageNumberIs404NotAnOverflow()
    {
        var response = await Client.GetAsync($"/api/products?category={Arrange.NewCategory()}&page=2147483647&page_size=100", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("TRUE")]
    [InlineData("1")]
    [InlineData("false")]
    [InlineData("False")]
    [InlineData("0")]
    public async Task OptimizeAcceptsTheContractSpellings(string value)
    {
        var response = await Client.GetAsync($"/api/products?category={Arrange.NewCategory()}&optimize={value}", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BothPathsReturnTheSameBodyWithAggregatesRoundedAwayFromZero()
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 6).Select(i => Arrange.NewProduct(category, price: 1.10m * (i + 1)))]);
        int[][] ratings = [[], [5], [1, 2], [1, 2, 2], [1, 1, 1, 1, 1, 1, 1, 2], [4, 4, 5]];
        for (var i = 0; i < products.Count; i++)
        {
            await App.AddReviewsAsync(products[i].Id, ratings[i]);
        }

        var (naive, _, _, _) = await Client.BothPathsAsync($"/api/products?category={category}", Ct);

        var results = naive.GetProperty("results").EnumerateArray().ToArray();
        string[] expectedAvg = ["null", "5.00", "1.50", "1.67", "1.13", "4.33"];
        for (var i = 0; i < products.Count; i++)
        {
            Assert.Equal(ratings[i].Length, results[i].GetProperty("review_count").GetInt64());
            Assert.Equal(expectedAvg[i], results[i].GetProperty("avg_rating").GetRawText());
        }
        Assert.Equal("6.60", results[5].GetProperty("price").GetRawText());
    }

    [Fact]
    public async Task NaiveQueryCountGrowsWithThePageAndOptimizedStaysAtTwo()
    {
        var category = Arrange.NewCategory();
        var products = await App.AddProductsAsync([.. Enumerable.Range(0, 30).Select(_ => Arrange.NewProduct(category))]);
        foreach (var product in products.Take(10))
        {
            await App.AddReviewsAsync(product.Id, [3, 4]);
        }

        var small = await Client.BothPathsAsync($"/api/products?category={category}&page_size=5", Ct);
        var large = await Client.BothPathsAsync($"/api/products?category={category}&page_size=30", Ct);

        // COUNT + page, then a review count and a rating sum per product.
        Assert.Equal(2 + 2 * 5, small.NaiveQueries);
        Assert.Equal(2 + 2 * 30, large.NaiveQueries);
        Assert.Equal(2, small.OptimizedQueries);
        Assert.Equal(2, large.OptimizedQueries);
    }

    [Fact]
    public async Task ValidationFailureWritesTheQueryCountHeaderAsZero()
    {
        var response = await Client.GetAsync("/api/products?page=x", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "page");
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task PriceAboveStorageLimitAsFilterIsRefusedNotOverflowed()
    {
        var max = (9_999_999_999.99m).ToString(CultureInfo.InvariantCulture);
        var response = await Client.GetAsync($"/api/products?category={Arrange.NewCategory()}&max_price={max}", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
    }
}

public sealed class ProductListSqliteTests(SqliteApp app) : ProductListTests(app), IClassFixture<SqliteApp>;

public sealed class ProductListPostgresTests(PostgresApp app) : ProductListTests(app), IClassFixture<PostgresApp>;
