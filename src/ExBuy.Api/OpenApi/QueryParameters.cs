using ExBuy.Api.Common;
using ExBuy.Api.Inventory;
using ExBuy.Api.Products;
using ExBuy.Api.Reviews;
using ExBuy.Api.Stats;

namespace ExBuy.Api.OpenApi;

/// <summary>
/// A query parameter as the OpenAPI document describes it. Handlers parse their query strings themselves (so a bad value
/// is a 400 naming the parameter, <see cref="QueryParsing"/>); this metadata tells the document what they read, from the
/// same constants the parsers check.
/// </summary>
public sealed record QueryParameter(
    string Name,
    string Type,
    string Description,
    string? Default = null,
    IReadOnlyList<string>? Choices = null,
    long? Minimum = null,
    long? Maximum = null,
    int? MaxLength = null);

/// <summary>Endpoint metadata: the query parameters a handler reads (several may be attached; they add up).</summary>
public sealed class QueryParameterList(IReadOnlyList<QueryParameter> items)
{
    public IReadOnlyList<QueryParameter> Items { get; } = items;
}

/// <summary>Every query parameter of the contract, once.</summary>
public static class Query
{
    private static readonly string[] Flags = ["true", "false", "1", "0"];

    public static readonly QueryParameter Optimize = new("optimize", "string",
        "`false` (default): the naive ORM path, one query per related row (N+1). `true`: the projection path, at most 3 " +
        "queries. Same JSON either way; compare `X-Query-Count`. Case-insensitive.", "false", Flags);

    public static readonly QueryParameter[] Pagination =
    [
        new("page", "integer", "1-based page number; a page past the last one is a 404.", "1", Minimum: 1, Maximum: int.MaxValue),
        new("page_size", "integer", "Rows per page.", PageRequest.DefaultSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Minimum: 1, Maximum: PageRequest.MaxSize),
    ];

    public static readonly QueryParameter Category = new("category", "string",
        "Exact category, e.g. `electronics`; empty or absent: every category.");

    public static readonly QueryParameter[] PriceRange =
    [
        new("min_price", "number", "Lowest price, inclusive: a decimal ≥ 0 with at most 2 places."),
        new("max_price", "number", "Highest price, inclusive: a decimal ≥ 0 with at most 2 places."),
    ];

    public static readonly QueryParameter Ordering = new("ordering", "string",
        "Sort field, `-` for descending.", "id",
        [.. ProductListQuery.OrderingFields.SelectMany(f => new[] { f, "-" + f })]);

    public static readonly QueryParameter Text = new("q", "string",
        "Case-insensitive substring of the product name; empty or absent: no text filter.", MaxLength: ProductSearchQuery.MaxTextLength);

    public static readonly QueryParameter InStock = new("in_stock", "string",
        "`true`: stock > 0, `false`: stock = 0; absent: both. Case-insensitive.", Choices: Flags);

    public static readonly QueryParameter[] ReviewFilters =
    [
        new("product_id", "integer", "Reviews of this product.", Minimum: 1),
        new("user_id", "integer", "Reviews by this user.", Minimum: 1),
        new("rating", "integer", "Reviews with this rating.", Minimum: CreateReviewRequest.MinRating, Maximum: CreateReviewRequest.MaxRating),
    ];

    public static readonly QueryParameter Limit = new("limit", "integer", "Number of products.",
        StatsApi.DefaultLimit.ToString(System.Globalization.CultureInfo.InvariantCulture), Minimum: 1, Maximum: StatsApi.MaxLimit);

    public static readonly QueryParameter LockType = new("lock_type", "string",
        "`optimistic`: one conditional UPDATE; `pessimistic`: a row lock (SELECT … FOR UPDATE); `versioned`: " +
        "compare-and-swap on a version column with bounded retries.", Reservations.Optimistic, Reservations.LockTypes);
}

public static class QueryParameterExtensions
{
    /// <summary>Documents the query parameters this endpoint reads (the optimize flag comes with <c>WithOptimizeFlag</c>).</summary>
    public static TBuilder WithQuery<TBuilder>(this TBuilder builder, params QueryParameter[] parameters)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new QueryParameterList(parameters));
}
