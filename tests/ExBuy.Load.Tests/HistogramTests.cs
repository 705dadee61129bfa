using HdrHistogram;

namespace ExBuy.Load.Tests;

public class HistogramTests
{
    private static LongHistogram Uniform()
    {
        var h = Hdr.New();
        for (long v = 1; v <= 10_000; v++) h.RecordValue(v);
        return h;
    }

    [Theory]
    [InlineData(50, 5000)]
    [InlineData(90, 9000)]
    [InlineData(95, 9500)]
    [InlineData(99, 9900)]
    [InlineData(99.9, 9990)]
    [InlineData(100, 10000)]
    public void Percentiles_of_a_uniform_1_to_10000_us_distribution_are_within_hdr_precision(double p, long expected)
    {
        var h = Uniform();
        var actual = h.GetValueAtPercentile(p);
        // 3 significant digits: one unit of the value's bucket (≤ 0.1 %) plus one value of rank rounding.
        Assert.InRange(actual, expected - expected / 1000 - 1, expected + expected / 1000 + 1);
        Assert.Equal(expected / 1000.0, Hdr.PercentileMs(h, p), 1);
    }

    [Fact]
    public void Encoded_histograms_decode_to_the_same_counts_and_merge_exactly()
    {
        var a = Uniform();
        var b = Hdr.New();
        b.RecordValue(123_456);
        b.RecordValue(59_000_000);
        var decodedA = Hdr.Decode(Hdr.Encode(a));
        var decodedB = Hdr.Decode(Hdr.Encode(b));
        Assert.Equal(a.TotalCount, decodedA.TotalCount);
        Assert.Equal(a.GetValueAtPercentile(95), decodedA.GetValueAtPercentile(95));
        var merged = Hdr.New();
        merged.Add(decodedA);
        merged.Add(decodedB);
        var direct = a.Copy();
        direct.Add(b);
        Assert.Equal(direct.TotalCount, merged.TotalCount);
        foreach (var p in new[] { 50.0, 99.0, 99.99, 100 }) Assert.Equal(direct.GetValueAtPercentile(p), merged.GetValueAtPercentile(p));
    }

    [Fact]
    public void Op_stats_count_errors_outside_expect_and_the_server_share()
    {
        var op = new OpStats("create_order", "create_order", [201, 409]);
        op.Record(201, 1000, 800, 600);
        op.Record(409, 1000, 800, 200);
        op.Record(500, 2000, 1900, -1);
        op.Record(0, 5000, -1, -1);
        Assert.Equal(4, op.Count);
        Assert.Equal(2, op.Errors);
        Assert.Equal(0.4, op.ServerShare!.Value, 6);
        var sink = new MetricsSink([op]);
        sink.Harvest(1, 1, 1);
        Assert.Equal(4, op.LatencyTotal.TotalCount);
        Assert.Equal(3, op.TtfbTotal.TotalCount);
        Assert.Equal("500×1 transport×1", string.Join(" ", Report.ErrorsByStatus(op).Split(' ').Order()));
    }

    [Fact]
    public void Server_timing_app_duration_is_parsed_in_microseconds()
    {
        Assert.Equal(1234, Workload.ParseServerTiming(["app;dur=1.234, db;dur=0.456;desc=\"2 queries\""]));
        Assert.Equal(500, Workload.ParseServerTiming(["db;dur=3", "app;desc=\"x\";dur=0.5"]));
        Assert.Equal(-1, Workload.ParseServerTiming(["db;dur=3"]));
    }

    [Fact]
    public void The_arrival_schedule_ramps_and_holds_the_rate()
    {
        var s = new ArrivalSchedule(100, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2));
        Assert.Equal(500, s.TotalArrivals, 6);
        Assert.Equal(0, s.TimeOf(0)!.Value, 6);
        Assert.Equal(2.0, s.TimeOf(100)!.Value, 6);   // the ramp-up carries N·R/2 arrivals
        Assert.Equal(2.5, s.TimeOf(150)!.Value, 6);   // then one per 10 ms
        Assert.Equal(5.0, s.TimeOf(400)!.Value, 6);
        Assert.Equal(7.0, s.TimeOf(499)!.Value, 0);
        Assert.Null(s.TimeOf(500));
        var flat = new ArrivalSchedule(50, TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.Zero);
        Assert.Equal(0.02, flat.TimeOf(1)!.Value, 9);
        Assert.Null(flat.TimeOf(50));
    }
}
