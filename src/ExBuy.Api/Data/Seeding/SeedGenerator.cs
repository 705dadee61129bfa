using System.Collections.Concurrent;
using ExBuy.Api.Data.Entities;

namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// Every generated row, in compact arrays (row index i is id i + 1). Large (100K/500K/1M) takes ~60 MB; the loaders
/// turn rows into values only while writing them.
/// </summary>
internal sealed class SeedPlan
{
    public SeedPlan(int products, int orders, int reviews)
    {
        ProductName = new string[products];
        ProductCategory = new byte[products];
        ProductPriceCents = new long[products];
        ProductStock = new int[products];
        ProductCreatedMs = new long[products];
        ProductUpdatedMs = new long[products];
        OrderUserId = new int[orders];
        OrderStatus = new byte[orders];
        OrderTotalCents = new long[orders];
        OrderCreatedMs = new long[orders];
        OrderUpdatedMs = new long[orders];
        OrderFirstItem = new int[orders + 1];
        ReviewProduct = new int[reviews];
        ReviewUserId = new int[reviews];
        ReviewRating = new byte[reviews];
        ReviewBody = new short[reviews];
        ReviewCreatedMs = new long[reviews];
    }

    public string[] ProductName { get; }
    public byte[] ProductCategory { get; }
    public long[] ProductPriceCents { get; }
    public int[] ProductStock { get; }
    public long[] ProductCreatedMs { get; }
    public long[] ProductUpdatedMs { get; }

    public int[] OrderUserId { get; }
    public byte[] OrderStatus { get; }
    public long[] OrderTotalCents { get; }
    public long[] OrderCreatedMs { get; }
    public long[] OrderUpdatedMs { get; }

    /// <summary>Order j's items are rows OrderFirstItem[j] .. OrderFirstItem[j + 1] - 1 of the item arrays.</summary>
    public int[] OrderFirstItem { get; }

    public int[] ItemOrder { get; set; } = [];
    public int[] ItemProduct { get; set; } = [];
    public byte[] ItemQuantity { get; set; } = [];

    public int[] ReviewProduct { get; }
    public int[] ReviewUserId { get; }
    public byte[] ReviewRating { get; }
    public short[] ReviewBody { get; }
    public long[] ReviewCreatedMs { get; }

    public int Products => ProductName.Length;
    public int Orders => OrderUserId.Length;
    public int OrderItems => ItemOrder.Length;
    public int Reviews => ReviewProduct.Length;
    public long TotalRows => (long)Products + Orders + OrderItems + Reviews;
}

/// <summary>
/// The deterministic data generator. Shapes that make load tests meaningful: log-normal prices per category, ~5% of
/// products out of stock, a Zipf-like hot set of products (s = 0.8) drawing most order lines and reviews, ratings
/// skewed to 4–5, mixed order statuses, 1–5 distinct products per order, and timestamps over the year before
/// <see cref="Epoch"/> in a sensible order (an order or review comes after its products were listed).
/// </summary>
internal static class SeedGenerator
{
    /// <summary>Fixed, so the same random seed gives the same timestamps on any day.</summary>
    public static readonly DateTime Epoch = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    public const long MinuteMs = 60_000;
    public const long HourMs = 60 * MinuteMs;
    public const long DayMs = 24 * HourMs;
    public static readonly long EndMs = (long)(Epoch - DateTime.UnixEpoch).TotalMilliseconds;
    public static readonly long StartMs = EndMs - 365 * DayMs;

    private const int ChunkSize = 4096;

    public static DateTime ToDateTime(long unixMs) =>
        new(DateTime.UnixEpoch.Ticks + unixMs * TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);

    public static SeedPlan Generate(SeedOptions options, CancellationToken ct = default)
    {
        var plan = new SeedPlan(options.Products, options.Orders, options.Reviews);
        var seed = options.RandomSeed;
        var users = Math.Max(100, (int)(((long)options.Orders + options.Reviews) / 10));
        ForChunks(plan.Products, ct, (from, to) => Products(plan, seed, from, to));
        var hot = new HotSet(plan.Products, seed);
        Orders(plan, seed, hot, users, ct);
        ForChunks(plan.Reviews, ct, (from, to) => Reviews(plan, seed, hot, users, from, to));
        return plan;
    }

    private static void Products(SeedPlan plan, int seed, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var rng = SeedRandom.For(seed, SeedStream.Products, i);
            var category = rng.Pick(CategoryCumulative);
            var nouns = Words.Nouns[category];
            plan.ProductCategory[i] = (byte)category;
            plan.ProductName[i] = $"{Words.Adjectives[rng.Next(Words.Adjectives.Length)]} {nouns[rng.Next(nouns.Length)]} {rng.Next(100, 9999)}";
            // Log-normal around the category's median, clamped to 1.00..2000.00.
            var cents = Math.Round(Math.Exp(Math.Log(MedianPriceCents[category]) + 0.9 * rng.NextNormal()));
            plan.ProductPriceCents[i] = (long)Math.Clamp(cents, 100, 200_000);
            var roll = rng.Next(100);
            plan.ProductStock[i] = roll < 5 ? 0 : roll < 15 ? rng.Next(1, 9) : rng.Next(10, 500);
            var created = StartMs + rng.NextInt64(365 * DayMs);
            plan.ProductCreatedMs[i] = created;
            plan.ProductUpdatedMs[i] = created + rng.NextInt64(Math.Min(30 * DayMs, EndMs - created));
        }
    }

    private static void Orders(SeedPlan plan, int seed, HotSet hot, int users, CancellationToken ct)
    {
        // Pass 1: item counts (the first draw of each order's generator), so items get contiguous ids in order order.
        var first = plan.OrderFirstItem;
        var maxItems = Math.Min(5, plan.Products);
        ForChunks(plan.Orders, ct, (from, to) =>
        {
            for (var j = from; j < to; j++)
            {
                var rng = SeedRandom.For(seed, SeedStream.Orders, j);
                first[j + 1] = ItemCount(ref rng, maxItems);
            }
        });
        for (var j = 0; j < plan.Orders; j++)
        {
            first[j + 1] += first[j];
        }
        var items = first[plan.Orders];
        plan.ItemOrder = new int[items];
        plan.ItemProduct = new int[items];
        plan.ItemQuantity = new byte[items];

        // Pass 2: the same generators again, now filling the items and the order row.
        ForChunks(plan.Orders, ct, (from, to) =>
        {
            Span<int> picked = stackalloc int[5];
            for (var j = from; j < to; j++)
            {
                var rng = SeedRandom.For(seed, SeedStream.Orders, j);
                var count = ItemCount(ref rng, maxItems);
                var start = first[j];
                long total = 0;
                long listed = StartMs;
                for (var k = 0; k < count; k++)
                {
                    var product = PickDistinct(ref rng, hot, picked[..k]);
                    picked[k] = product;
                    var quantity = rng.Pick(QuantityCumulative) + 1;
                    plan.ItemOrder[start + k] = j;
                    plan.ItemProduct[start + k] = product;
                    plan.ItemQuantity[start + k] = (byte)quantity;
                    total += quantity * plan.ProductPriceCents[product];
                    listed = Math.Max(listed, plan.ProductCreatedMs[product]);
                }
                var status = rng.Pick(StatusCumulative);
                var earliest = Math.Min(listed + MinuteMs, EndMs - 1);
                var created = earliest + rng.NextInt64(EndMs - earliest);
                plan.OrderUserId[j] = 1 + rng.Next(users);
                plan.OrderStatus[j] = (byte)status;
                plan.OrderTotalCents[j] = total;
                plan.OrderCreatedMs[j] = created;
                plan.OrderUpdatedMs[j] = Math.Min(EndMs, created + StatusDelay(ref rng, status));
            }
        });
    }

    private static void Reviews(SeedPlan plan, int seed, HotSet hot, int users, int from, int to)
    {
        for (var r = from; r < to; r++)
        {
            var rng = SeedRandom.For(seed, SeedStream.Reviews, r);
            var product = hot.Pick(ref rng);
            var rating = rng.Pick(RatingCumulative) + 1;
            plan.ReviewProduct[r] = product;
            plan.ReviewRating[r] = (byte)rating;
            plan.ReviewUserId[r] = 1 + rng.Next(users);
            plan.ReviewBody[r] = (short)rng.Next(Words.Bodies[rating - 1].Length);
            var earliest = Math.Min(plan.ProductCreatedMs[product] + HourMs, EndMs - 1);
            plan.ReviewCreatedMs[r] = earliest + rng.NextInt64(EndMs - earliest);
        }
    }

    private static int ItemCount(ref SeedRandom rng, int maxItems) => Math.Min(rng.Pick(ItemCountCumulative) + 1, maxItems);

    private static int PickDistinct(ref SeedRandom rng, HotSet hot, ReadOnlySpan<int> taken)
    {
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var candidate = hot.Pick(ref rng);
            if (!taken.Contains(candidate))
            {
                return candidate;
            }
        }
        // Tiny catalogues: walk from a random product to the next free one (there is one: count ≤ products).
        var p = rng.Next(hot.Count);
        while (taken.Contains(p))
        {
            p = (p + 1) % hot.Count;
        }
        return p;
    }

    private static long StatusDelay(ref SeedRandom rng, int status) => OrderStatusAt(status) switch
    {
        Entities.OrderStatus.Pending => 0,
        Entities.OrderStatus.Paid => MinuteMs + rng.NextInt64(2 * DayMs),
        Entities.OrderStatus.Shipped => DayMs + rng.NextInt64(4 * DayMs),
        Entities.OrderStatus.Delivered => 3 * DayMs + rng.NextInt64(11 * DayMs),
        _ => 10 * MinuteMs + rng.NextInt64(3 * DayMs),
    };

    public static string OrderStatusAt(int index) => StatusOrder[index];

    public static string CategoryAt(int index) => Categories.All[index];

    private static void ForChunks(int count, CancellationToken ct, Action<int, int> body)
    {
        if (count <= ChunkSize)
        {
            body(0, count);
            return;
        }
        var options = new ParallelOptions { CancellationToken = ct };
        Parallel.ForEach(Partitioner.Create(0, count, ChunkSize), options, range => body(range.Item1, range.Item2));
    }

    // Cumulative percentages; index = value (or value - 1).
    private static ReadOnlySpan<byte> CategoryCumulative => [18, 32, 46, 58, 67, 75, 83, 90, 95, 100];
    private static ReadOnlySpan<byte> ItemCountCumulative => [35, 60, 80, 92, 100];
    private static ReadOnlySpan<byte> QuantityCumulative => [60, 80, 90, 95, 100];
    private static ReadOnlySpan<byte> RatingCumulative => [5, 10, 22, 52, 100];

    /// <summary>pending 10%, paid 15%, shipped 15%, delivered 50%, cancelled 10%.</summary>
    private static ReadOnlySpan<byte> StatusCumulative => [10, 25, 40, 90, 100];

    private static readonly string[] StatusOrder =
        [Entities.OrderStatus.Pending, Entities.OrderStatus.Paid, Entities.OrderStatus.Shipped, Entities.OrderStatus.Delivered, Entities.OrderStatus.Cancelled];

    /// <summary>Median price per category (Categories.All order), in cents.</summary>
    private static readonly double[] MedianPriceCents = [8_000, 1_500, 3_500, 4_000, 4_500, 2_500, 2_000, 1_200, 3_000, 4_000];

    /// <summary>
    /// Popularity: a fixed shuffle of the products ranked by a continuous Zipf law with s = 0.8, sampled by its inverse
    /// CDF (rank = (1 + u((N+1)^0.2 − 1))^5 − 1, computed with multiplications). With 100K products the top 1% draws
    /// about a third of the picks, the top product ~1.6%.
    /// </summary>
    private sealed class HotSet
    {
        private readonly int[] _byRank;
        private readonly double _span;

        public HotSet(int count, int seed)
        {
            _byRank = new int[count];
            for (var i = 0; i < count; i++)
            {
                _byRank[i] = i;
            }
            var rng = SeedRandom.For(seed, SeedStream.Popularity, 0);
            for (var i = count - 1; i > 0; i--)
            {
                var k = rng.Next(i + 1);
                (_byRank[i], _byRank[k]) = (_byRank[k], _byRank[i]);
            }
            _span = Math.Pow(count + 1, 0.2) - 1;
        }

        public int Count => _byRank.Length;

        public int Pick(ref SeedRandom rng)
        {
            var y = 1 + rng.NextDouble() * _span;
            var x = y * y * y * y * y;
            var rank = Math.Clamp((int)x - 1, 0, _byRank.Length - 1);
            return _byRank[rank];
        }
    }
}

/// <summary>Small word lists: names like "Wireless Mouse 4821" so <c>?q=</c> search finds things.</summary>
internal static class Words
{
    public static readonly string[] Adjectives =
    [
        "Wireless", "Portable", "Classic", "Premium", "Compact", "Smart", "Eco", "Deluxe",
        "Vintage", "Ultra", "Mini", "Pro", "Organic", "Heavy-Duty", "Travel", "Essential",
    ];

    /// <summary>Per category, in <see cref="Categories.All"/> order.</summary>
    public static readonly string[][] Nouns =
    [
        ["Mouse", "Keyboard", "Headphones", "Speaker", "Charger", "Monitor", "Webcam", "Router"],
        ["Novel", "Cookbook", "Atlas", "Notebook", "Biography", "Anthology", "Guide", "Journal"],
        ["Jacket", "Sweater", "T-Shirt", "Jeans", "Scarf", "Hoodie", "Socks", "Cap"],
        ["Lamp", "Pillow", "Blanket", "Mug", "Vase", "Clock", "Shelf", "Rug"],
        ["Ball", "Racket", "Yoga Mat", "Dumbbell", "Helmet", "Bottle", "Glove", "Backpack"],
        ["Puzzle", "Robot", "Doll", "Blocks", "Kite", "Train Set", "Board Game", "Plush Bear"],
        ["Lotion", "Shampoo", "Perfume", "Lip Balm", "Face Mask", "Brush", "Serum", "Soap"],
        ["Coffee", "Tea", "Chocolate", "Honey", "Olive Oil", "Granola", "Pasta", "Spice Mix"],
        ["Shovel", "Planter", "Hose", "Seeds", "Rake", "Pruner", "Watering Can", "Bird Feeder"],
        ["Wiper", "Car Charger", "Tire Gauge", "Seat Cover", "Floor Mat", "Jump Starter", "Dash Cam", "Wax"],
    ];

    /// <summary>Review bodies per rating (index rating − 1): opener × detail × closer.</summary>
    public static readonly string[][] Bodies =
    [
        Combine(
            ["Very disappointed.", "Would not buy again.", "Not worth the money.", "Poor quality."],
            ["It broke within a week.", "It looks nothing like the pictures.", "It arrived damaged.", "It stopped working after two days."],
            ["Returned it.", "Avoid.", "Asked for a refund.", ""]),
        Combine(
            ["Below expectations.", "Not great.", "Somewhat disappointing.", "Meh."],
            ["The quality feels cheap.", "It works, but barely.", "Shipping took far too long.", "The size was off."],
            ["Might return it.", "There are better options.", "Expected more for the price.", ""]),
        Combine(
            ["It's okay.", "Average product.", "Does the job.", "Mixed feelings."],
            ["Some parts are good, some are not.", "Fine for the price.", "Nothing special, nothing terrible.", "Packaging could be better."],
            ["Three stars.", "Might buy again on sale.", "Decent overall.", ""]),
        Combine(
            ["Good product.", "Pretty happy with it.", "Solid purchase.", "Works well."],
            ["Quality is better than expected.", "Arrived quickly and well packed.", "Does exactly what it says.", "Minor flaws but nothing serious."],
            ["Would recommend.", "Four stars.", "Good value for money.", ""]),
        Combine(
            ["Excellent!", "Absolutely love it.", "Five stars.", "Exceeded my expectations."],
            ["Great quality and fast delivery.", "Works perfectly every day.", "Better than the more expensive brands.", "Exactly as described."],
            ["Highly recommend.", "Will buy again.", "Bought a second one as a gift.", ""]),
    ];

    private static string[] Combine(string[] openers, string[] details, string[] closers) =>
        [.. from o in openers from d in details from c in closers select c.Length == 0 ? $"{o} {d}" : $"{o} {d} {c}"];
}
