using System.Text.Json;
using ExBuy.Api.Common;
using ExBuy.Api.Orders;
using ExBuy.Api.Reviews;
using Microsoft.AspNetCore.Http;

namespace ExBuy.Api.Tests.Common;

/// <summary>
/// Unit tests of the JSON path → <c>errors</c> key mapping. A key is the field's path as the client wrote it (e.g.
/// <c>items[1].quantity</c>, <c>orders[3].items[0].product_id</c>), so a client can point at the bad field of a nested
/// body. First on literal paths, then on the paths System.Text.Json really reports with the app's own serializer options.
/// </summary>
public sealed class ErrorHandlingTests
{
    private static readonly JsonSerializerOptions HttpJson = CreateHttpJsonOptions();

    [Theory]
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("$", "body")]
    [InlineData("$.user_id", "user_id")]
    [InlineData("$.items[1].quantity", "items[1].quantity")]
    [InlineData("$.orders[3].items[0].product_id", "orders[3].items[0].product_id")]
    [InlineData("$[0]", "[0]")]
    [InlineData("$['odd key']", "['odd key']")]
    [InlineData("user_id", "user_id")]
    public void FieldPathStripsTheJsonRoot(string? path, string expected) =>
        Assert.Equal(expected, ExBuyExceptionHandler.FieldPath(path));

    [Theory]
    [InlineData("""{"user_id": "7", "items": []}""", "user_id")]
    [InlineData("""{"user_id": 1.5, "items": []}""", "user_id")]
    [InlineData("""{"user_id": 99999999999999999999999, "items": []}""", "user_id")]
    [InlineData("""{"user_id": 1, "items": {"product_id": 1}}""", "items")]
    [InlineData("""{"user_id": 1, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": "2"}]}""", "items[1].quantity")]
    [InlineData("""{"user_id": 1, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 3000000000}]}""", "items[1].quantity")]
    [InlineData("""{"user_id": 1, "items": [{"product_id": true}]}""", "items[0].product_id")]
    [InlineData("""[1, 2]""", "body")]
    [InlineData("\"text\"", "body")]
    public void WrongTypesInAnOrderAreKeyedByTheirContractPath(string rawJson, string expected)
    {
        var ex = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CreateOrderRequest>(rawJson, HttpJson));

        Assert.Equal(expected, ExBuyExceptionHandler.FieldPath(ex.Path));
    }

    [Fact]
    public void NestedBulkOrderPathsKeepEveryIndex()
    {
        const string rawJson = """
            {"orders": [
              {"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]},
              {"user_id": 1, "items": []},
              {"user_id": 1, "items": []},
              {"user_id": 1, "items": [{"product_id": 1.5, "quantity": 1}]}
            ]}
            """;

        var ex = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<BulkOrdersRequest>(rawJson, HttpJson));

        Assert.Equal("orders[3].items[0].product_id", ExBuyExceptionHandler.FieldPath(ex.Path));
    }

    [Fact]
    public void SnakeCaseNamesArePathsAsTheClientWroteThem()
    {
        var ex = Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize<CreateReviewRequest>("""{"product": 1, "user_id": "x"}""", HttpJson));

        Assert.Equal("user_id", ExBuyExceptionHandler.FieldPath(ex.Path));
    }

    [Fact]
    public void BadRequestWrappingAJsonErrorIsA400WithTheFieldKey()
    {
        var json = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CreateOrderRequest>(
            """{"user_id": 1, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": "many"}]}""", HttpJson));
        var bad = new BadHttpRequestException("Failed to read parameter from the request body as JSON.", 400, json);

        var (status, title, _, errors) = ExBuyExceptionHandler.Classify(bad);

        Assert.Equal(400, status);
        Assert.False(string.IsNullOrEmpty(title));
        Assert.NotNull(errors);
        var messages = Assert.Contains("items[1].quantity", errors);
        Assert.NotEmpty(messages);
        Assert.Single(errors);
    }

    [Fact]
    public void MalformedJsonIsA400NamingWhereItBroke()
    {
        var json = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CreateReviewRequest>("""{"product": 1, "user_id": }""", HttpJson));

        var (status, _, _, errors) = ExBuyExceptionHandler.Classify(new BadHttpRequestException("bad", 400, json));

        Assert.Equal(400, status);
        Assert.NotNull(errors);
        var key = Assert.Single(errors).Key;
        Assert.Equal(ExBuyExceptionHandler.FieldPath(json.Path), key);
        Assert.StartsWith("Malformed JSON", Assert.Single(errors[key]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Implicit body inferred for parameter \"request\" but no body was provided. Did you mean to use a Service instead?")]
    [InlineData("Required parameter \"CreateReviewRequest request\" was not provided from body.")]
    public void MissingBodyIsA400NamingTheBody(string frameworkMessage)
    {
        // The two messages ASP.NET Core uses for an empty (or JSON null) body: inferred and explicit [FromBody].
        var (status, _, _, errors) = ExBuyExceptionHandler.Classify(new BadHttpRequestException(frameworkMessage, 400));

        Assert.Equal(400, status);
        Assert.NotNull(errors);
        Assert.Contains("body", errors);
    }

    [Fact]
    public void UnsupportedMediaTypeAndTooLargeKeepTheirStatus()
    {
        Assert.Equal(415, ExBuyExceptionHandler.Classify(
            new BadHttpRequestException("Expected a supported JSON media type but got \"text/plain\".", 415)).Status);
        Assert.Equal(413, ExBuyExceptionHandler.Classify(
            new BadHttpRequestException("Request body too large.", 413)).Status);
    }

    private static JsonSerializerOptions CreateHttpJsonOptions()
    {
        // The options the app gives Minimal APIs (Hosting: ConfigureHttpJsonOptions → ExBuyJsonContext.Configure).
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ExBuyJsonContext.Configure(options);
        return options;
    }
}
