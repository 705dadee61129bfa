using System.Net;
using System.Text;
using System.Text.Json;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Reviews;

/// <summary>POST /api/reviews (contract #12) and GET /api/reviews (contract #13).</summary>
public abstract class ReviewsTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task CreatingAReviewAnswers201WithTheReviewAndStoresIt()
    {
        var product = await App.AddProductAsync(name: "noted notebook");
        var before = DateTime.UtcNow.AddSeconds(-1);

        var response = await Client.PostJsonAsync("/api/reviews",
            $$"""{"product":{{product.Id}},"user_id":42,"rating":4,"body":"Great product!","ignored":"field"}""");

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("application/json", response.ContentType()?.MediaType);
        var id = body.GetProperty("id").GetInt64();
        var stored = await App.WithDbAsync(db => db.Reviews.SingleAsync(r => r.Id == id));
        Assert.Equal((product.Id, 42L, 4, "Great product!"), (stored.ProductId, stored.UserId, stored.Rating, stored.Body));
        Assert.True(stored.CreatedAt > before);
        var createdAt = stored.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(
            $$"""{"id":{{id}},"product":{{product.Id}},"product_name":"noted notebook","user_id":42,"rating":4,"body":"Great product!","created_at":"{{createdAt}}"}""",
            body.GetRawText());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body.GetProperty("created_at").GetString());
        Assert.Equal(2, response.QueryCount());

        // What the POST returned is what the reads return.
        var listed = await (await Client.GetAsync($"/api/reviews?product_id={product.Id}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(body.GetRawText(), listed.GetProperty("results")[0].GetRawText());
    }

    [Fact]
    public async Task BoundaryValuesAreAccepted()
    {
        var product = await App.AddProductAsync();
        var emoji = string.Concat(Enumerable.Repeat("\U0001F600", 2000)); // 2000 code points, 4000 UTF-16 units
        foreach (var (rating, text) in new[] { (1, "x"), (5, new string('b', 2000)), (3, emoji), (2, "  padded  ") })
        {
            var json = JsonSerializer.Serialize(new { product = product.Id, user_id = long.MaxValue, rating, body = text });
            var response = await Client.PostJsonAsync("/api/reviews", json);
            var created = await response.ExpectAsync(HttpStatusCode.Created);
            Assert.Equal(text, created.GetProperty("body").GetString());
            Assert.Equal(long.MaxValue, created.GetProperty("user_id").GetInt64());
        }
        Assert.Equal(4, await App.ReviewCountAsync(product.Id));
    }

    [Fact]
    public async Task UnknownProductIs400OnProductAndWritesNothing()
    {
        var userId = Arrange.NewUserId();
        var response = await Client.PostJsonAsync("/api/reviews",
            $$"""{"product":9223372036854775807,"user_id":{{userId}},"rating":5,"body":"ghost"}""");
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "product");
        Assert.False(await App.WithDbAsync(db => db.Reviews.AnyAsync(r => r.UserId == userId)));
    }

    [Fact]
    public async Task DeletedProductCannotBeReviewed()
    {
        var product = await App.AddProductAsync();
        await App.SoftDeleteAsync(product.Id);

        var response = await Client.PostJsonAsync("/api/reviews", $$"""{"product":{{product.Id}},"user_id":1,"rating":5,"body":"x"}""");

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "product");
        Assert.Equal(0, await App.ReviewCountAsync(product.Id));
    }

    /// <summary>{P} is replaced by a live product's id: every case is bad in some other way.</summary>
    public static TheoryData<string, string> BadBodies() => new()
    {
        // missing / null
        { """{"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":{P},"rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":1,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":5}""", "body" },
        { """{"product":null,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":{P},"user_id":null,"rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":1,"rating":null,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":5,"body":null}""", "body" },
        { """{}""", "product" },
        // wrong types
        { """{"product":"{P}","user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":{P},"user_id":"1","rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":1,"rating":"5","body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":true,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":[5],"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":5,"body":123}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":{"text":"x"}}""", "body" },
        { """{"product":{"id":{P}},"user_id":1,"rating":5,"body":"x"}""", "product" },
        // out of range / huge numbers
        { """{"product":{P},"user_id":1,"rating":0,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":6,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":-1,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":3.5,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":1e400,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":99999999999999999999,"body":"x"}""", "rating" },
        { """{"product":{P},"user_id":1,"rating":2147483648,"body":"x"}""", "rating" },
        { """{"product":0,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":-1,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":1e400,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":99999999999999999999,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":{P}.0,"user_id":1,"rating":5,"body":"x"}""", "product" },
        { """{"product":{P},"user_id":0,"rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":-7,"rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":99999999999999999999,"rating":5,"body":"x"}""", "user_id" },
        { """{"product":{P},"user_id":1e400,"rating":5,"body":"x"}""", "user_id" },
        // body text
        { """{"product":{P},"user_id":1,"rating":5,"body":""}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"   "}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"{LONG}"}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"nul\u0000inside"}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"lone \ud800 surrogate"}""", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"x'); DROP TABLE reviews;--","body":1}""", "body" },
        // malformed JSON / not an object
        { "{\"product\":{P},\"user_id\":1,\"rating\":5,\"body\":\"x\\\"", "body" },
        { """{"product":{P},"user_id":1,"rating":5,"body":"x",}""", "body" },
        { """{"product":{P} "user_id":1}""", "body" },
        { """[{"product":{P},"user_id":1,"rating":5,"body":"x"}]""", "body" },
        { """null""", "body" },
        { "\"text\"", "body" },
        { "42", "body" },
        { "", "body" },
        { "{", "body" },
        { "\ufeff{not json}", "body" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadReviewBodyIs400NamingTheFieldAndWritesNothing(string template, string field)
    {
        var product = await App.AddProductAsync();
        var json = template.Replace("{P}", product.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Replace("{LONG}", new string('y', 2001));

        var response = await Client.PostJsonAsync("/api/reviews", json);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, await App.ReviewCountAsync(product.Id));
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task OverlongEmojiBodyIs400()
    {
        var product = await App.AddProductAsync();
        var json = JsonSerializer.Serialize(new { product = product.Id, user_id = 1, rating = 5, body = string.Concat(Enumerable.Repeat("\U0001F600", 2001)) });

        var response = await Client.PostJsonAsync("/api/reviews", json);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "body");
        Assert.Equal(0, await App.ReviewCountAsync(product.Id));
    }

    [Fact]
    public async Task EveryInvalidFieldIsNamedAtOnce()
    {
        var response = await Client.PostJsonAsync("/api/reviews", """{"product":0,"user_id":-1,"rating":9,"body":""}""");
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "product", "user_id", "rating", "body");
    }

    [Fact]
    public async Task NonJsonContentTypeIs415()
    {
        var product = await App.AddProductAsync();
        var content = new StringContent($$"""{"product":{{product.Id}},"user_id":1,"rating":5,"body":"x"}""", Encoding.UTF8, "text/plain");

        var response = await Client.PostAsync("/api/reviews", content, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(0, await App.ReviewCountAsync(product.Id));
    }

    [Fact]
    public async Task ListIsNewestFirstAcrossProductsWithProductNames()
    {
        var userId = Arrange.NewUserId();
        var a = await App.AddProductAsync(name: "apple");
        var b = await App.AddProductAsync(name: "banana");
        var ra = await App.AddReviewsAsync(a.Id, [1, 2, 3], userId, i => Arrange.BaseTime.AddMinutes(i * 2));
        var rb = await App.AddReviewsAsync(b.Id, [4, 5, 4], userId, i => Arrange.BaseTime.AddMinutes(i * 2 + 1));
        var rc = await App.AddReviewsAsync(b.Id, [5], userId, _ => Arrange.BaseTime.AddMinutes(4)); // ties with ra[2]
        var all = ra.Concat(rb).Concat(rc).ToList();
        var expected = all.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Select(r => r.Id).ToArray();

        var (body, _, _, _) = await Client.BothPathsAsync($"/api/reviews?user_id={userId}", Ct);

        Assert.Equal(7, body.GetProperty("count").GetInt64());
        Assert.Equal(expected, body.Ids());
        Assert.All(body.GetProperty("results").EnumerateArray(), r =>
            Assert.Equal(r.GetProperty("product").GetInt64() == a.Id ? "apple" : "banana", r.GetProperty("product_name").GetString()));
    }

    [Fact]
    public async Task FiltersCombine()
    {
        var userId = Arrange.NewUserId();
        var otherUser = Arrange.NewUserId();
        var a = await App.AddProductAsync();
        var b = await App.AddProductAsync();
        var mine = await App.AddReviewsAsync(a.Id, [5, 3, 5], userId);
        await App.AddReviewsAsync(b.Id, [5], userId);
        await App.AddReviewsAsync(a.Id, [5], otherUser);

        var byAll = await (await Client.GetAsync($"/api/reviews?product_id={a.Id}&user_id={userId}&rating=5", Ct)).ExpectAsync(HttpStatusCode.OK);
        var byProduct = await (await Client.GetAsync($"/api/reviews?product_id={a.Id}", Ct)).ExpectAsync(HttpStatusCode.OK);
        var byUserRating = await (await Client.GetAsync($"/api/reviews?user_id={userId}&rating=3", Ct)).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(mine.Where(r => r.Rating == 5).Select(r => r.Id).OrderDescending(), byAll.Ids());
        Assert.Equal(4, byProduct.GetProperty("count").GetInt64());
        Assert.Equal([mine[1].Id], byUserRating.Ids());
    }

    [Theory]
    [InlineData("product_id=0", "product_id")]
    [InlineData("product_id=-1", "product_id")]
    [InlineData("product_id=abc", "product_id")]
    [InlineData("product_id=1.5", "product_id")]
    [InlineData("product_id=99999999999999999999", "product_id")]
    [InlineData("product_id=1%20OR%201=1", "product_id")]
    [InlineData("product_id=1&product_id=2", "product_id")]
    [InlineData("user_id=0", "user_id")]
    [InlineData("user_id=x", "user_id")]
    [InlineData("user_id=1e3", "user_id")]
    [InlineData("rating=0", "rating")]
    [InlineData("rating=6", "rating")]
    [InlineData("rating=4.5", "rating")]
    [InlineData("rating=five", "rating")]
    [InlineData("rating=", "rating")]
    [InlineData("page=0", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page=99999999999999999999", "page")]
    [InlineData("page_size=0", "page_size")]
    [InlineData("page_size=101", "page_size")]
    [InlineData("page_size=1.5", "page_size")]
    [InlineData("optimize=ok", "optimize")]
    public async Task BadListParameterIs400NamingIt(string query, string field)
    {
        var response = await Client.GetAsync($"/api/reviews?{query}", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task ListPaginatesWithAbsoluteLinksAnd404PastTheEnd()
    {
        var userId = Arrange.NewUserId();
        var product = await App.AddProductAsync();
        var reviews = await App.AddReviewsAsync(product.Id, [.. Enumerable.Repeat(2, 7)], userId);
        var expected = reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Select(r => r.Id).ToArray();

        var (page2, _, _, _) = await Client.BothPathsAsync($"/api/reviews?user_id={userId}&page_size=3&page=2", Ct);

        Assert.Equal(expected[3..6], page2.Ids());
        Assert.Equal($"http://localhost/api/reviews?page=3&user_id={userId}&page_size=3&optimize=false", page2.GetProperty("next").GetString());
        Assert.Equal($"http://localhost/api/reviews?page=1&user_id={userId}&page_size=3&optimize=false", page2.GetProperty("previous").GetString());
        var past = await Client.GetAsync($"/api/reviews?user_id={userId}&page_size=3&page=4", Ct);
        await past.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, past.QueryCount());
        var empty = await (await Client.GetAsync($"/api/reviews?user_id={Arrange.NewUserId()}", Ct)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("""{"count":0,"next":null,"previous":null,"results":[]}""", empty.GetRawText());
    }

    [Fact]
    public async Task NaiveQueryCountGrowsWithThePageAndOptimizedStaysAtTwo()
    {
        var userId = Arrange.NewUserId();
        for (var i = 0; i < 4; i++)
        {
            var product = await App.AddProductAsync();
            await App.AddReviewsAsync(product.Id, [1, 2, 3, 4, 5, 1, 2], userId);
        }

        var small = await Client.BothPathsAsync($"/api/reviews?user_id={userId}&page_size=4", Ct);
        var large = await Client.BothPathsAsync($"/api/reviews?user_id={userId}&page_size=28", Ct);

        // COUNT + page, then one product query per review (even for reviews of the same product).
        Assert.Equal(2 + 4, small.NaiveQueries);
        Assert.Equal(2 + 28, large.NaiveQueries);
        Assert.Equal(2, small.OptimizedQueries);
        Assert.Equal(2, large.OptimizedQueries);
    }
}

public sealed class ReviewsSqliteTests(SqliteApp app) : ReviewsTests(app), IClassFixture<SqliteApp>;

public sealed class ReviewsPostgresTests(PostgresApp app) : ReviewsTests(app), IClassFixture<PostgresApp>;
