#:sdk Microsoft.NET.Sdk.Web
#:package Npgsql
#:project ../../src/ExBuy.Api/ExBuy.Api.csproj
#:property ServerGarbageCollection=true
#:property TieredPGO=true
#:property PublishAot=false

// The baseline of bench/compare.sh: a bare raw-Npgsql handler serving the same responses as ExBuy's optimized path,
// with the same SQL, the same JSON context and the same connection-string settings, and nothing else (no EF, no
// middleware). ExBuy's endpoints are measured against it in the same run.
using System.Data;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Health;
using ExBuy.Api.Products;
using ExBuy.Api.Reviews;
using Npgsql;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => ExBuyJsonContext.Configure(o.SerializerOptions));
var options = DatabaseOptions.FromConfiguration(builder.Configuration);
var dataSource = new NpgsqlDataSourceBuilder(options.PostgresConnectionString()).Build();
var app = builder.Build();

var ok = new HealthResponse("ok");
app.MapGet("/api/health", () => TypedResults.Ok(ok));

app.MapGet("/api/products/{id:long}", async (long id, CancellationToken ct) =>
{
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    await using var cmd = new NpgsqlCommand(RawSql.ProductDetail, conn);
    cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
    await using var reader = await cmd.ExecuteReaderAsync(ct);
    ProductDetailDto? product = null;
    var reviews = new List<ReviewDto>(10);
    while (await reader.ReadAsync(ct))
    {
        if (product is null)
        {
            var count = reader.GetInt64(7);
            var sum = reader.GetInt64(8);
            product = new ProductDetailDto(reader.GetInt64(0), reader.GetString(1), reader.GetDecimal(2), reader.GetInt32(3),
                reader.GetString(4), reader.GetDateTime(5), reader.GetDateTime(6), count,
                count == 0 ? null : Math.Round((decimal)sum / count, 2, MidpointRounding.AwayFromZero), reviews);
        }
        if (!reader.IsDBNull(9))
        {
            reviews.Add(new ReviewDto(reader.GetInt64(9), product.Id, product.Name, reader.GetInt64(10), reader.GetInt32(11),
                reader.GetString(12), reader.GetDateTime(13)));
        }
    }
    return product is null ? Results.NotFound() : TypedResults.Ok(product);
});

app.Run();

static class RawSql
{
    // The SQL EF Core generates for ExBuy's optimized product detail (captured with DB_LOG_LEVEL=DEBUG), with the
    // parameter renamed: the baseline runs the same statement and differs only in what surrounds it.
    public const string ProductDetail = """
        SELECT p.id, p.name, p.price, p.stock, p.category, p.created_at, p.updated_at, (
            SELECT count(*)
            FROM reviews AS r1
            WHERE r1.product_id = $1), (
            SELECT COALESCE(sum(r2.rating::bigint), 0.0)::bigint
            FROM reviews AS r2
            WHERE r2.product_id = $1), s.id, s.user_id, s.rating, s.body, s.created_at
        FROM products AS p
        CROSS JOIN (
            SELECT r0.id, r0.body, r0.created_at, r0.rating, r0.user_id
            FROM (
                SELECT 1
            ) AS e
            LEFT JOIN (
                SELECT r.id, r.body, r.created_at, r.rating, r.user_id
                FROM reviews AS r
                WHERE r.product_id = $1
                ORDER BY r.created_at DESC, r.id DESC
                LIMIT 10
            ) AS r0 ON TRUE
        ) AS s
        WHERE p.deleted_at IS NULL AND p.id = $1
        ORDER BY s.created_at DESC, s.id DESC
        """;
}
