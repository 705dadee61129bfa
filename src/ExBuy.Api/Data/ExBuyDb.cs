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

    /// <summary>
    /// Opens the connection for the rest of the request, for handlers that run more than one statement. EF otherwise
    /// opens and closes the pooled connection around every query: on a product's reviews (count + page) that measured
    /// 679 against 267 µs of server CPU per request, the raw-Npgsql handler's figure once the connection stays open. The
    /// pooled context closes it when the request's scope hands the context back.
    /// </summary>
    public Task KeepConnectionOpenAsync(CancellationToken ct) => Database.OpenConnectionAsync(ct);

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ExBuyDb).Assembly);
}
