namespace ExBuy.Load.Tests;

public class WeightTests
{
    [Fact]
    public void Draws_follow_the_weights_within_two_percentage_points_over_20000_seeded_draws()
    {
        var weights = new Dictionary<string, double> { ["a"] = 12, ["b"] = 6, ["c"] = 18, ["d"] = 2, ["e"] = 0 };
        var picker = new WeightedPicker<string>(weights);
        var random = new Random(42);
        var counts = new Dictionary<string, int>();
        const int n = 20_000;
        for (var i = 0; i < n; i++) { var x = picker.Next(random); counts[x] = counts.GetValueOrDefault(x) + 1; }
        foreach (var (k, w) in weights)
        {
            var expected = w / 38.0;
            var actual = counts.GetValueOrDefault(k) / (double)n;
            Assert.True(Math.Abs(actual - expected) < 0.02, $"{k}: expected {expected:P1}, drew {actual:P1}");
        }
        Assert.False(counts.ContainsKey("e"));
    }

    [Fact]
    public void The_same_seed_draws_the_same_sequence()
    {
        var picker = new WeightedPicker<int>([new(1, 1), new(2, 3), new(3, 5)]);
        var a = Enumerable.Range(0, 200).Select(_ => 0).ToArray();
        var r1 = new Random(7); var r2 = new Random(7);
        Assert.Equal(a.Select(_ => picker.Next(r1)).ToArray(), a.Select(_ => picker.Next(r2)).ToArray());
    }

    [Fact]
    public void Mixed_scenario_weights_are_honoured_and_own_order_operations_redistribute_until_a_vu_has_an_order()
    {
        var options = TestSupport.Options(new RunSettings { Scenario = "mixed" });
        var data = new TargetData { Products = [1, 2, 3], ProductPages = 5, ReviewPages = 5, Orders = [10, 11] };
        using var http = new HttpClient();
        var workload = new Workload(http, options.File, options.Scenario, data, "optimistic", TimeSpan.FromSeconds(1));
        var vu = new VuState(0, 1);
        const int n = 20_000;
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < n; i++) { var op = workload.Draw(vu).Name; counts[op] = counts.GetValueOrDefault(op) + 1; }
        Assert.False(counts.ContainsKey("pay"));
        Assert.False(counts.ContainsKey("cancel"));
        var total = options.Scenario.Weights.Where(w => w.Key is not ("pay" or "cancel")).Sum(w => w.Value);
        foreach (var (op, w) in options.Scenario.Weights.Where(w => w.Key is not ("pay" or "cancel")))
            Assert.True(Math.Abs(counts.GetValueOrDefault(op) / (double)n - w / total) < 0.015, $"{op}: {counts.GetValueOrDefault(op)} of {n} for weight {w}/{total}");

        vu.Orders.Add(new OwnOrder(99, [(1, 1)]));
        counts.Clear();
        for (var i = 0; i < n; i++) { var op = workload.Draw(vu).Name; counts[op] = counts.GetValueOrDefault(op) + 1; }
        var all = options.Scenario.Weights.Sum(w => w.Value);
        Assert.True(Math.Abs(counts.GetValueOrDefault("pay") / (double)n - 3 / all) < 0.01);
        Assert.True(Math.Abs(counts.GetValueOrDefault("cancel") / (double)n - 2 / all) < 0.01);
    }

    [Fact]
    public void Operations_on_discovered_orders_are_skipped_when_none_exists()
    {
        var options = TestSupport.Options(new RunSettings { Scenario = "mixed" });
        var data = new TargetData { Products = [1, 2, 3] };
        using var http = new HttpClient();
        var workload = new Workload(http, options.File, options.Scenario, data, "optimistic", TimeSpan.FromSeconds(1));
        Assert.Contains(workload.Skipped, s => s.StartsWith("order_detail", StringComparison.Ordinal));
        var vu = new VuState(0, 3);
        for (var i = 0; i < 5000; i++) Assert.NotEqual("order_detail", workload.Draw(vu).Name);
    }

    [Fact]
    public void The_hot_set_is_the_in_stock_products_with_the_most_stock_as_in_the_k6_scripts()
    {
        var stock = new Dictionary<long, long> { [1] = 5, [2] = 0, [3] = 90, [4] = 90, [5] = 40, [6] = 7 };
        Assert.Equal([3L, 4L, 5L], Discovery.HotProducts(stock, 3));
        Assert.Equal([3L, 4L, 5L, 6L, 1L], Discovery.HotProducts(stock, 10));
    }
}
