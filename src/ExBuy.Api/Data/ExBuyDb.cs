using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>
/// The one model. Provider subclasses (<see cref="SqliteExBuyDb"/>, <see cref="PostgresExBuyDb"/>) own their migrations
/// and the few storage differences (EF docs: "Migrations with multiple providers"). The constructor takes only options
/// so the context can be pooled.
/// </summary>
public abstract class ExBuyDb(DbContextOptions options) : DbContext(options)
{
    public DbSet<Product> Products => Set<Product>();
    public DbSet<Order> Orders => Set<Order>();
    public DbSet<OrderItem> OrderItems => Set<OrderItem>();
    public DbSet<Review> Reviews => Set<Review>();

    /// <summary>"sqlite" or "postgres": the few queries that differ per engine branch on this.</summary>
    public abstract string Engine { get; }

    public bool IsPostgres => Engine == DatabaseOptions.Postgres;

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ExBuyDb).Assembly);
}
