using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>PostgreSQL storage: <c>numeric(12,2)</c> money, <c>timestamptz</c>, and a trigram index for <c>?q=</c> search.</summary>
public sealed class PostgresExBuyDb(DbContextOptions<PostgresExBuyDb> options) : ExBuyDb(options)
{
    public override string Engine => DatabaseOptions.Postgres;

    public override ITextSearch Search => PostgresTextSearch.Instance;

    public override IStockSql Stock => PostgresStockSql.Instance;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Properties<decimal>().HavePrecision(12, 2);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        // Search is a case-insensitive substring (ILIKE '%q%'): only a trigram GIN index can serve it.
        modelBuilder.HasPostgresExtension("pg_trgm");
        modelBuilder.Entity<Product>()
            .HasIndex(p => p.Name, "ix_products_name_trgm")
            .HasMethod("gin")
            .HasOperators("gin_trgm_ops")
            .HasFilter("deleted_at IS NULL");

        // Covering columns (INCLUDE) so the hot read paths are index-only scans once VACUUM has set the visibility
        // map (the seeder vacuums after loading): a product's review count and rating sum read (product_id, ...,
        // rating) without touching the heap, and review pages skip OFFSET rows and check the product's deletion from
        // the index alone.
        var reviews = modelBuilder.Entity<Review>();
        reviews.HasIndex(r => new { r.ProductId, r.CreatedAt, r.Id }, "ix_reviews_product_id_created_at_id")
            .IncludeProperties(r => r.Rating);
        reviews.HasIndex(r => new { r.CreatedAt, r.Id }, "ix_reviews_created_at_id").IncludeProperties(r => r.ProductId);
        reviews.HasIndex(r => new { r.UserId, r.CreatedAt, r.Id }, "ix_reviews_user_id_created_at_id")
            .IncludeProperties(r => r.ProductId);
        reviews.HasIndex(r => new { r.Rating, r.CreatedAt, r.Id }, "ix_reviews_rating_created_at_id")
            .IncludeProperties(r => r.ProductId);
    }
}
