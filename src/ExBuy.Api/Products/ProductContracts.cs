using ExBuy.Api.Common;
using ExBuy.Api.Reviews;

namespace ExBuy.Api.Products;

/// <summary>Product (contract: Resources). <c>avg_rating</c> is the mean rating rounded to 2 decimals, null without reviews.</summary>
public sealed record ProductDto(
    long Id,
    string Name,
    decimal Price,
    int Stock,
    string Category,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long ReviewCount,
    decimal? AvgRating);

/// <summary>ProductDetail = Product + up to <see cref="RecentReviewCount"/> newest reviews.</summary>
public sealed record ProductDetailDto(
    long Id,
    string Name,
    decimal Price,
    int Stock,
    string Category,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long ReviewCount,
    decimal? AvgRating,
    IReadOnlyList<ReviewDto> RecentReviews)
{
    /// <summary>Number of reviews embedded in ProductDetail (contract: Resources).</summary>
    public const int RecentReviewCount = 10;
}

/// <summary>The contract's rating rule, applied after SQL on every path.</summary>
public static class Ratings
{
    /// <summary>
    /// The mean rating rounded to 2 decimals, null without reviews. SUM and COUNT come from SQL on both paths and the
    /// division happens here, so both engines and both paths agree to the last digit.
    /// </summary>
    public static decimal? Average(long sum, long count) =>
        count == 0 ? null : Math.Round((decimal)sum / count, 2, MidpointRounding.AwayFromZero);
}

/// <summary>
/// Query of <c>GET /api/products</c> (contract #2). An empty <c>category</c> is no filter (django-filter skips empty
/// values); <c>ordering</c> is one of <see cref="OrderingFields"/> with an optional <c>-</c>.
/// </summary>
public sealed record ProductListQuery(
    string? Category,
    decimal? MinPrice,
    decimal? MaxPrice,
    string OrderBy,
    bool Descending,
    PageRequest Page,
    bool Optimize) : IPagedQuery<ProductListQuery>
{
    public static readonly string[] OrderingFields = ["id", "name", "price", "stock", "created_at"];

    public static ProductListQuery Parse(IQueryCollection query, ValidationErrors errors)
    {
        var category = QueryParsing.OptionalString(query, "category", int.MaxValue, errors);
        var min = QueryParsing.OptionalMoney(query, "min_price", errors);
        var max = QueryParsing.OptionalMoney(query, "max_price", errors);
        var ordering = QueryParsing.OptionalString(query, "ordering", int.MaxValue, errors) ?? "id";
        var descending = ordering.StartsWith('-');
        var field = descending ? ordering[1..] : ordering;
        if (!OrderingFields.Contains(field, StringComparer.Ordinal))
        {
            errors.Add("ordering", $"Must be one of {string.Join(", ", OrderingFields)}, optionally prefixed with '-'.");
        }
        var page = PageRequest.Parse(query, errors);
        var optimize = QueryParsing.Flag(query, "optimize", errors);
        return new ProductListQuery(NullIfEmpty(category), min, max, field, descending, page, optimize);
    }

    internal static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>Query of <c>GET /api/search/products</c> (contract #5); empty <c>q</c>/<c>category</c> = no filter.</summary>
public sealed record ProductSearchQuery(string? Text, string? Category, bool? InStock, PageRequest Page, bool Optimize)
    : IPagedQuery<ProductSearchQuery>
{
    public const int MaxTextLength = 100;

    public static ProductSearchQuery Parse(IQueryCollection query, ValidationErrors errors)
    {
        var text = QueryParsing.OptionalString(query, "q", MaxTextLength, errors);
        var category = QueryParsing.OptionalString(query, "category", int.MaxValue, errors);
        var inStock = QueryParsing.OptionalFlag(query, "in_stock", errors);
        var page = PageRequest.Parse(query, errors);
        var optimize = QueryParsing.Flag(query, "optimize", errors);
        return new ProductSearchQuery(
            ProductListQuery.NullIfEmpty(text), ProductListQuery.NullIfEmpty(category), inStock, page, optimize);
    }
}

/// <summary>Query of <c>GET /api/products/{id}/reviews</c> (contract #4): paging and the optimize flag.</summary>
public sealed record ProductReviewsQuery(PageRequest Page, bool Optimize) : IPagedQuery<ProductReviewsQuery>
{
    public static ProductReviewsQuery Parse(IQueryCollection query, ValidationErrors errors) =>
        new(PageRequest.Parse(query, errors), QueryParsing.Flag(query, "optimize", errors));
}
