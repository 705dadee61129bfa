namespace ExBuy.Api.Data.Seeding;

/// <summary>Storage-neutral column kinds: each loader maps money and timestamps to its engine (numeric/timestamptz, or cents/TEXT).</summary>
internal enum ColumnKind
{
    Int64,
    Int32,
    Text,
    Money,
    Time,
}

/// <summary>Receives one row's values in column order.</summary>
internal interface IRowSink
{
    void Int64(long value);
    void Int32(int value);
    void Text(string value);
    void Money(long cents);
    void Time(long unixMs);
}

internal sealed record SeedColumn(string Name, ColumnKind Kind);

/// <summary>One table of the load: its columns (ids explicit; deleted_at left to its NULL default) and how to write row i.</summary>
internal sealed record SeedTable(string Name, SeedColumn[] Columns, Func<SeedPlan, int> RowCount, Action<SeedPlan, int, IRowSink> WriteRow)
{
    public string ColumnList => string.Join(", ", Columns.Select(c => c.Name));
}

internal static class SeedTables
{
    public static readonly SeedTable Products = new("products",
        [
            new("id", ColumnKind.Int64), new("name", ColumnKind.Text), new("price", ColumnKind.Money),
            new("stock", ColumnKind.Int32), new("category", ColumnKind.Text), new("version", ColumnKind.Int64),
            new("created_at", ColumnKind.Time), new("updated_at", ColumnKind.Time),
        ],
        p => p.Products,
        static (p, i, s) =>
        {
            s.Int64(i + 1L);
            s.Text(p.ProductName[i]);
            s.Money(p.ProductPriceCents[i]);
            s.Int32(p.ProductStock[i]);
            s.Text(SeedGenerator.CategoryAt(p.ProductCategory[i]));
            s.Int64(0);
            s.Time(p.ProductCreatedMs[i]);
            s.Time(p.ProductUpdatedMs[i]);
        });

    public static readonly SeedTable Orders = new("orders",
        [
            new("id", ColumnKind.Int64), new("user_id", ColumnKind.Int64), new("status", ColumnKind.Text),
            new("total_price", ColumnKind.Money), new("created_at", ColumnKind.Time), new("updated_at", ColumnKind.Time),
        ],
        p => p.Orders,
        static (p, j, s) =>
        {
            s.Int64(j + 1L);
            s.Int64(p.OrderUserId[j]);
            s.Text(SeedGenerator.OrderStatusAt(p.OrderStatus[j]));
            s.Money(p.OrderTotalCents[j]);
            s.Time(p.OrderCreatedMs[j]);
            s.Time(p.OrderUpdatedMs[j]);
        });

    public static readonly SeedTable OrderItems = new("order_items",
        [
            new("id", ColumnKind.Int64), new("order_id", ColumnKind.Int64), new("product_id", ColumnKind.Int64),
            new("quantity", ColumnKind.Int32), new("unit_price", ColumnKind.Money),
        ],
        p => p.OrderItems,
        static (p, k, s) =>
        {
            var product = p.ItemProduct[k];
            s.Int64(k + 1L);
            s.Int64(p.ItemOrder[k] + 1L);
            s.Int64(product + 1L);
            s.Int32(p.ItemQuantity[k]);
            s.Money(p.ProductPriceCents[product]);
        });

    public static readonly SeedTable Reviews = new("reviews",
        [
            new("id", ColumnKind.Int64), new("product_id", ColumnKind.Int64), new("user_id", ColumnKind.Int64),
            new("rating", ColumnKind.Int32), new("body", ColumnKind.Text), new("created_at", ColumnKind.Time),
        ],
        p => p.Reviews,
        static (p, r, s) =>
        {
            var rating = p.ReviewRating[r];
            s.Int64(r + 1L);
            s.Int64(p.ReviewProduct[r] + 1L);
            s.Int64(p.ReviewUserId[r]);
            s.Int32(rating);
            s.Text(Words.Bodies[rating - 1][p.ReviewBody[r]]);
            s.Time(p.ReviewCreatedMs[r]);
        });

    /// <summary>Parents before children (foreign keys).</summary>
    public static readonly SeedTable[] All = [Products, Orders, OrderItems, Reviews];

    public static readonly string[] Names = [.. All.Select(t => t.Name)];
}
