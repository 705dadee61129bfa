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

    /// <summary>"sqlite" or "postgres", for reports; code never branches on it.</summary>
    public abstract string Engine { get; }

    /// <summary>
    /// Every engine difference is one class per concern behind a small interface, and the subclass picks the
    /// implementations once: name search here, the hand-written stock SQL in <see cref="Stock"/>.
    /// </summary>
    public abstract ITextSearch Search { get; }

    public abstract IStockSql Stock { get; }

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ExBuyDb).Assembly);
}
