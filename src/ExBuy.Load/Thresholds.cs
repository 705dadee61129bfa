using System.Globalization;
using System.Text.RegularExpressions;

namespace ExBuy.Load;

public enum ThresholdMetric { Percentile, Avg, Min, Max, ErrorRate, Rps, Count }

/// <summary>What a threshold is evaluated on: the run's numbers, for every operation or for those an operation selector names.</summary>
public interface IThresholdSource
{
    /// <summary>Latency percentile in ms (0..100), or min/max/mean; null when nothing was measured.</summary>
    double? Latency(string? operation, ThresholdMetric metric, double percentile);
    double ErrorRate(string? operation);
    double Rps(string? operation);
    long Count(string? operation);
}

/// <summary>One pass/fail condition: `--threshold "p95&lt;200ms"` or a scenario's k6-style `http_req_duration: p(95)&lt;500`.</summary>
public sealed partial record Threshold(string Source, string Text, string? Operation, ThresholdMetric Metric, double Percentile, string Comparison, double Limit)
{
    [GeneratedRegex(@"^\s*(?:(?<op>[A-Za-z0-9_\-\[\]=]+)\s*:\s*)?(?<metric>p\d+(?:\.\d+)?|max|min|avg|mean|med|errors|rps|count)\s*(?<cmp><=|>=|<|>|==)\s*(?<val>\d+(?:\.\d+)?)\s*(?<unit>ms|s|us|µs|%)?\s*$")]
    private static partial Regex CliRegex();

    [GeneratedRegex(@"^\s*(?<agg>p\((?<p>\d+(?:\.\d+)?)\)|avg|med|min|max|rate|count)\s*(?<cmp><=|>=|<|>|==)\s*(?<val>\d+(?:\.\d+)?)\s*$")]
    private static partial Regex K6Regex();

    [GeneratedRegex(@"^(?<metric>[a-z_]+)(?:\{(?:name|op|operation):(?<op>[^}]+)\})?$")]
    private static partial Regex K6MetricRegex();

    /// <exception cref="FormatException">bad syntax (the message says what is accepted).</exception>
    public static Threshold ParseCli(string text)
    {
        var m = CliRegex().Match(text ?? "");
        if (!m.Success)
            throw new FormatException("expected [operation:]metric<op>value, metric one of pN (p95, p99.9), max, min, avg, errors, rps, count; op one of < <= > >= ==; e.g. p95<200ms, errors<1%, detail:p99<50ms, rps>100");
        var op = m.Groups["op"].Success ? m.Groups["op"].Value : null;
        var metricText = m.Groups["metric"].Value;
        var value = double.Parse(m.Groups["val"].Value, CultureInfo.InvariantCulture);
        var unit = m.Groups["unit"].Success ? m.Groups["unit"].Value : null;
        ThresholdMetric metric; double pct = 0;
        switch (metricText)
        {
            case "errors":
                metric = ThresholdMetric.ErrorRate;
                if (unit == "%") value /= 100;
                else if (unit is not null) throw new FormatException($"errors takes a percentage (1%) or a rate (0.01), not '{unit}'");
                else if (value > 1) throw new FormatException("errors without % is a rate in 0..1; write e.g. errors<1%");
                break;
            case "rps":
            case "count":
                metric = metricText == "rps" ? ThresholdMetric.Rps : ThresholdMetric.Count;
                if (unit is not null) throw new FormatException($"{metricText} takes a plain number, not '{unit}'");
                break;
            default:
                if (metricText.StartsWith('p'))
                {
                    metric = ThresholdMetric.Percentile;
                    pct = double.Parse(metricText[1..], CultureInfo.InvariantCulture);
                    if (pct is <= 0 or > 100) throw new FormatException($"percentile {pct} must be in (0, 100]");
                }
                else metric = metricText switch { "max" => ThresholdMetric.Max, "min" => ThresholdMetric.Min, "med" => ThresholdMetric.Percentile, _ => ThresholdMetric.Avg };
                if (metricText == "med") pct = 50;
                value = unit switch { null or "ms" => value, "s" => value * 1000, "us" or "µs" => value / 1000, _ => throw new FormatException($"a latency takes ms, s or us, not '{unit}'") };
                break;
        }
        return new Threshold("cli", text!.Trim(), op, metric, pct, m.Groups["cmp"].Value, value);
    }

    /// <summary>k6 syntax: http_req_duration (ms): p(N), avg, med, min, max; http_req_failed: rate; http_reqs: rate, count. `{name:op}` selects an operation.</summary>
    public static Threshold ParseK6(string metricName, string expression)
    {
        var mm = K6MetricRegex().Match(metricName ?? "");
        if (!mm.Success) throw new FormatException($"unknown metric '{metricName}'");
        var op = mm.Groups["op"].Success ? mm.Groups["op"].Value : null;
        var m = K6Regex().Match(expression ?? "");
        if (!m.Success) throw new FormatException("expected k6 syntax: p(95)<500, avg<200, med<100, min/max<..., rate<0.01, count>10");
        var agg = m.Groups["agg"].Value;
        var value = double.Parse(m.Groups["val"].Value, CultureInfo.InvariantCulture);
        var cmp = m.Groups["cmp"].Value;
        var text = $"{metricName}: {expression!.Trim()}";
        switch (mm.Groups["metric"].Value)
        {
            case "http_req_duration":
                if (agg.StartsWith("p(", StringComparison.Ordinal))
                {
                    var p = double.Parse(m.Groups["p"].Value, CultureInfo.InvariantCulture);
                    if (p is <= 0 or > 100) throw new FormatException($"percentile {p} must be in (0, 100]");
                    return new Threshold("scenario", text, op, ThresholdMetric.Percentile, p, cmp, value);
                }
                return agg switch
                {
                    "avg" => new Threshold("scenario", text, op, ThresholdMetric.Avg, 0, cmp, value),
                    "med" => new Threshold("scenario", text, op, ThresholdMetric.Percentile, 50, cmp, value),
                    "min" => new Threshold("scenario", text, op, ThresholdMetric.Min, 0, cmp, value),
                    "max" => new Threshold("scenario", text, op, ThresholdMetric.Max, 0, cmp, value),
                    _ => throw new FormatException($"http_req_duration takes p(N), avg, med, min or max, not '{agg}'"),
                };
            case "http_req_failed":
                if (agg != "rate") throw new FormatException($"http_req_failed takes rate, not '{agg}'");
                return new Threshold("scenario", text, op, ThresholdMetric.ErrorRate, 0, cmp, value);
            case "http_reqs":
                return agg switch
                {
                    "rate" => new Threshold("scenario", text, op, ThresholdMetric.Rps, 0, cmp, value),
                    "count" => new Threshold("scenario", text, op, ThresholdMetric.Count, 0, cmp, value),
                    _ => throw new FormatException($"http_reqs takes rate or count, not '{agg}'"),
                };
            default:
                throw new FormatException($"unsupported metric '{mm.Groups["metric"].Value}' (supported: http_req_duration, http_req_failed, http_reqs)");
        }
    }

    /// <summary>The measured value (null: nothing measured) and whether the condition holds. Nothing measured fails a latency threshold.</summary>
    public (double? Value, bool Passed) Evaluate(IThresholdSource source)
    {
        double? value = Metric switch
        {
            ThresholdMetric.ErrorRate => source.ErrorRate(Operation),
            ThresholdMetric.Rps => source.Rps(Operation),
            ThresholdMetric.Count => source.Count(Operation),
            _ => source.Latency(Operation, Metric, Percentile),
        };
        if (value is null) return (null, false);
        var v = value.Value;
        var ok = Comparison switch
        {
            "<" => v < Limit, "<=" => v <= Limit, ">" => v > Limit, ">=" => v >= Limit, _ => Math.Abs(v - Limit) < 1e-9,
        };
        return (value, ok);
    }
}
