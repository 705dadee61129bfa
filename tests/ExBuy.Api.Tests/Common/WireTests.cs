using System.Net;
using System.Text;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Common;

/// <summary>
/// Behaviour every route shares rather than one feature's: unknown paths, wrong methods, ids that are not positive
/// 64-bit integers, and bodies that are not JSON at all. Every answer is problem+json with X-Query-Count, so a client
/// and a load script read every error the same way.
/// </summary>
public abstract class WireTests(ExBuyApp app) : EngineTests(app)
{
    [Theory]
    [InlineData("GET", "/api/nope")]
    [InlineData("GET", "/api/does/not/exist")]
    [InlineData("POST", "/api/nope")]
    [InlineData("DELETE", "/api/nope/1")]
    [InlineData("GET", "/api/products/1/nope")]
    [InlineData("GET", "/api/uploads/extra/segments")]
    public async Task UnknownApiPathIsA404ProblemWithQueryCount(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        var response = await Client.SendAsync(request, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("DELETE", "/api/health")]
    [InlineData("POST", "/api/health")]
    [InlineData("PUT", "/api/info")]
    [InlineData("GET", "/api/uploads")]
    [InlineData("PUT", "/api/uploads")]
    [InlineData("DELETE", "/api/uploads")]
    // The routes below come with their features.
    [InlineData("PUT", "/api/reviews")]
    [InlineData("DELETE", "/api/orders")]
    [InlineData("PUT", "/api/products/1")]
    [InlineData("POST", "/api/products/1")]
    [InlineData("GET", "/api/inventory/reserve")]
    [InlineData("POST", "/api/stats/top-products")]
    public async Task WrongMethodOnAKnownPathIsA405Problem(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        var response = await Client.SendAsync(request, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.MethodNotAllowed);
        Assert.NotEmpty(response.Content.Headers.Allow);
        Assert.DoesNotContain(method, response.Content.Headers.Allow);
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("GET", "/api/products/abc")]
    [InlineData("GET", "/api/products/0")]
    [InlineData("GET", "/api/products/-1")]
    [InlineData("GET", "/api/products/1.5")]
    [InlineData("GET", "/api/products/99999999999999999999")]
    [InlineData("GET", "/api/products/9223372036854775808")]
    [InlineData("GET", "/api/products/abc/reviews")]
    [InlineData("GET", "/api/products/0/reviews")]
    [InlineData("DELETE", "/api/products/abc")]
    [InlineData("DELETE", "/api/products/0")]
    [InlineData("GET", "/api/orders/abc")]
    [InlineData("GET", "/api/orders/0")]
    [InlineData("PATCH", "/api/orders/99999999999999999999")]
    public async Task IdThatIsNotAPositive64BitIntegerIsA404WithoutTouchingTheDatabase(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "PATCH")
        {
            request.Content = Http.Json("""{"status": "paid"}""");
        }

        var response = await Client.SendAsync(request, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task LargestPositiveIdIsLookedUpAndNotFound()
    {
        // long.MaxValue passes the route constraint, so this 404 comes from the database (after the Products merge).
        var response = await Client.GetAsync("/api/products/9223372036854775807", Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.True(response.QueryCount() >= 1, "a valid id should be looked up");
    }

    [Theory]
    [InlineData("""{"product": 1, "user_id": 1,""")]
    [InlineData("""{product: 1}""")]
    [InlineData("""not json""")]
    [InlineData("""{"product": 1} trailing""")]
    [InlineData("""{"product": 1, "user_id": 1, "rating": 5, "body": "unterminated}""")]
    [InlineData("""[{"product": 1}]""")]
    [InlineData("""null""")]
    [InlineData("\"just a string\"")]
    public async Task MalformedJsonToPostReviewsIsA400ProblemNamingAField(string rawJson)
    {
        var response = await Client.PostJsonAsync("/api/reviews", rawJson);

        var problem = await response.ExpectProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.EnumerateObject().Any(),
            $"expected a non-empty errors object in {problem}");
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("""{"product": "1", "user_id": 1, "rating": 5, "body": "ok"}""", "product")]
    [InlineData("""{"product": 1, "user_id": 1.5, "rating": 5, "body": "ok"}""", "user_id")]
    [InlineData("""{"product": 1, "user_id": 1, "rating": 99999999999, "body": "ok"}""", "rating")]
    [InlineData("""{"product": 99999999999999999999999, "user_id": 1, "rating": 5, "body": "ok"}""", "product")]
    [InlineData("""{"product": 1, "user_id": 1, "rating": 5, "body": 42}""", "body")]
    [InlineData("""{"product": 1, "user_id": true, "rating": 5, "body": "ok"}""", "user_id")]
    public async Task WrongJsonTypeToPostReviewsNamesTheField(string rawJson, string field)
    {
        var response = await Client.PostJsonAsync("/api/reviews", rawJson);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task EmptyBodyToPostReviewsIsA400ProblemNamingTheBody()
    {
        var response = await Client.PostJsonAsync("/api/reviews", "");

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "body");
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData(null)]
    public async Task NonJsonContentTypeToPostReviewsIsA415Problem(string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"product": 1, "user_id": 1, "rating": 5, "body": "ok"}"""));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var response = await Client.PostAsync("/api/reviews", content, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(0, response.QueryCount());
    }
}

public sealed class WireSqliteTests(SqliteApp app) : WireTests(app), IClassFixture<SqliteApp>;

public sealed class WirePostgresTests(PostgresApp app) : WireTests(app), IClassFixture<PostgresApp>;
