#:sdk Microsoft.NET.Sdk.Web
#:package Npgsql
#:project ../../src/ExBuy.Api/ExBuy.Api.csproj
#:property ServerGarbageCollection=true
#:property TieredPGO=true
#:property PublishAot=false

// The baseline of bench/compare.sh: a bare raw-Npgsql handler serving the same responses as ExBuy's optimized path,
// with the same SQL, the same JSON context and the same connection-string settings, and nothing else (no EF, no
// middleware). ExBuy's endpoints are measured against it in the same run, and bench/compare.sh checks first that both
// answer byte for byte the same.
//
// It reuses the API project's query-string parsing (ProductListQuery.Parse, PageRequest, QueryParsing), its DTOs, its
// rating rule and its pagination links (PageRequest.ToPage), so what differs from ExBuy is only how the rows are
// fetched: plain Npgsql (NpgsqlDataSource, positional $n parameters, a reader) instead of EF Core. It answers the
// optimized path whatever `optimize` says, and only the successful (200) answers are meant to match ExBuy's: errors are
// bare (no problem+json body for a 404 of an unknown id).
using System.Globalization;
using System.Text;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Health;
using ExBuy.Api.Orders;
using ExBuy.Api.Products;
using ExBuy.Api.Reviews;
using ExBuy.Api.Stats;
using Npgsql;
using NpgsqlTypes;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => ExBuyJsonContext.Configure(o.SerializerOptions));
var options = DatabaseOptions.FromConfiguration(builder.Configuration);
var dataSource = new NpgsqlDataSourceBuilder(options.PostgresConnectionString()).Build();
var app = builder.Build();

var ok = new HealthResponse("ok");
app.MapGet("/api/health", () => TypedResults.Ok(ok));

// GET /api/products/{id}: one statement, flat rows (the product once per review, once with null review columns).
app.MapGet("/api/products/{id:long:min(1)}", async (long id, CancellationToken ct) =>
{
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    await using var cmd = new NpgsqlCommand(RawSql.ProductDetail, conn);
    cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
    await using var reader = await cmd.ExecuteReaderAsync(ct);
    ProductDetailDto? product = null;
    var reviews = new List<ReviewDto>(ProductDetailDto.RecentReviewCount);
    while (await reader.ReadAsync(ct))
    {
        if (product is null)
        {
            var count = reader.GetInt64(7);
            var sum = reader.GetInt64(8);
            product = new ProductDetailDto(reader.GetInt64(0), reader.GetString(1), reader.GetDecimal(2), reader.GetInt32(3),
                reader.GetString(4), reader.GetDateTime(5), reader.GetDateTime(6), count, Ratings.Average(sum, count), reviews);
        }
        if (!reader.IsDBNull(9))
        {
            reviews.Add(new ReviewDto(reader.GetInt64(9), product.Id, product.Name, reader.GetInt64(10), reader.GetInt32(11),
                reader.GetString(12), reader.GetDateTime(13)));
        }
    }
    return product is null ? Results.NotFound() : TypedResults.Ok(product);
});

// GET /api/products: COUNT, then the page (its ids first in a LIMIT/OFFSET subquery).
app.MapGet("/api/products", async Task<IResult> (HttpRequest request, CancellationToken ct) =>
{
    var errors = new ValidationErrors();
    var q = ProductListQuery.Parse(request.Query, errors);
    if (!errors.IsValid)
    {
        return TypedResults.ValidationProblem(errors);
    }
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    long total;
    await using (var count = new NpgsqlCommand(null, conn))
    {
        count.CommandText = RawSql.ProductCount.Replace("{filters}", Filters.Products("p", q, count.Parameters));
        total = (long)(await count.ExecuteScalarAsync(ct))!;
    }
    if (q.Page.IsPastEnd(total))
    {
        return PageRequest.PastEnd();
    }
    await using var page = new NpgsqlCommand(null, conn);
    page.CommandText = RawSql.ProductPage(Filters.Products("p0", q, page.Parameters), q.OrderBy, q.Descending, q.Page, page.Parameters);
    return TypedResults.Ok(q.Page.ToPage(request, total, await Rows.ProductsAsync(page, q.Page.Size, ct)));
});

// GET /api/search/products: the same two statements with the search filters, ordered by id.
app.MapGet("/api/search/products", async Task<IResult> (HttpRequest request, CancellationToken ct) =>
{
    var errors = new ValidationErrors();
    var q = ProductSearchQuery.Parse(request.Query, errors);
    if (!errors.IsValid)
    {
        return TypedResults.ValidationProblem(errors);
    }
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    long total;
    await using (var count = new NpgsqlCommand(null, conn))
    {
        count.CommandText = RawSql.ProductCount.Replace("{filters}", Filters.Search("p", q, count.Parameters));
        total = (long)(await count.ExecuteScalarAsync(ct))!;
    }
    if (q.Page.IsPastEnd(total))
    {
        return PageRequest.PastEnd();
    }
    await using var page = new NpgsqlCommand(null, conn);
    page.CommandText = RawSql.ProductPage(Filters.Search("p0", q, page.Parameters), "id", false, q.Page, page.Parameters);
    return TypedResults.Ok(q.Page.ToPage(request, total, await Rows.ProductsAsync(page, q.Page.Size, ct)));
});

// GET /api/products/{id}/reviews: the live product's review count (no row: 404), then the page.
app.MapGet("/api/products/{id:long:min(1)}/reviews", async Task<IResult> (long id, HttpRequest request, CancellationToken ct) =>
{
    var errors = new ValidationErrors();
    var q = ProductReviewsQuery.Parse(request.Query, errors);
    if (!errors.IsValid)
    {
        return TypedResults.ValidationProblem(errors);
    }
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    long total;
    await using (var count = new NpgsqlCommand(RawSql.ProductReviewCount, conn))
    {
        count.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        if (await count.ExecuteScalarAsync(ct) is not long c)
        {
            return Results.NotFound();
        }
        total = c;
    }
    if (q.Page.IsPastEnd(total))
    {
        return PageRequest.PastEnd();
    }
    await using var page = new NpgsqlCommand(null, conn);
    page.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
    page.CommandText = RawSql.Paged(RawSql.ProductReviewPage, q.Page, page.Parameters);
    return TypedResults.Ok(q.Page.ToPage(request, total, await Rows.ReviewsAsync(page, q.Page.Size, ct)));
});

// GET /api/reviews: (all matching) - (matching reviews of deleted products) in one statement, then the page.
app.MapGet("/api/reviews", async Task<IResult> (HttpRequest request, CancellationToken ct) =>
{
    var errors = new ValidationErrors();
    var q = ReviewListQuery.Parse(request.Query, errors);
    if (!errors.IsValid)
    {
        return TypedResults.ValidationProblem(errors);
    }
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    long total;
    await using (var count = new NpgsqlCommand(null, conn))
    {
        var r = Filters.Reviews("r", q, count.Parameters);
        var r0 = Filters.Reviews("r0", q, null);
        count.CommandText = RawSql.ReviewCount
            .Replace("{where_r}", r.Length == 0 ? "" : "\n    WHERE " + r)
            .Replace("{r0_and}", r0.Length == 0 ? "" : r0 + " AND ");
        total = (long)(await count.ExecuteScalarAsync(ct))!;
    }
    if (q.Page.IsPastEnd(total))
    {
        return PageRequest.PastEnd();
    }
    await using var page = new NpgsqlCommand(null, conn);
    var filters = Filters.Reviews("r0", q, page.Parameters);
    page.CommandText = RawSql.Paged(RawSql.ReviewPage, q.Page, page.Parameters).Replace("{r0_and}", filters.Length == 0 ? "" : filters + " AND ");
    return TypedResults.Ok(q.Page.ToPage(request, total, await Rows.ReviewsAsync(page, q.Page.Size, ct)));
});

// GET /api/orders/{id}: one statement, the order LEFT JOINed to its items and their product names.
app.MapGet("/api/orders/{id:long:min(1)}", async Task<IResult> (long id, CancellationToken ct) =>
{
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    await using var cmd = new NpgsqlCommand(RawSql.OrderDetail, conn);
    cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
    await using var reader = await cmd.ExecuteReaderAsync(ct);
    if (!await reader.ReadAsync(ct))
    {
        return Results.NotFound();
    }
    var (orderId, userId, status, total) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetDecimal(3));
    var (createdAt, updatedAt) = (reader.GetDateTime(4), reader.GetDateTime(5));
    var items = new List<OrderItemDto>(5);
    do
    {
        if (!reader.IsDBNull(6))
        {
            var quantity = reader.GetInt32(9);
            var unitPrice = reader.GetDecimal(10);
            // Subtotal in C#, as ExBuy's OrderQueries.Item does.
            items.Add(new OrderItemDto(reader.GetInt64(6), reader.GetInt64(7), reader.GetString(8), quantity, unitPrice,
                quantity * unitPrice));
        }
    }
    while (await reader.ReadAsync(ct));
    return TypedResults.Ok(new OrderDto(orderId, userId, status, total, createdAt, updatedAt, items));
});

// GET /api/stats/top-products: one statement (rank, then revenue for the kept rows only).
app.MapGet("/api/stats/top-products", async Task<IResult> (HttpRequest request, CancellationToken ct) =>
{
    var errors = new ValidationErrors();
    var limit = QueryParsing.Int(request.Query, "limit", StatsApi.DefaultLimit, 1, StatsApi.MaxLimit, errors);
    if (!errors.IsValid)
    {
        return TypedResults.ValidationProblem(errors);
    }
    await using var conn = await dataSource.OpenConnectionAsync(ct);
    await using var cmd = new NpgsqlCommand(RawSql.TopProducts, conn);
    cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
    await using var reader = await cmd.ExecuteReaderAsync(ct);
    var results = new List<TopProductDto>(limit);
    while (await reader.ReadAsync(ct))
    {
        results.Add(new TopProductDto(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetDecimal(3),
            reader.GetInt64(4)));
    }
    return TypedResults.Ok(new TopProductsResponse(limit, results));
});

app.Run();

/// <summary>
/// The WHERE conditions EF Core appends for each optional filter, in EF's order, with the parameters numbered $1, $2…
/// in that order (added to <c>parameters</c>; null = only the SQL, for a second use of the same parameters).
/// </summary>
static class Filters
{
    public static string Products(string a, ProductListQuery q, NpgsqlParameterCollection? parameters)
    {
        var sb = new StringBuilder();
        var n = 0;
        if (q.Category is { } category)
        {
            sb.Append(" AND ").Append(a).Append(".category = $").Append(++n);
            parameters?.Add(new NpgsqlParameter<string> { TypedValue = category });
        }
        if (q.MinPrice is { } min)
        {
            sb.Append(" AND ").Append(a).Append(".price >= $").Append(++n);
            parameters?.Add(new NpgsqlParameter<decimal> { TypedValue = min });
        }
        if (q.MaxPrice is { } max)
        {
            sb.Append(" AND ").Append(a).Append(".price <= $").Append(++n);
            parameters?.Add(new NpgsqlParameter<decimal> { TypedValue = max });
        }
        return sb.ToString();
    }

    public static string Search(string a, ProductSearchQuery q, NpgsqlParameterCollection? parameters)
    {
        var sb = new StringBuilder();
        var n = 0;
        if (q.Text is { } text)
        {
            sb.Append(" AND ").Append(a).Append(".name ILIKE $").Append(++n).Append(" ESCAPE '\\'");
            parameters?.Add(new NpgsqlParameter<string> { TypedValue = LikePattern.Contains(text) });
        }
        if (q.Category is { } category)
        {
            sb.Append(" AND ").Append(a).Append(".category = $").Append(++n);
            parameters?.Add(new NpgsqlParameter<string> { TypedValue = category });
        }
        if (q.InStock is { } inStock)
        {
            sb.Append(" AND ").Append(a).Append(inStock ? ".stock > 0" : ".stock = 0");
        }
        return sb.ToString();
    }

    /// <summary>"r.product_id = $1 AND r.user_id = $2 AND r.rating = $3" (without a leading AND), or "".</summary>
    public static string Reviews(string a, ReviewListQuery q, NpgsqlParameterCollection? parameters)
    {
        var sb = new StringBuilder();
        var n = 0;
        if (q.ProductId is { } productId)
        {
            sb.Append(a).Append(".product_id = $").Append(++n);
            parameters?.Add(new NpgsqlParameter<long> { TypedValue = productId });
        }
        if (q.UserId is { } userId)
        {
            sb.Append(n > 0 ? " AND " : "").Append(a).Append(".user_id = $").Append(++n);
            parameters?.Add(new NpgsqlParameter<long> { TypedValue = userId });
        }
        if (q.Rating is { } rating)
        {
            sb.Append(n > 0 ? " AND " : "").Append(a).Append(".rating = $").Append(++n);
            parameters?.Add(new NpgsqlParameter<int> { TypedValue = rating });
        }
        return sb.ToString();
    }
}

static class Rows
{
    /// <summary>id, name, price, stock, category, created_at, updated_at, review count, rating sum.</summary>
    public static async Task<List<ProductDto>> ProductsAsync(NpgsqlCommand cmd, int capacity, CancellationToken ct)
    {
        var results = new List<ProductDto>(capacity);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var count = reader.GetInt64(7);
            results.Add(new ProductDto(reader.GetInt64(0), reader.GetString(1), reader.GetDecimal(2), reader.GetInt32(3),
                reader.GetString(4), reader.GetDateTime(5), reader.GetDateTime(6), count, Ratings.Average(reader.GetInt64(8), count)));
        }
        return results;
    }

    /// <summary>id, product_id, product name, user_id, rating, body, created_at.</summary>
    public static async Task<List<ReviewDto>> ReviewsAsync(NpgsqlCommand cmd, int capacity, CancellationToken ct)
    {
        var results = new List<ReviewDto>(capacity);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            results.Add(new ReviewDto(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt64(3),
                reader.GetInt32(4), reader.GetString(5), reader.GetDateTime(6)));
        }
        return results;
    }
}

/// <summary>
/// ExBuy's SQL as EF Core generates it on PostgreSQL for the optimize=true path, captured with DB_LOG_LEVEL=DEBUG
/// against the bench database (bench/compare.sh) and pasted with EF's @name parameters renamed to $1, $2…: the baseline
/// runs the same statements and differs only in what surrounds them. Where EF varies the text with the request, the
/// template marks the place ({filters}, {order}, …) and the C# above fills it in exactly as EF does. EF writes a page's
/// LIMIT and OFFSET into the text as literals (they come from an IQueryable composed into the outer query), not as
/// parameters, so they are literals here too: same statement text per page on both sides.
/// </summary>
static class RawSql
{
    // ExBuy's SQL as EF generates it: ProductDetailQuery (optimized GET /api/products/{id}), @id → $1.
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

    // ExBuy's SQL as EF generates it: ProductQueries.CountAsync for GET /api/products and /api/search/products.
    // {filters}: " AND p.category = $1 AND p.price >= $2 AND p.price <= $3" (list) or
    // " AND p.name ILIKE $1 ESCAPE '\' AND p.category = $2 AND p.stock > 0" (search), each only when given.
    public const string ProductCount = """
        SELECT count(*)
        FROM products AS p
        WHERE p.deleted_at IS NULL{filters}
        """;

    // ExBuy's SQL as EF generates it: ProductQueries.Optimized.PageAsync (the page's ids first, then their rows and
    // review aggregates). {filters} as above with the alias p0; {order} is "price DESC, {a}.id DESC", "id", … per
    // ?ordering= (see Order); {limit}/{offset} are EF's @size/@offset parameters.
    public const string ProductPageTemplate = """
        SELECT p.id, p.name, p.price, p.stock, p.category, p.created_at, p.updated_at, (
            SELECT count(*)
            FROM reviews AS r
            WHERE p.id = r.product_id), (
            SELECT COALESCE(sum(r0.rating::bigint), 0.0)::bigint
            FROM reviews AS r0
            WHERE p.id = r0.product_id)
        FROM products AS p
        WHERE p.id IN (
            SELECT p0.id
            FROM products AS p0
            WHERE p0.deleted_at IS NULL{filters}
            ORDER BY {inner_order}
            LIMIT {limit} OFFSET {offset}
        )
        ORDER BY {order}
        """;

    // ExBuy's SQL as EF generates it: ReviewQueries.Optimized.CountForProductAsync (GET /api/products/{id}/reviews),
    // @productId → $1. No row: the product is unknown or deleted (404).
    public const string ProductReviewCount = """
        SELECT (
            SELECT count(*)
            FROM reviews AS r
            WHERE p.id = r.product_id)
        FROM products AS p
        WHERE p.deleted_at IS NULL AND p.id = $1
        LIMIT 1
        """;

    // ExBuy's SQL as EF generates it: ReviewQueries.Optimized.ProductPageAsync, @productId → $1.
    public const string ProductReviewPage = """
        SELECT r.id, r.product_id, p.name, r.user_id, r.rating, r.body, r.created_at
        FROM reviews AS r
        INNER JOIN products AS p ON r.product_id = p.id
        WHERE r.id IN (
            SELECT r0.id
            FROM reviews AS r0
            WHERE r0.product_id = $1
            ORDER BY r0.created_at DESC, r0.id DESC
            LIMIT {limit} OFFSET {offset}
        )
        ORDER BY r.created_at DESC, r.id DESC
        """;

    // ExBuy's SQL as EF generates it: ReviewQueries.Optimized.CountAsync (GET /api/reviews). {where_r}: "\n    WHERE
    // r.product_id = $1 AND r.user_id = $2 AND r.rating = $3" (each only when given, nothing without filters);
    // {r0_and}: the same conditions on r0 followed by " AND ".
    public const string ReviewCount = """
        SELECT (
            SELECT count(*)
            FROM reviews AS r{where_r}) - (
            SELECT count(*)
            FROM reviews AS r0
            WHERE {r0_and}EXISTS (
                SELECT 1
                FROM products AS p
                WHERE p.id = r0.product_id AND p.deleted_at IS NOT NULL))
        FROM (
            SELECT 1 AS "Value"
        ) AS s
        """;

    // ExBuy's SQL as EF generates it: ReviewQueries.Optimized.PageAsync (GET /api/reviews), {r0_and} as above.
    public const string ReviewPage = """
        SELECT r.id, r.product_id, p0.name, r.user_id, r.rating, r.body, r.created_at
        FROM reviews AS r
        INNER JOIN products AS p0 ON r.product_id = p0.id
        WHERE r.id IN (
            SELECT r0.id
            FROM reviews AS r0
            WHERE {r0_and}NOT EXISTS (
                SELECT 1
                FROM products AS p
                WHERE p.id = r0.product_id AND p.deleted_at IS NOT NULL)
            ORDER BY r0.created_at DESC, r0.id DESC
            LIMIT {limit} OFFSET {offset}
        )
        ORDER BY r.created_at DESC, r.id DESC
        """;

    // ExBuy's SQL as EF generates it: OrderDetailQuery (GET /api/orders/{id}, flat rows ordered by item id), @id → $1.
    public const string OrderDetail = """
        SELECT o.id, o.user_id, o.status, o.total_price, o.created_at, o.updated_at, s.id, s.product_id, p.name, s.quantity, s.unit_price
        FROM orders AS o
        CROSS JOIN (
            SELECT o1.id, o1.product_id, o1.quantity, o1.unit_price
            FROM (
                SELECT 1
            ) AS e
            LEFT JOIN (
                SELECT o0.id, o0.product_id, o0.quantity, o0.unit_price
                FROM order_items AS o0
                WHERE o0.order_id = $1
            ) AS o1 ON TRUE
        ) AS s
        LEFT JOIN products AS p ON s.product_id = p.id
        WHERE o.id = $1
        ORDER BY s.id
        """;

    // ExBuy's SQL as EF generates it: StatsQueries.TopProducts (GET /api/stats/top-products; non-cancelled as NOT IN over
    // the cancelled ids since fbd5caa), @p → $1.
    public const string TopProducts = """
        SELECT o1."ProductId", p0.name, o1."UnitsSold", (
            SELECT COALESCE(sum(o2.quantity::numeric(12,2) * o2.unit_price), 0.0)
            FROM order_items AS o2
            WHERE o2.order_id NOT IN (
                SELECT o3.id
                FROM orders AS o3
                WHERE o3.status = 'cancelled'
            ) AND o2.product_id = o1."ProductId"), o1."OrderCount"
        FROM (
            SELECT o.product_id AS "ProductId", COALESCE(sum(o.quantity::bigint), 0.0)::bigint AS "UnitsSold", count(*) AS "OrderCount"
            FROM order_items AS o
            WHERE o.order_id NOT IN (
                SELECT o0.id
                FROM orders AS o0
                WHERE o0.status = 'cancelled'
            )
            GROUP BY o.product_id
        ) AS o1
        INNER JOIN (
            SELECT p.id, p.name
            FROM products AS p
            WHERE p.deleted_at IS NULL
        ) AS p0 ON o1."ProductId" = p0.id
        ORDER BY o1."UnitsSold" DESC, o1."ProductId"
        LIMIT $1
        """;

    /// <summary>A template with EF's LIMIT/OFFSET parameters: appended after the filters' parameters, size then offset.</summary>
    public static string Paged(string template, PageRequest page, NpgsqlParameterCollection parameters)
    {
        parameters.Add(new NpgsqlParameter<int> { TypedValue = page.Size });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = page.Offset });
        return template
            .Replace("{limit}", "$" + (parameters.Count - 1).ToString(CultureInfo.InvariantCulture))
            .Replace("{offset}", "$" + parameters.Count.ToString(CultureInfo.InvariantCulture));
    }

    public static string ProductPage(string filters, string field, bool descending, PageRequest page,
        NpgsqlParameterCollection parameters) =>
        Paged(ProductPageTemplate, page, parameters)
            .Replace("{filters}", filters)
            .Replace("{inner_order}", Order("p0", field, descending))
            .Replace("{order}", Order("p", field, descending));

    /// <summary>ProductQueries.Order: the column, then id in the same direction ("p.id" alone when ordering by id).</summary>
    private static string Order(string a, string field, bool descending)
    {
        var dir = descending ? " DESC" : "";
        return field == "id" ? $"{a}.id{dir}" : $"{a}.{field}{dir}, {a}.id{dir}";
    }
}
