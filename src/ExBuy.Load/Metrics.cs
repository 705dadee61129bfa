using System.Diagnostics;
using HdrHistogram;
using HdrHistogram.Utilities;

namespace ExBuy.Load;

public static class Hdr
{
    public const long Lowest = 1;
    public const long Highest = 60_000_000; // 60 s in µs
    public const int Digits = 3;

    public static LongHistogram New() => new(Lowest, Highest, Digits);

    public static Recorder NewRecorder() =>
        new(Lowest, Highest, Digits, (id, lo, hi, digits) => new LongConcurrentHistogram(id, lo, hi, digits));

    public static long Clamp(long micros) => Math.Clamp(micros, Lowest, Highest);

    public static long MicrosBetween(long fromTimestamp, long toTimestamp) =>
        (long)((toTimestamp - fromTimestamp) * 1_000_000.0 / Stopwatch.Frequency);

    /// <summary>HdrHistogram's compressed encoding (V2, DEFLATE), base64: HistogramEncoding.DecodeFromCompressedByteBuffer reads it back.</summary>
    public static string Encode(HistogramBase histogram)
    {
        var buffer = ByteBuffer.Allocate(histogram.GetNeededByteBufferCapacity());
        var length = histogram.EncodeIntoCompressedByteBuffer(buffer);
        var bytes = new byte[length];
        buffer.Position = 0;
        for (var i = 0; i < length; i++) bytes[i] = buffer.Get();
        return Convert.ToBase64String(bytes);
    }

    public static HistogramBase Decode(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        return HistogramEncoding.DecodeFromCompressedByteBuffer(ByteBuffer.Allocate(bytes), 0);
    }

    public static double Ms(long micros) => micros / 1000.0;

    public static double PercentileMs(HistogramBase h, double p) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(p) / 1000.0;
}

/// <summary>One operation key's numbers: recorders written lock-free by every VU, harvested once a second into cumulative histograms.</summary>
public sealed class OpStats(string key, string operation, int[] expect)
{
    public string Key { get; } = key;
    public string Operation { get; } = operation;
    public int[] Expect { get; } = expect;

    public readonly Recorder Latency = Hdr.NewRecorder();
    public readonly Recorder Ttfb = Hdr.NewRecorder();
    public readonly Recorder Server = Hdr.NewRecorder();

    /// <summary>Index = HTTP status, 0 = transport error or timeout.</summary>
    public readonly long[] Statuses = new long[600];
    public long Count;
    public long Errors;
    public long ServerSumMicros;
    public long LatencySumWithServerMicros;
    /// <summary>The --metrics-listen latency buckets of this key (null without it); set before the phase starts.</summary>
    public PromLatency? Export;

    // Harvest thread only.
    public readonly LongHistogram LatencyTotal = Hdr.New();
    public readonly LongHistogram TtfbTotal = Hdr.New();
    public readonly LongHistogram ServerTotal = Hdr.New();
    private HistogramBase? _recycleLatency, _recycleTtfb, _recycleServer;

    public bool IsError(int status) => status == 0 || Array.IndexOf(Expect, status) < 0;

    public void Record(int status, long latencyMicros, long ttfbMicros, long serverMicros)
    {
        Latency.RecordValue(Hdr.Clamp(latencyMicros));
        if (ttfbMicros >= 0) Ttfb.RecordValue(Hdr.Clamp(ttfbMicros));
        if (serverMicros >= 0)
        {
            Server.RecordValue(Hdr.Clamp(serverMicros));
            Interlocked.Add(ref ServerSumMicros, serverMicros);
            Interlocked.Add(ref LatencySumWithServerMicros, latencyMicros);
        }
        Interlocked.Increment(ref Statuses[status is >= 0 and < 600 ? status : 0]);
        Interlocked.Increment(ref Count);
        if (IsError(status)) Interlocked.Increment(ref Errors);
        Export?.Record(latencyMicros);
    }

    /// <summary>Moves what was recorded since the last call into the totals; adds the latency interval to <paramref name="intervalAll"/>.</summary>
    public void Harvest(LongHistogram intervalAll)
    {
        var lat = Latency.GetIntervalHistogram(_recycleLatency);
        LatencyTotal.Add(lat);
        intervalAll.Add(lat);
        _recycleLatency = lat;
        var ttfb = Ttfb.GetIntervalHistogram(_recycleTtfb);
        TtfbTotal.Add(ttfb);
        _recycleTtfb = ttfb;
        var srv = Server.GetIntervalHistogram(_recycleServer);
        ServerTotal.Add(srv);
        _recycleServer = srv;
    }

    public double? ServerShare => LatencySumWithServerMicros > 0 ? (double)ServerSumMicros / LatencySumWithServerMicros : null;
}

/// <summary>Per-second point of the run.</summary>
public sealed record SecondPoint(double T, int Vus, double Rps, double P50, double P95, double P99, long Errors, long Count);

/// <summary>Everything one phase (warm-up or the measured run) records.</summary>
public sealed class MetricsSink
{
    private readonly Dictionary<string, OpStats> _ops;
    public MetricsSink(IEnumerable<OpStats> ops) => _ops = ops.ToDictionary(o => o.Key);

    public IReadOnlyDictionary<string, OpStats> Ops => _ops;
    public OpStats this[string key] => _ops[key];
    /// <summary>The fault windows of a --faults run (measured phase only); null otherwise.</summary>
    public FaultWindows? Windows { get; set; }

    // Open model.
    public long Intended, Started, Late, Dropped;
    /// <summary>Scheduler thread only: the first and last intended and actual start (Stopwatch timestamps).</summary>
    public long FirstIntended, LastIntended, FirstStart, LastStart;

    // Harvest thread only.
    public readonly LongHistogram AllTotal = Hdr.New();
    public readonly List<SecondPoint> Series = [];
    private readonly LongHistogram _interval = Hdr.New();
    private long _lastCount, _lastErrors;
    public long TotalCount => _ops.Values.Sum(o => Interlocked.Read(ref o.Count));
    public long TotalErrors => _ops.Values.Sum(o => Interlocked.Read(ref o.Errors));

    /// <summary>Harvests every operation; appends a point to <see cref="Series"/> when <paramref name="elapsed"/> is given.</summary>
    public SecondPoint Harvest(double elapsed, double intervalSeconds, int vus, bool addToSeries = true)
    {
        _interval.Reset();
        foreach (var op in _ops.Values) op.Harvest(_interval);
        AllTotal.Add(_interval);
        var count = TotalCount;
        var errors = TotalErrors;
        var dCount = count - _lastCount;
        var dErr = errors - _lastErrors;
        _lastCount = count; _lastErrors = errors;
        var point = new SecondPoint(Math.Round(elapsed, 3), vus, intervalSeconds > 0 ? dCount / intervalSeconds : 0,
            Hdr.PercentileMs(_interval, 50), Hdr.PercentileMs(_interval, 95), Hdr.PercentileMs(_interval, 99), dErr, dCount);
        if (addToSeries && (dCount > 0 || intervalSeconds >= 0.5)) Series.Add(point);
        return point;
    }
}
