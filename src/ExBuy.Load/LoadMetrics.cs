using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ExBuy.Load;

/// <summary>
/// Latency buckets of one operation key for the Prometheus endpoint (<c>exbuy_load_request_duration_seconds</c>):
/// two interlocked increments on the request path, no lock, no allocation.
/// </summary>
public sealed class PromLatency
{
    /// <summary>Upper bounds in µs: 0.1 ms .. 10 s, the same as ExBuy's request-duration histogram.</summary>
    public static readonly long[] BoundsMicros =
        [100, 250, 500, 1_000, 2_500, 5_000, 7_500, 10_000, 25_000, 50_000, 75_000, 100_000, 250_000, 500_000, 750_000,
         1_000_000, 2_500_000, 5_000_000, 7_500_000, 10_000_000];

    /// <summary>Non-cumulative counts; the last one is above 10 s (+Inf).</summary>
    public readonly long[] Buckets = new long[BoundsMicros.Length + 1];
    public long SumMicros;

    public void Record(long latencyMicros)
    {
        var bounds = BoundsMicros;
        var i = 0;
        while (i < bounds.Length && latencyMicros > bounds[i]) i++;
        Interlocked.Increment(ref Buckets[i]);
        Interlocked.Add(ref SumMicros, Math.Max(latencyMicros, 0));
    }
}

/// <summary>
/// The runner's own Prometheus endpoint (<c>--metrics-listen</c>): a minimal text exposition (format 0.0.4) served by an
/// <see cref="HttpListener"/> on <c>/metrics</c>. Everything is read at scrape time from the counters the runner keeps
/// anyway (<see cref="OpStats"/>, <see cref="MetricsSink"/>); the request path only adds <see cref="PromLatency.Record"/>.
/// Counts include the warm-up (it is load on the target too).
/// </summary>
public sealed class LoadMetrics : IAsyncDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly HttpListener _listener;
    private readonly Task _loop;
    private readonly Func<int> _vus;
    private readonly List<MetricsSink> _sinks = [];
    private readonly Dictionary<string, PromLatency> _latency = new(StringComparer.Ordinal);
    private readonly object _gate = new(); // attach and scrape only, never the request path
    private readonly string _runId, _scenario, _model;

    public string Prefix { get; }

    private LoadMetrics(HttpListener listener, string prefix, Func<int> vus, string runId, string scenario, string model)
    {
        _listener = listener; Prefix = prefix; _vus = vus; _runId = runId; _scenario = scenario; _model = model;
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The run id of the result file: scenario, UTC start, seed.</summary>
    public static string RunId(string scenario, DateTimeOffset startedAt, long seed) =>
        $"{scenario}-{startedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{seed}";

    /// <summary>
    /// Validates <c>--metrics-listen</c>: <c>host:port</c> (host an IP address or <c>localhost</c>; <c>[::1]:port</c> for IPv6)
    /// or a bare port (then 127.0.0.1; localhost is 127.0.0.1 too). Returns the normalized <c>host:port</c>.
    /// </summary>
    public static string ParseListen(string text)
    {
        var t = text.Trim();
        string host, portText;
        if (!t.Contains(':')) { host = "127.0.0.1"; portText = t; }
        else if (t.StartsWith('['))
        {
            var close = t.IndexOf(']');
            if (close < 0 || close + 1 >= t.Length || t[close + 1] != ':') throw new OptionException($"--metrics-listen: '{text}' is not host:port");
            host = t[..(close + 1)]; portText = t[(close + 2)..];
        }
        else
        {
            var colon = t.LastIndexOf(':');
            host = t[..colon]; portText = t[(colon + 1)..];
            if (host.Length == 0) host = "127.0.0.1";
            if (host.Contains(':')) throw new OptionException($"--metrics-listen: '{text}': write an IPv6 host in brackets, e.g. [::1]:9464");
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new OptionException($"--metrics-listen: '{text}': the port must be in 1..65535 (example: 127.0.0.1:9464)");
        if (host != "localhost" && !IPAddress.TryParse(host.Trim('[', ']'), out _))
            throw new OptionException($"--metrics-listen: '{text}': the host must be an IP address or localhost (example: 127.0.0.1:9464)");
        if (host == "localhost") host = "127.0.0.1";
        return $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Starts serving <c>http://{listen}/metrics</c>; 0.0.0.0 / [::] listen on every interface.</summary>
    public static LoadMetrics Start(string listen, Func<int> vus, string runId, string scenario, string model)
    {
        var colon = listen.LastIndexOf(':');
        var host = listen[..colon];
        var prefixHost = host is "0.0.0.0" or "[::]" ? "*" : host;
        var prefix = $"http://{prefixHost}{listen[colon..]}/";
        var listener = new HttpListener();
        listener.Prefixes.Add(prefix);
        // The managed HttpListener matches the Host header against its prefixes: on 127.0.0.1, answer http://localhost:PORT too.
        if (host == "127.0.0.1") listener.Prefixes.Add($"http://localhost{listen[colon..]}/");
        try { listener.Start(); }
        catch (Exception e) when (e is HttpListenerException or SocketException)
        {
            listener.Close();
            throw new InvalidOperationException($"--metrics-listen {listen}: cannot listen ({e.Message})", e);
        }
        return new LoadMetrics(listener, prefix, vus, runId, scenario, model);
    }

    /// <summary>Counts what <paramref name="sink"/> records from now on (its latency buckets are shared per operation key).</summary>
    public void Attach(MetricsSink sink)
    {
        lock (_gate)
        {
            foreach (var op in sink.Ops.Values)
            {
                if (!_latency.TryGetValue(op.Key, out var prom)) _latency[op.Key] = prom = new PromLatency();
                op.Export = prom;
            }
            _sinks.Add(sink);
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try
            {
                var path = ctx.Request.Url?.AbsolutePath ?? "/";
                if (path is "/metrics" or "/")
                {
                    var bytes = Encoding.UTF8.GetBytes(Render());
                    ctx.Response.StatusCode = 200;
                    ctx.Response.ContentType = ContentType;
                    ctx.Response.ContentLength64 = bytes.Length;
                    await ctx.Response.OutputStream.WriteAsync(bytes);
                }
                else ctx.Response.StatusCode = 404;
                ctx.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                try { ctx.Response.Abort(); } catch (ObjectDisposedException) { }
            }
        }
    }

    private static string Escape(string v) => v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Seconds(long micros) => (micros / 1_000_000.0).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The exposition text (what a scrape returns).</summary>
    public string Render()
    {
        var sb = new StringBuilder(4096);
        var inv = CultureInfo.InvariantCulture;
        lock (_gate)
        {
            sb.Append("# HELP exbuy_load_run_info The load run being served (1): its run id (as in the result file), scenario and model.\n");
            sb.Append("# TYPE exbuy_load_run_info gauge\n");
            sb.Append(inv, $"exbuy_load_run_info{{run_id=\"{Escape(_runId)}\",scenario=\"{Escape(_scenario)}\",model=\"{_model}\"}} 1\n");
            sb.Append("# HELP exbuy_load_vus Virtual users running (closed model) or requests in flight (open model).\n");
            sb.Append("# TYPE exbuy_load_vus gauge\n");
            sb.Append(inv, $"exbuy_load_vus {_vus()}\n");

            var keys = _latency.Keys.Order(StringComparer.Ordinal).ToList();
            sb.Append("# HELP exbuy_load_requests_total Requests completed by the runner, by operation key and HTTP status (0: transport error or timeout).\n");
            sb.Append("# TYPE exbuy_load_requests_total counter\n");
            foreach (var key in keys)
            {
                var statuses = new long[600];
                foreach (var sink in _sinks)
                    if (sink.Ops.TryGetValue(key, out var op))
                        for (var s = 0; s < statuses.Length; s++) statuses[s] += Interlocked.Read(ref op.Statuses[s]);
                for (var s = 0; s < statuses.Length; s++)
                    if (statuses[s] > 0) sb.Append(inv, $"exbuy_load_requests_total{{op=\"{Escape(key)}\",status=\"{s}\"}} {statuses[s]}\n");
            }

            sb.Append("# HELP exbuy_load_errors_total Requests counted as errors (transport errors, timeouts, statuses outside the operation's expect), by operation key.\n");
            sb.Append("# TYPE exbuy_load_errors_total counter\n");
            foreach (var key in keys)
            {
                long errors = 0;
                foreach (var sink in _sinks)
                    if (sink.Ops.TryGetValue(key, out var op)) errors += Interlocked.Read(ref op.Errors);
                sb.Append(inv, $"exbuy_load_errors_total{{op=\"{Escape(key)}\"}} {errors}\n");
            }

            sb.Append("# HELP exbuy_load_request_duration_seconds Client-side latency by operation key (open model: from the intended start).\n");
            sb.Append("# TYPE exbuy_load_request_duration_seconds histogram\n");
            foreach (var key in keys)
            {
                var h = _latency[key];
                var op = Escape(key);
                long cumulative = 0;
                for (var i = 0; i < PromLatency.BoundsMicros.Length; i++)
                {
                    cumulative += Interlocked.Read(ref h.Buckets[i]);
                    sb.Append(inv, $"exbuy_load_request_duration_seconds_bucket{{op=\"{op}\",le=\"{Seconds(PromLatency.BoundsMicros[i])}\"}} {cumulative}\n");
                }
                cumulative += Interlocked.Read(ref h.Buckets[^1]);
                sb.Append(inv, $"exbuy_load_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {cumulative}\n");
                sb.Append(inv, $"exbuy_load_request_duration_seconds_sum{{op=\"{op}\"}} {Seconds(Interlocked.Read(ref h.SumMicros))}\n");
                sb.Append(inv, $"exbuy_load_request_duration_seconds_count{{op=\"{op}\"}} {cumulative}\n");
            }

            long dropped = 0;
            foreach (var sink in _sinks) dropped += Interlocked.Read(ref sink.Dropped);
            sb.Append("# HELP exbuy_load_dropped_starts_total Open model: arrivals dropped because --max-vus requests were in flight.\n");
            sb.Append("# TYPE exbuy_load_dropped_starts_total counter\n");
            sb.Append(inv, $"exbuy_load_dropped_starts_total {dropped}\n");
        }
        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        try { await _loop; } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        _listener.Close();
    }
}
