using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Products;

/// <summary>
/// The optimize flag's promise on seeded-like data (120 products with reviews): X-Query-Count of the naive path grows
/// with the page, the optimized path stays the same small constant (≤ 3) at page_size 20 and 100.
/// </summary>
public abstract class QueryCountTests(ExBuyApp app) : EngineTests(app)
{
    private const int Products = 120;

    [Fact]
    public async Task EveryOptimizeEndpointIsConstantOptimizedAndGrowsNaive()
    {
        var (category, token, userId, products) = await App.AddReviewedCatalogAsync("qc", Products);
        var busy = products[0];

        var endpoints = new (string Name, string Url, Func<int, int> Naive, int Optimized)[]
        {
            ("#2 products", $"/api/products?category={category}&ordering=-price", n => 2 + 2 * n, 2),
            ("#3 detail", $"/api/products/{busy.Id}", _ => 4 + 10, 1),
            ("#4 product reviews", $"/api/products/{busy.Id}/reviews", n => 3 + n, 2),
            ("#5 search", $"/api/search/products?q={token}&category={category}", n => 2 + 2 * n, 2),
            ("#13 reviews", $"/api/reviews?user_id={userId}", n => 2 + n, 2),
        };
        var report = new List<string>();
        foreach (var (name, url, naive, optimized) in endpoints)
        {
            var counts = new Dictionary<int, (int Naive, int Optimized)>();
            foreach (var size in new[] { 20, 100 })
            {
                var sep = url.Contains('?') ? '&' : '?';
                var result = await Client.BothPathsAsync(name.StartsWith("#3", StringComparison.Ordinal) ? url : $"{url}{sep}page_size={size}", Ct);
                counts[size] = (result.NaiveQueries, result.OptimizedQueries);
                Assert.Equal(naive(size), result.NaiveQueries);
                Assert.Equal(optimized, result.OptimizedQueries);
                Assert.True(result.OptimizedQueries <= 3);
            }
            report.Add($"{App.Engine} {name}: naive {counts[20].Naive}/{counts[100].Naive}, optimized {counts[20].Optimized}/{counts[100].Optimized} (page_size 20/100)");
        }
        TestContext.Current.SendDiagnosticMessage(string.Join(Environment.NewLine, report));
    }
}

public sealed class QueryCountSqliteTests(SqliteApp app) : QueryCountTests(app), IClassFixture<SqliteApp>;

public sealed class QueryCountPostgresTests(PostgresApp app) : QueryCountTests(app), IClassFixture<PostgresApp>;
