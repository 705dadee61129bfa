using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>
/// The engine-specific part of <c>GET /api/search/products?q=</c> (contract #5: case-insensitive substring of the name).
/// One implementation per engine, chosen once by the <see cref="ExBuyDb"/> subclass, like every engine difference.
/// </summary>
public interface ITextSearch
{
    IQueryable<Product> WhereNameContains(IQueryable<Product> products, string text);
}

/// <summary><c>ILIKE</c>, which the trigram GIN index on live product names can serve.</summary>
public sealed class PostgresTextSearch : ITextSearch
{
    public static readonly PostgresTextSearch Instance = new();

    public IQueryable<Product> WhereNameContains(IQueryable<Product> products, string text)
    {
        var pattern = LikePattern.Contains(text);
        return products.Where(p => EF.Functions.ILike(p.Name, pattern, LikePattern.Escape));
    }
}

/// <summary>SQLite's <c>LIKE</c> is already case-insensitive for ASCII; it scans.</summary>
public sealed class SqliteTextSearch : ITextSearch
{
    public static readonly SqliteTextSearch Instance = new();

    public IQueryable<Product> WhereNameContains(IQueryable<Product> products, string text)
    {
        var pattern = LikePattern.Contains(text);
        return products.Where(p => EF.Functions.Like(p.Name, pattern, LikePattern.Escape));
    }
}

public static class LikePattern
{
    /// <summary>The escape character of the LIKE pattern; escaped itself so user input is always literal.</summary>
    public const string Escape = "\\";

    /// <summary><c>%text%</c> with <c>%</c>, <c>_</c> and the escape character matching themselves (<c>q=%</c> finds a literal %).</summary>
    public static string Contains(string text) => "%" + text
        .Replace(Escape, Escape + Escape, StringComparison.Ordinal)
        .Replace("%", Escape + "%", StringComparison.Ordinal)
        .Replace("_", Escape + "_", StringComparison.Ordinal) + "%";
}
