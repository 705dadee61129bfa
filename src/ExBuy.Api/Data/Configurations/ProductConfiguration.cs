using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ExBuy.Api.Data.Configurations;

internal sealed class ProductConfiguration : IEntityTypeConfiguration<Product>
{
    public const int NameMaxLength = 200;
    public const int CategoryMaxLength = 50;
    private const string Live = "deleted_at IS NULL";

    public void Configure(EntityTypeBuilder<Product> b)
    {
        b.ToTable("products", t =>
        {
            t.HasCheckConstraint("ck_products_stock_non_negative", "stock >= 0");
            t.HasCheckConstraint("ck_products_price_non_negative", "price >= 0");
        });
        b.Property(p => p.Name).HasMaxLength(NameMaxLength);
        b.Property(p => p.Category).HasMaxLength(CategoryMaxLength);
        b.Property(p => p.Version).IsConcurrencyToken();

        // Every ordering of GET /api/products (id, name, price, stock, created_at) and its filters, over live rows only.
        b.HasIndex(p => new { p.Category, p.Id }, "ix_products_category_id").HasFilter(Live);
        b.HasIndex(p => new { p.Price, p.Id }, "ix_products_price_id").HasFilter(Live);
        b.HasIndex(p => new { p.Name, p.Id }, "ix_products_name_id").HasFilter(Live);
        b.HasIndex(p => new { p.Stock, p.Id }, "ix_products_stock_id").HasFilter(Live);
        b.HasIndex(p => new { p.CreatedAt, p.Id }, "ix_products_created_at_id").HasFilter(Live);
        // The few deleted products: review counts subtract their reviews and review pages anti-join against them,
        // which is cheaper than joining every review to its live product (a probe per row of a tiny index).
        b.HasIndex(p => p.Id, "ix_products_deleted").HasFilter("deleted_at IS NOT NULL");
    }
}
