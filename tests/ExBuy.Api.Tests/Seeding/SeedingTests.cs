using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ExBuy.Api.Commands;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Data.Seeding;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Seeding;

/// <summary>
/// The seeder through its library API against the test app's database. This class owns its database (one per class),
/// and every test starts from <see cref="Seeder.ResetAsync"/>, so the other features' rows never meet these.
/// </summary>
public abstract class SeedingTests(ExBuyApp app) : EngineTests(app)
{
    private static readonly SeedOptions Small = new(Products: 300, Orders: 600, Reviews: 900);

    private Task<SeedReport> SeedAsync(SeedOptions options, ISeedProgress? progress = null, CancellationToken? ct = null) =>
        Seeder.SeedAsync(App.Services, options, progress, ct ?? Ct);

    private async Task<SeedReport> ResetAndSeedAsync(SeedOptions options)
    {
        await Seeder.ResetAsync(App.Services, Ct);
        return await SeedAsync(options);
    }

    [Fact]
    public async Task SeedingLoadsTheRequestedCounts()
    {
        var report = await ResetAndSeedAsync(Small);

        var (products, orders, items, reviews) = await App.WithDbAsync(async db => (
            await db.Products.CountAsync(Ct), await db.Orders.CountAsync(Ct), await db.OrderItems.CountAsync(Ct), await db.Reviews.CountAsync(Ct)));
        Assert.Equal(300, products);
        Assert.Equal(600, orders);
        Assert.Equal(900, reviews);
        Assert.InRange(items, 600, 5 * 600);
        Assert.Equal(items, report.RowsOf("order_items"));
        Assert.Equal(300 + 600 + items + 900, report.TotalRows);
        Assert.Equal(IsPostgres ? SeedMethod.Copy : SeedMethod.Insert, report.Method);
    }

    [Fact]
    public async Task OrdersAreConsistentWithTheirItemsAndProducts()
    {
        await ResetAndSeedAsync(Small);

        var products = await App.WithDbAsync(db => db.Products.ToDictionaryAsync(p => p.Id, Ct));
        var orders = await App.WithDbAsync(db => db.Orders.Include(o => o.Items).ToListAsync(Ct));
        Assert.Equal(600, orders.Count);
        foreach (var order in orders)
        {
            Assert.InRange(order.Items.Count, 1, 5);
            Assert.Equal(order.Items.Count, order.Items.Select(i => i.ProductId).Distinct().Count());
            Assert.Equal(order.TotalPrice, order.Items.Sum(i => i.Quantity * i.UnitPrice));
            Assert.Contains(order.Status, OrderStatus.All);
            Assert.True(order.UpdatedAt >= order.CreatedAt, $"order {order.Id} updated before it was created");
            foreach (var item in order.Items)
            {
                var product = products[item.ProductId];
                Assert.Equal(product.Price, item.UnitPrice);
                Assert.InRange(item.Quantity, 1, 5);
                Assert.True(order.CreatedAt > product.CreatedAt, $"order {order.Id} predates product {product.Id}");
            }
        }
        // Every status occurs (pending/paid/shipped/delivered/cancelled mix).
        Assert.Equal(OrderStatus.All.Order(), orders.Select(o => o.Status).Distinct().Order());
    }

    [Fact]
    public async Task ProductsAndReviewsHaveLoadTestShapes()
    {
        await ResetAndSeedAsync(Small);

        var products = await App.WithDbAsync(db => db.Products.ToListAsync(Ct));
        Assert.All(products, p =>
        {
            Assert.True(p.Stock >= 0);
            Assert.InRange(p.Price, 1.00m, 2000.00m);
            Assert.Equal(p.Price, decimal.Round(p.Price, 2));
            Assert.Contains(p.Category, Categories.All);
            Assert.Null(p.DeletedAt);
            Assert.Equal(0, p.Version);
            Assert.True(p.UpdatedAt >= p.CreatedAt);
            Assert.Matches(@"^[A-Z][\w-]*( [A-Z][\w-]*)+ \d{3,4}$", p.Name);
        });
        // Some out of stock (~5%), most in stock.
        Assert.InRange(products.Count(p => p.Stock == 0), 1, 60);
        Assert.True(products.Count(p => p.Stock > 0) > 240);
        // Searchable words ("Wireless Mouse 4821").
        Assert.Contains(products, p => p.Name.Contains("Wireless", StringComparison.Ordinal));

        var reviews = await App.WithDbAsync(db => db.Reviews.ToListAsync(Ct));
        Assert.All(reviews, r => Assert.InRange(r.Rating, 1, 5));
        Assert.True(reviews.Count(r => r.Rating >= 4) > reviews.Count / 2, "ratings should lean to 4–5");
        // A hot set: the most reviewed product has many times the average (900 / 300 = 3).
        var busiest = reviews.GroupBy(r => r.ProductId).Max(g => g.Count());
        Assert.True(busiest >= 15, $"the most reviewed product has only {busiest} reviews");
        var created = products.ToDictionary(p => p.Id, p => p.CreatedAt);
        Assert.All(reviews, r => Assert.True(r.CreatedAt > created[r.ProductId]));
    }

    [Fact]
    public async Task NewRowsGetIdsAfterTheSeededOnes()
    {
        var report = await ResetAndSeedAsync(Small);
        var items = report.RowsOf("order_items");

        var (product, order, review) = await App.WithDbAsync(async db =>
        {
            var now = Clock.UtcNow();
            var p = new Product { Name = "After Seed", Price = 9.99m, Stock = 5, Category = "books", CreatedAt = now, UpdatedAt = now };
            db.Products.Add(p);
            await db.SaveChangesAsync(Ct);
            var o = new Order
            {
                UserId = 1, Status = OrderStatus.Pending, TotalPrice = 9.99m, CreatedAt = now, UpdatedAt = now,
                Items = [new OrderItem { ProductId = p.Id, Quantity = 1, UnitPrice = 9.99m }],
            };
            db.Orders.Add(o);
            var r = new Review { ProductId = p.Id, UserId = 1, Rating = 5, Body = "ok", CreatedAt = now };
            db.Reviews.Add(r);
            await db.SaveChangesAsync(Ct);
            return (p, o, r);
        });
        Assert.Equal(301, product.Id);
        Assert.Equal(601, order.Id);
        Assert.Equal(901, review.Id);
        Assert.Equal(items + 1, order.Items.Single().Id);
    }

    [Fact]
    public async Task SameRandomSeedGivesTheSameRowsWhateverTheMethodOrBatchSize()
    {
        var options = Small with { RandomSeed = 7 };
        await ResetAndSeedAsync(options);
        var first = await ContentHashAsync();

        // Another method (PostgreSQL) and a tiny batch size: still the same rows.
        await SeedAsync(options with { Reset = true, BatchSize = 7, Method = IsPostgres ? SeedMethod.Insert : null });
        var second = await ContentHashAsync();

        Assert.Equal(first, second);
        // ... and exactly what the generator produced, so both engines hold the same data for the same seed.
        Assert.Equal(ExpectedHash(options), first);
    }

    [Fact]
    public async Task DifferentRandomSeedGivesDifferentRows()
    {
        await ResetAndSeedAsync(Small with { RandomSeed = 1 });
        var one = await ContentHashAsync();
        await SeedAsync(Small with { RandomSeed = 2, Reset = true });
        var two = await ContentHashAsync();

        Assert.NotEqual(one, two);
        Assert.Equal(ExpectedHash(Small with { RandomSeed = 2 }), two);
    }

    [Fact]
    public async Task ResetEmptiesEveryTableAndRestartsIds()
    {
        await ResetAndSeedAsync(Small);

        await Seeder.ResetAsync(App.Services, Ct);

        var counts = await App.WithDbAsync(async db => new[]
        {
            await db.Products.CountAsync(Ct), await db.Orders.CountAsync(Ct), await db.OrderItems.CountAsync(Ct), await db.Reviews.CountAsync(Ct),
        });
        Assert.Equal([0, 0, 0, 0], counts);
        var id = await App.WithDbAsync(async db =>
        {
            var now = Clock.UtcNow();
            var p = new Product { Name = "First", Price = 1m, Stock = 1, Category = "books", CreatedAt = now, UpdatedAt = now };
            db.Products.Add(p);
            await db.SaveChangesAsync(Ct);
            return p.Id;
        });
        Assert.Equal(1, id);
    }

    [Fact]
    public async Task SeedingANonEmptyDatabaseWithoutResetIsRefused()
    {
        await ResetAndSeedAsync(Small);
        var before = await ContentHashAsync();

        var ex = await Assert.ThrowsAsync<SeedException>(() => SeedAsync(Small with { RandomSeed = 99 }));

        Assert.Equal("database already has 300 products; use --reset to replace them.", ex.Message);
        Assert.Equal(before, await ContentHashAsync());
    }

    [Fact]
    public async Task IfEmptySeedsAnEmptyDatabaseAndLeavesAFilledOneAsItIs()
    {
        await Seeder.ResetAsync(App.Services, Ct);
        var first = await SeedAsync(Small with { IfEmpty = true });
        Assert.Null(first.Skipped);
        Assert.Equal(300, first.RowsOf("products"));
        var before = await ContentHashAsync();

        var second = await SeedAsync(Small with { RandomSeed = 99, Products = 500, IfEmpty = true });

        Assert.Equal("database already has 300 products", second.Skipped);
        Assert.Equal(0, second.TotalRows);
        Assert.Equal(before, await ContentHashAsync());
    }

    [Fact]
    public async Task CancellingMidLoadLeavesThePreviousRows()
    {
        await ResetAndSeedAsync(Small);
        var before = await ContentHashAsync();
        var schema = await SchemaAsync();

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var progress = new CancelWhen(cts, step: "order_items");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            SeedAsync(Small with { RandomSeed = 5, Reset = true, BatchSize = 50 }, progress, cts.Token));

        Assert.True(progress.Fired, "the load should have reached order_items");
        Assert.Equal(before, await ContentHashAsync());
        // And the schema is whole again (indexes dropped inside the rolled-back transaction come back with it).
        Assert.Equal(schema, await SchemaAsync());
        await SeedAsync(Small with { RandomSeed = 5, Reset = true });
        Assert.Equal(ExpectedHash(Small with { RandomSeed = 5 }), await ContentHashAsync());
    }

    [Fact]
    public async Task SeedingKeepsTheSchemaExactlyAsMigrated()
    {
        await Seeder.ResetAsync(App.Services, Ct);
        var before = await SchemaAsync();

        await SeedAsync(Small);

        var after = await SchemaAsync();
        Assert.Equal(before, after);
        Assert.Contains(after, line => line.Contains("ix_reviews_product_id_created_at_id", StringComparison.Ordinal));
        if (IsPostgres)
        {
            Assert.Contains(after, line => line.Contains("FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE", StringComparison.Ordinal));
            var invalid = await App.WithDbAsync(db => db.Database.SqlQueryRaw<int>("""
                SELECT count(*)::int AS "Value" FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                WHERE c.relname IN ('products', 'orders', 'order_items', 'reviews') AND NOT (i.indisvalid AND i.indisready)
                """).SingleAsync(Ct));
            Assert.Equal(0, invalid);
        }
    }

    [Fact]
    public async Task CopyIsPostgresOnly()
    {
        if (IsPostgres)
        {
            var report = await ResetAndSeedAsync(Small with { Method = SeedMethod.Copy });
            Assert.Equal(SeedMethod.Copy, report.Method);
            return;
        }
        var ex = await Assert.ThrowsAsync<SeedException>(() => SeedAsync(Small with { Method = SeedMethod.Copy, Reset = true }));
        Assert.Contains("--method copy needs PostgreSQL", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProgressReportsEveryStepAndAllRows()
    {
        await Seeder.ResetAsync(App.Services, Ct);
        var progress = new Recorder();

        var report = await SeedAsync(Small, progress);

        Assert.Equal(["generate", "prepare", "products", "orders", "order_items", "reviews", "indexes", "analyze", "commit"],
            report.Steps.Select(s => s.Name));
        Assert.Equal(report.Steps.Select(s => s.Name), progress.Finished);
        foreach (var table in SeedTables.Names)
        {
            Assert.Equal(report.RowsOf(table), progress.Advanced.GetValueOrDefault(table));
        }
    }

    [Fact]
    public async Task WarmupMakesABoundedPassOverTheReadEndpoints()
    {
        await ResetAndSeedAsync(Small);

        var result = await Warmup.RunAsync(Client, 60, Ct);

        Assert.Equal(60, result.Requests);
        Assert.Equal(0, result.Failures);
        Assert.Equal(0, result.ServerErrors);
        Assert.Contains(result.Endpoints, e => e.Name == "search opt=1");
        Assert.Contains(result.Endpoints, e => e.Name == "stats");
    }

    /// <summary>Every row of the four tables in id order, as storage-neutral text (money in cents, times in ticks).</summary>
    private Task<string> ContentHashAsync() => App.WithDbAsync(async db =>
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await foreach (var p in db.Products.OrderBy(p => p.Id).AsAsyncEnumerable().WithCancellation(Ct))
        {
            Add(hash, Product(p.Id, p.Name, Cents(p.Price), p.Stock, p.Category, p.Version, p.CreatedAt.Ticks, p.UpdatedAt.Ticks, p.DeletedAt is null));
        }
        await foreach (var o in db.Orders.OrderBy(o => o.Id).AsAsyncEnumerable().WithCancellation(Ct))
        {
            Add(hash, Order(o.Id, o.UserId, o.Status, Cents(o.TotalPrice), o.CreatedAt.Ticks, o.UpdatedAt.Ticks));
        }
        await foreach (var i in db.OrderItems.OrderBy(i => i.Id).AsAsyncEnumerable().WithCancellation(Ct))
        {
            Add(hash, Item(i.Id, i.OrderId, i.ProductId, i.Quantity, Cents(i.UnitPrice)));
        }
        await foreach (var r in db.Reviews.OrderBy(r => r.Id).AsAsyncEnumerable().WithCancellation(Ct))
        {
            Add(hash, Review(r.Id, r.ProductId, r.UserId, r.Rating, r.Body, r.CreatedAt.Ticks));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    });

    /// <summary>The same text straight from the generator: what any engine must hold after seeding these options.</summary>
    private static string ExpectedHash(SeedOptions options)
    {
        var plan = SeedGenerator.Generate(options);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long Ticks(long ms) => SeedGenerator.ToDateTime(ms).Ticks;
        for (var i = 0; i < plan.Products; i++)
        {
            Add(hash, Product(i + 1, plan.ProductName[i], plan.ProductPriceCents[i], plan.ProductStock[i],
                Categories.All[plan.ProductCategory[i]], 0, Ticks(plan.ProductCreatedMs[i]), Ticks(plan.ProductUpdatedMs[i]), true));
        }
        for (var j = 0; j < plan.Orders; j++)
        {
            Add(hash, Order(j + 1, plan.OrderUserId[j], SeedGenerator.OrderStatusAt(plan.OrderStatus[j]), plan.OrderTotalCents[j],
                Ticks(plan.OrderCreatedMs[j]), Ticks(plan.OrderUpdatedMs[j])));
        }
        for (var k = 0; k < plan.OrderItems; k++)
        {
            Add(hash, Item(k + 1, plan.ItemOrder[k] + 1, plan.ItemProduct[k] + 1, plan.ItemQuantity[k], plan.ProductPriceCents[plan.ItemProduct[k]]));
        }
        for (var r = 0; r < plan.Reviews; r++)
        {
            Add(hash, Review(r + 1, plan.ReviewProduct[r] + 1, plan.ReviewUserId[r], plan.ReviewRating[r],
                Words.Bodies[plan.ReviewRating[r] - 1][plan.ReviewBody[r]], Ticks(plan.ReviewCreatedMs[r])));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static string Product(long id, string name, long cents, int stock, string category, long version, long created, long updated, bool live) =>
        Line("p", id, name, cents, stock, category, version, created, updated, live);

    private static string Order(long id, long userId, string status, long cents, long created, long updated) =>
        Line("o", id, userId, status, cents, created, updated);

    private static string Item(long id, long orderId, long productId, int quantity, long cents) =>
        Line("i", id, orderId, productId, quantity, cents);

    private static string Review(long id, long productId, long userId, int rating, string body, long created) =>
        Line("r", id, productId, userId, rating, body, created);

    private static string Line(params object[] values) => string.Join('\u001f', values.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))) + "\n";

    private static void Add(IncrementalHash hash, string line) => hash.AppendData(Encoding.UTF8.GetBytes(line));

    private static long Cents(decimal money) => (long)(money * 100m);

    /// <summary>Indexes and constraints of the four tables, as the catalog defines them.</summary>
    private Task<List<string>> SchemaAsync() => App.WithDbAsync(db => (IsPostgres
        ? db.Database.SqlQueryRaw<string>("""
            SELECT indexdef AS "Value" FROM pg_indexes WHERE schemaname = current_schema()
              AND tablename IN ('products', 'orders', 'order_items', 'reviews')
            UNION ALL
            SELECT c.conname || ' ' || pg_get_constraintdef(c.oid) || ' ' || c.convalidated FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname IN ('products', 'orders', 'order_items', 'reviews')
            """)
        : db.Database.SqlQueryRaw<string>("""
            SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS "Value" FROM sqlite_master
            WHERE tbl_name IN ('products', 'orders', 'order_items', 'reviews')
            """)).OrderBy(s => s).ToListAsync(Ct));

    private sealed class CancelWhen(CancellationTokenSource cts, string step) : ISeedProgress
    {
        public bool Fired { get; private set; }

        public void Started(string name, long total)
        {
        }

        public void Advanced(string name, long rows)
        {
            if (name == step && !Fired)
            {
                Fired = true;
                cts.Cancel();
            }
        }

        public void Finished(SeedStep finished)
        {
        }
    }

    private sealed class Recorder : ISeedProgress
    {
        public List<string> Finished { get; } = [];
        public Dictionary<string, long> Advanced { get; } = [];

        void ISeedProgress.Started(string step, long total)
        {
        }

        void ISeedProgress.Advanced(string step, long rows) => Advanced[step] = Advanced.GetValueOrDefault(step) + rows;

        void ISeedProgress.Finished(SeedStep step) => Finished.Add(step.Name);
    }
}

public sealed class SeedingSqliteTests(SqliteApp app) : SeedingTests(app), IClassFixture<SqliteApp>;

public sealed class SeedingPostgresTests(PostgresApp app) : SeedingTests(app), IClassFixture<PostgresApp>;
