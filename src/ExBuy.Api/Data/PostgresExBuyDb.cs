using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>PostgreSQL storage: <c>numeric(12,2)</c> money, <c>timestamptz</c>, and a trigram index for <c>?q=</c> search.</summary>
public sealed class PostgresExBuyDb(DbContextOptions<PostgresExBuyDb> options) : ExBuyDb(options)
{
    public override string Engine => DatabaseOptions.Postgres;

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
    }
}
