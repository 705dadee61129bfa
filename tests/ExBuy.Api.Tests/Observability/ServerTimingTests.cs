using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace ExBuy.Api.Tests.Observability;

/// <summary>
/// <c>Server-Timing: app;dur=&lt;ms&gt;, db;dur=&lt;ms&gt;;desc="&lt;n&gt; queries"</c> on every <c>/api/*</c> response
/// (contract v1.1), from the same per-request accounting as <c>X-Query-Count</c>.
/// </summary>
public abstract partial class ServerTimingTests(ExBuyApp app) : EngineTests(app)
{
    [GeneratedRegex("""^app;dur=(?<app>\d+(\.\d{1,3})?), db;dur=(?<db>\d+(\.\d{1,3})?);desc="(?<n>\d+) queries"$""")]
    private static partial Regex ServerTimingFormat();

    public static (double App, double Db, int Queries) ServerTiming(HttpResponseMessage response)
    {
        Assert.True(response.Headers.TryGetValues("Server-Timing", out var values),
            $"Server-Timing missing on {response.RequestMessage?.RequestUri}");
        var value = values.Single();
        var match = ServerTimingFormat().Match(value);
        Assert.True(match.Success, $"Server-Timing '{value}' is not in the contract's form");
        return (double.Parse(match.Groups["app"].Value, CultureInfo.InvariantCulture),
            double.Parse(match.Groups["db"].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task EveryApiResponseCarriesServerTimingThatAgreesWithTheQueryCount()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [5, 4, 3]);
        var urls = new[]
        {
            "/api/health", $"/api/products/{product.Id}", $"/api/products/{product.Id}?optimize=true",
            $"/api/products/{product.Id}/reviews", "/api/products?page_size=5", "/api/nope", "/api/products/999999999",
        };
        foreach (var url in urls)
        {
            using var response = await Client.GetAsync(url, Ct);
            var (appMs, dbMs, queries) = ServerTiming(response);
            Assert.Equal(response.QueryCount(), queries);
            Assert.True(dbMs <= appMs, $"{url}: db;dur={dbMs} exceeds app;dur={appMs}");
            if (queries == 0)
            {
                Assert.Equal(0, dbMs);
            }
        }
    }

    [Fact]
    public async Task NaiveDetailSpendsDatabaseTimeOnEveryQuery()
    {
        var product = await App.AddProductAsync();
        await App.AddReviewsAsync(product.Id, [5, 4, 3, 2, 1]);
        using var response = await Client.GetAsync($"/api/products/{product.Id}?optimize=false", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        var (appMs, dbMs, queries) = ServerTiming(response);
        Assert.True(queries > 3, $"the naive detail ran {queries} queries");
        Assert.True(dbMs > 0, "database time must be measured when queries ran");
        Assert.True(dbMs <= appMs);
    }

    [Fact]
    public async Task WritesAndErrorsCarryServerTimingToo()
    {
        var product = await App.AddProductAsync(stock: 1);
        using var created = await Client.PostJsonAsync("/api/orders", Arrange.OrderJson(Arrange.NewUserId(), (product.Id, 1)));
        await created.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(created.QueryCount(), ServerTiming(created).Queries);
        using var conflict = await Client.PostJsonAsync("/api/inventory/reserve?lock_type=pessimistic",
            $$"""{"product_id": {{product.Id}}, "quantity": 1}""");
        await conflict.ExpectProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(conflict.QueryCount(), ServerTiming(conflict).Queries);
        using var invalid = await Client.PostJsonAsync("/api/orders", "{}");
        await invalid.ExpectProblemAsync(HttpStatusCode.BadRequest, "user_id");
        Assert.Equal(0, ServerTiming(invalid).Queries);
    }

    [Fact]
    public async Task NoTracerIsRegisteredWithoutAnOtlpEndpoint()
    {
        using var response = await Client.GetAsync("/api/health", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Null(App.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task MetricsEndpointIsNotAnApiResponse()
    {
        using var response = await Client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Server-Timing"));
        Assert.False(response.Headers.Contains("X-Query-Count"));
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
    }
}

public sealed class ServerTimingSqliteTests(SqliteApp app) : ServerTimingTests(app), IClassFixture<SqliteApp>;

public sealed class ServerTimingPostgresTests(PostgresApp app) : ServerTimingTests(app), IClassFixture<PostgresApp>;
