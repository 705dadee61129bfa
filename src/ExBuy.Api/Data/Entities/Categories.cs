namespace ExBuy.Api.Data.Entities;

/// <summary>The seeder's categories (contract: Resources); filters accept any string.</summary>
public static class Categories
{
    public static readonly string[] All =
        ["electronics", "books", "clothing", "home", "sports", "toys", "beauty", "food", "garden", "automotive"];
}
