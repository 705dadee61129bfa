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
        SELECT p0.id, p0.name, p0.price, p0.stock, p0.category, p0.created_at, p0.updated_at, p0.c, p0.c0, r3.id, r3.user_id, r3.rating, r3.body, r3.created_at
        FROM (
            SELECT p.id, p.name, p.price, p.stock, p.category, p.created_at, p.updated_at, (
                SELECT count(*)
                FROM reviews AS r
                WHERE r.product_id = $1) AS c, (
                SELECT COALESCE(sum(r0.rating::bigint), 0.0)::bigint
                FROM reviews AS r0
                WHERE r0.product_id = $1) AS c0
            FROM products AS p
            WHERE p.deleted_at IS NULL AND p.id = $1
            LIMIT 1
        ) AS p0
        LEFT JOIN (
            SELECT r2.id, r2.user_id, r2.rating, r2.body, r2.created_at, r2.product_id
            FROM (
                SELECT r1.id, r1.user_id, r1.rating, r1.body, r1.created_at, r1.product_id, ROW_NUMBER() OVER(PARTITION BY r1.product_id ORDER BY r1.created_at DESC, r1.id DESC) AS row
                FROM reviews AS r1
                WHERE r1.product_id = $1
            ) AS r2
            WHERE r2.row <= 10
        ) AS r3 ON p0.id = r3.product_id
        ORDER BY p0.id, r3.product_id, r3.created_at DESC, r3.id DESC
        """;
}
