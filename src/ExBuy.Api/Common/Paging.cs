using System.Text;
using ExBuy.Api.Data;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Common;

/// <summary>DRF-style page (contract: Pagination).</summary>
public sealed record Page<T>(long Count, string? Next, string? Previous, IReadOnlyList<T> Results);

/// <summary>The query of a paginated endpoint: parsed from the query string, with its page and its optimize flag.</summary>
public interface IPagedQuery<TSelf> where TSelf : IPagedQuery<TSelf>
{
    PageRequest Page { get; }

    bool Optimize { get; }

    static abstract TSelf Parse(IQueryCollection query, ValidationErrors errors);
}

/// <summary>
/// The one shape of every list endpoint: parse (400 naming the parameter) → count (null = the parent is missing, 404)
/// → a page past the end (404) → the page → DRF links.
/// </summary>
public static class Paged
{
    public static async Task<Results<Ok<Page<T>>, ValidationProblem, NotFound, ProblemHttpResult>> ListAsync<TQuery, T>(
        HttpRequest request, ExBuyDb db, Func<TQuery, Task<long?>> count, Func<TQuery, Task<List<T>>> page,
        CancellationToken ct)
        where TQuery : IPagedQuery<TQuery>
    {
        var errors = new ValidationErrors();
        var query = TQuery.Parse(request.Query, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await db.KeepConnectionOpenAsync(ct);
        if (await count(query) is not { } total)
        {
            return TypedResults.NotFound();
        }
        if (query.Page.IsPastEnd(total))
        {
            return PageRequest.PastEnd();
        }
        return TypedResults.Ok(query.Page.ToPage(request, total, await page(query)));
    }
}

/// <summary><c>?page=</c> (1-based) and <c>?page_size=</c> (1..100, default 20), validated once per request.</summary>
public readonly record struct PageRequest(int Number, int Size)
{
    public const int DefaultSize = 20;
    public const int MaxSize = 100;

    /// <summary>Rows to skip; only meaningful once <see cref="IsPastEnd"/> said the page exists (so it fits an int).</summary>
    public int Offset => (int)LongOffset;

    /// <summary>page=2147483647 with page_size=100 overflows an int: compare in long so it is a 404, not a wrap.</summary>
    private long LongOffset => (long)(Number - 1) * Size;

    /// <summary>Parses paging from the query string, adding "page"/"page_size" errors to <paramref name="errors"/>.</summary>
    public static PageRequest Parse(IQueryCollection query, ValidationErrors errors)
    {
        var number = QueryParsing.Int(query, "page", 1, 1, int.MaxValue, errors);
        var size = QueryParsing.Int(query, "page_size", DefaultSize, 1, MaxSize, errors);
        return new PageRequest(number, size);
    }

    /// <summary>A page past the last one is a 404; page 1 of an empty result is an empty page.</summary>
    public bool IsPastEnd(long count) => Number > 1 && LongOffset >= count;

    public Page<T> ToPage<T>(HttpRequest request, long count, IReadOnlyList<T> results)
    {
        var hasNext = LongOffset + results.Count < count;
        return new Page<T>(
            count,
            hasNext ? Link(request, Number + 1) : null,
            Number > 1 ? Link(request, Number - 1) : null,
            results);
    }

    /// <summary>The 404 for a page past the end (DRF: "Invalid page.").</summary>
    public static ProblemHttpResult PastEnd() =>
        TypedResults.Problem("Invalid page: it is past the last page of results.", statusCode: 404, title: "Not Found");

    /// <summary>An absolute URL to page <paramref name="page"/>, keeping the request's other query parameters.</summary>
    private static string Link(HttpRequest request, int page)
    {
        var sb = new StringBuilder(128);
        sb.Append(request.Scheme).Append("://").Append(request.Host.Value).Append(request.PathBase.Value)
            .Append(request.Path.Value).Append("?page=").Append(page);
        foreach (var (key, values) in request.Query)
        {
            if (key == "page")
            {
                continue;
            }
            foreach (var value in values)
            {
                sb.Append('&').Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value ?? ""));
            }
        }
        return sb.ToString();
    }
}
