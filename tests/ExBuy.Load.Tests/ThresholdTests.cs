namespace ExBuy.Load.Tests;

public class ThresholdTests
{
    private sealed class Source : IThresholdSource
    {
        public double? Latency(string? operation, ThresholdMetric metric, double percentile) => operation switch
        {
            "detail" => metric == ThresholdMetric.Percentile ? percentile : 80,
            "nothing" => null,
            _ => metric switch { ThresholdMetric.Max => 900, ThresholdMetric.Avg => 40, ThresholdMetric.Min => 1, _ => percentile * 2 },
        };
        public double ErrorRate(string? operation) => operation is null ? 0.005 : 0.2;
        public double Rps(string? operation) => 150;
        public long Count(string? operation) => 1000;
    }

    [Theory]
    [InlineData("p95<200ms", null, ThresholdMetric.Percentile, 95, "<", 200, true)]      // 190
    [InlineData("p99 < 0.1s", null, ThresholdMetric.Percentile, 99, "<", 100, false)]    // 198
    [InlineData("p99.9<=2000us", null, ThresholdMetric.Percentile, 99.9, "<=", 2, false)]
    [InlineData("errors<1%", null, ThresholdMetric.ErrorRate, 0, "<", 0.01, true)]
    [InlineData("errors<0.001", null, ThresholdMetric.ErrorRate, 0, "<", 0.001, false)]
    [InlineData("detail:p99<50ms", "detail", ThresholdMetric.Percentile, 99, "<", 50, false)]
    [InlineData("detail:errors<50%", "detail", ThresholdMetric.ErrorRate, 0, "<", 0.5, true)]
    [InlineData("detail[optimize=true]:p50<120", "detail[optimize=true]", ThresholdMetric.Percentile, 50, "<", 120, true)]
    [InlineData("rps>100", null, ThresholdMetric.Rps, 0, ">", 100, true)]
    [InlineData("max<1s", null, ThresholdMetric.Max, 0, "<", 1000, true)]
    [InlineData("avg<30", null, ThresholdMetric.Avg, 0, "<", 30, false)]
    [InlineData("count>=1000", null, ThresholdMetric.Count, 0, ">=", 1000, true)]
    public void Cli_thresholds_parse_and_evaluate(string text, string? op, ThresholdMetric metric, double pct, string cmp, double limit, bool passes)
    {
        var t = Threshold.ParseCli(text);
        Assert.Equal(op, t.Operation);
        Assert.Equal(metric, t.Metric);
        Assert.Equal(pct, t.Percentile);
        Assert.Equal(cmp, t.Comparison);
        Assert.Equal(limit, t.Limit, 9);
        Assert.Equal(passes, t.Evaluate(new Source()).Passed);
    }

    [Theory]
    [InlineData("p95")]
    [InlineData("p95<")]
    [InlineData("p95<200kg")]
    [InlineData("p0<1ms")]
    [InlineData("p101<1ms")]
    [InlineData("errors<5")]
    [InlineData("errors<5ms")]
    [InlineData("rps>10%")]
    [InlineData("latency<200ms")]
    [InlineData("p95 ~ 200")]
    [InlineData("")]
    public void Bad_cli_thresholds_are_rejected(string text) => Assert.Throws<FormatException>(() => Threshold.ParseCli(text));

    [Theory]
    [InlineData("http_req_duration", "p(95)<500", ThresholdMetric.Percentile, 95, 500, true)]   // 190
    [InlineData("http_req_duration", "p(99.9)<100", ThresholdMetric.Percentile, 99.9, 100, false)]
    [InlineData("http_req_duration", "avg<50", ThresholdMetric.Avg, 0, 50, true)]
    [InlineData("http_req_duration", "med<=100", ThresholdMetric.Percentile, 50, 100, true)]
    [InlineData("http_req_duration", "max<500", ThresholdMetric.Max, 0, 500, false)]
    [InlineData("http_req_failed", "rate<0.01", ThresholdMetric.ErrorRate, 0, 0.01, true)]
    [InlineData("http_req_failed{name:detail}", "rate<0.01", ThresholdMetric.ErrorRate, 0, 0.01, false)]
    [InlineData("http_reqs", "rate>200", ThresholdMetric.Rps, 0, 200, false)]
    [InlineData("http_reqs", "count>10", ThresholdMetric.Count, 0, 10, true)]
    public void K6_thresholds_parse_and_evaluate(string metric, string expr, ThresholdMetric kind, double pct, double limit, bool passes)
    {
        var t = Threshold.ParseK6(metric, expr);
        Assert.Equal(kind, t.Metric);
        Assert.Equal(pct, t.Percentile);
        Assert.Equal(limit, t.Limit, 9);
        Assert.Equal(passes, t.Evaluate(new Source()).Passed);
    }

    [Theory]
    [InlineData("http_req_duration", "p95<500")]
    [InlineData("http_req_duration", "rate<0.01")]
    [InlineData("http_req_failed", "p(95)<500")]
    [InlineData("http_req_waiting", "p(95)<500")]
    [InlineData("iterations", "count>1")]
    [InlineData("http_req_duration", "p(95)<")]
    public void Bad_k6_thresholds_are_rejected(string metric, string expr) => Assert.Throws<FormatException>(() => Threshold.ParseK6(metric, expr));

    [Fact]
    public void Nothing_measured_fails_a_latency_threshold()
    {
        var (value, passed) = Threshold.ParseCli("nothing:p95<1s").Evaluate(new Source());
        Assert.Null(value);
        Assert.False(passed);
    }

    [Fact]
    public void Every_threshold_of_the_shared_scenarios_file_parses()
    {
        foreach (var scenario in TestSupport.Options(new RunSettings { Scenario = "mixed" }).File.Scenarios.Keys)
        {
            var o = TestSupport.Options(new RunSettings { Scenario = scenario });
            Assert.NotEmpty(o.Thresholds);
        }
    }
}
