using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>
/// The provider-specific part of <c>GET /api/search/products?q=</c> (contract #5: case-insensitive substring of the
/// name). PostgreSQL gets <c>ILIKE</c>, which the trigram GIN index <c>ix_products_name_trgm</c> (live rows only) can
/// serve; SQLite's <c>LIKE</c> is already case-insensitive for ASCII and scans.
/// </summary>
public static class ProductSearch
{
    /// <summary>The escape character of the LIKE pattern; escaped itself so user input is always literal.</summary>
    public const string Escape = "\\";

    public static IQueryable<Product> WhereNameContains(this IQueryable<Product> products, ExBuyDb db, string text)
    {
        var pattern = "%" + EscapeLike(text) + "%";
        return db.IsPostgres
            ? products.Where(p => EF.Functions.ILike(p.Name, pattern, Escape))
            : products.Where(p => EF.Functions.Like(p.Name, pattern, Escape));
    }

    /// <summary>Makes <c>%</c>, <c>_</c> and the escape character match themselves (<c>q=%</c> finds a literal %).</summary>
    public static string EscapeLike(string text) => text
        .Replace(Escape, Escape + Escape, StringComparison.Ordinal)
        .Replace("%", Escape + "%", StringComparison.Ordinal)
        .Replace("_", Escape + "_", StringComparison.Ordinal);
}
