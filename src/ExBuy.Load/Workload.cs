using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

public sealed class OwnOrder(long id, (long Product, int Quantity)[] lines)
{
    public long Id { get; } = id;
    public (long Product, int Quantity)[] Lines { get; } = lines;
    /// <summary>pending, paid, shipped, delivered, cancelled; null when a write's outcome is unknown.</summary>
    public string? Status { get; set; } = "pending";
}

/// <summary>A virtual user: its own random stream (seed + index) and the orders it placed.</summary>
public sealed class VuState(int index, long seed)
{
    public int Index { get; } = index;
    public Random Random { get; } = new(unchecked((int)(seed * 1_000_003 + index * 7919)));
    public List<OwnOrder> Orders { get; } = [];

    /// <summary>The per-request timeout's source, reset and reused (a VU runs one request at a time).</summary>
    public CancellationTokenSource Timeout { get; set; } = new();
}

/// <summary>The scenario compiled against the discovered data: draws operations and parameters, sends, measures, keeps the ledger.</summary>
public sealed class Workload
{
    private static readonly string[] Orderings = ["id", "-id", "name", "-name", "price", "-price", "stock", "-stock", "created_at", "-created_at"];
    private static readonly string[] LockTypes = ["optimistic", "pessimistic", "versioned"];
    private static readonly string[] Words = ["great", "solid", "works", "as described", "fast delivery", "would buy again", "okay", "nice"];
    private static readonly HashSet<string> Transitions = ["pending>paid", "paid>shipped", "shipped>delivered", "pending>cancelled", "paid>cancelled"];

    private readonly HttpClient _http;
    private readonly ScenarioFile _file;
    private readonly ScenarioDef _scenario;
    private readonly TargetData _data;
    private readonly string _lockType;
    private readonly TimeSpan _timeout;
    private readonly WeightedPicker<OperationDef> _all;
    private readonly WeightedPicker<OperationDef> _withoutOwn;
    private readonly Dictionary<string, (string Plain, string True, string False)> _keys = [];
    private static readonly byte[] UploadPayload = Enumerable.Range(0, 1 << 16).Select(i => (byte)(i * 31 + 7)).ToArray();

    public Ledger Ledger { get; }
    public IReadOnlyList<string> Skipped { get; }
    public IReadOnlyList<KeyValuePair<OperationDef, double>> EffectiveWeights { get; }

    public Workload(HttpClient http, ScenarioFile file, ScenarioDef scenario, TargetData data, string lockType, TimeSpan timeout)
    {
        _http = http; _file = file; _scenario = scenario; _data = data; _lockType = lockType; _timeout = timeout;
        var skipped = new List<string>();
        var weights = new List<KeyValuePair<OperationDef, double>>();
        foreach (var (name, w) in scenario.Weights)
        {
            var op = file.Operations[name];
            if (op.Uses("order") && data.Orders.Length == 0) { skipped.Add($"{name} (no order found)"); continue; }
            if (op.Uses("product") || op.Uses("items") || op.Uses("orders"))
                if (data.ProductPool.Length == 0) { skipped.Add($"{name} (no product found)"); continue; }
            weights.Add(new(op, w));
        }
        Skipped = skipped;
        EffectiveWeights = weights;
        _all = new WeightedPicker<OperationDef>(weights);
        _withoutOwn = new WeightedPicker<OperationDef>(weights.Where(w => !w.Key.Uses("own_order")));
        foreach (var (op, _) in weights) _keys[op.Name] = (op.Name, $"{op.Name}[optimize=true]", $"{op.Name}[optimize=false]");
        Ledger = new Ledger(data.ProductPool);
    }

    public bool CanRun => !_withoutOwn.IsEmpty;

    /// <summary>Every key results are split by: the operation, or the operation and its optimize value.</summary>
    public IEnumerable<OpStats> NewStats()
    {
        foreach (var (op, _) in EffectiveWeights)
        {
            if (!op.Uses("optimize")) { yield return new OpStats(op.Name, op.Name, op.Expect); continue; }
            if (_scenario.Optimize != "false") yield return new OpStats(_keys[op.Name].True, op.Name, op.Expect);
            if (_scenario.Optimize != "true") yield return new OpStats(_keys[op.Name].False, op.Name, op.Expect);
        }
    }

    /// <summary>Draws an operation: one on an own order only when the VU has one (else its weight goes to the others).</summary>
    public OperationDef Draw(VuState vu)
    {
        if (vu.Orders.Count == 0) return _withoutOwn.Next(vu.Random);
        return _all.Next(vu.Random);
    }

    /// <summary>One request: draw, send, measure into <paramref name="sink"/>, apply its effect to the ledger. <paramref name="startTimestamp"/> is the intended start (open model) or now.</summary>
    public async Task ExecuteAsync(VuState vu, MetricsSink sink, long startTimestamp)
    {
        var op = Draw(vu);
        var ctx = new Drawn(this, vu, op);
        var path = Templates.ExpandPath(op.Path, ctx.Resolve);
        using var request = new HttpRequestMessage(op.HttpMethod, path);
        if (op.Body is not null)
        {
            var body = Templates.ExpandBody(op.Body, ctx.Resolve);
            request.Content = new StringContent(body!.ToJsonString(), Encoding.UTF8, "application/json");
        }
        else if (op.MultipartField is not null)
        {
            var content = new MultipartFormDataContent();
            var bytes = new ByteArrayContent(UploadPayload, 0, Math.Clamp(op.MultipartBytes, 1, UploadPayload.Length));
            bytes.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Add(bytes, op.MultipartField, "exbuy-load.bin");
            request.Content = content;
        }
        request.Headers.TryAddWithoutValidation("traceparent", TraceParent(vu.Random));

        var key = !op.Uses("optimize") ? op.Name : ctx.Optimize == "true" ? _keys[op.Name].True : _keys[op.Name].False;
        var stats = sink[key];
        var status = 0;
        long ttfb = -1, server = -1;
        byte[]? responseBody = null;
        var cts = vu.Timeout;
        cts.CancelAfter(_timeout);
        var windows = sink.Windows;
        var (window, epoch) = windows?.Begin() ?? default;
        var faulted = false;
        var injectedError = false;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (windows is not null) faulted = response.Headers.NonValidated.Contains("X-Fault");
            // An error ExBuy injected (X-Fault: …error=NNN) was answered without running the handler: nothing was
            // written, so the write's outcome is known (not done), not unknown.
            if ((int)response.StatusCode >= 500 && response.Headers.NonValidated.TryGetValues("X-Fault", out var fault))
            {
                foreach (var f in fault) injectedError |= f.Contains("error=", StringComparison.Ordinal);
            }
            ttfb = Hdr.MicrosBetween(startTimestamp, Stopwatch.GetTimestamp());
            // The body is kept only where the ledger reads it; otherwise it is drained through a pooled buffer.
            if (op.Effect != "none" || ctx.OwnOrder is not null)
            {
                responseBody = await response.Content.ReadAsByteArrayAsync(cts.Token);
            }
            else
            {
                await response.Content.CopyToAsync(Stream.Null, cts.Token);
            }
            status = (int)response.StatusCode;
            if (response.Headers.NonValidated.TryGetValues("Server-Timing", out var timing)) server = ParseServerTiming(timing);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            status = 0;
        }
        var latency = Hdr.MicrosBetween(startTimestamp, Stopwatch.GetTimestamp());
        if (!cts.TryReset())
        {
            cts.Dispose();
            vu.Timeout = new CancellationTokenSource();
        }
        stats.Record(status, latency, ttfb, server);
        windows?.End(window, epoch, latency, stats.IsError(status), faulted);
        if (op.Effect != "none" || ctx.OwnOrder is not null) ApplyEffect(op, ctx, status, responseBody, injectedError);
    }

    private void ApplyEffect(OperationDef op, Drawn ctx, int status, byte[]? body, bool injectedError)
    {
        var unknown = (status == 0 || status >= 500) && !injectedError;
        switch (op.Effect)
        {
            case "order":
            {
                var orders = ctx.Orders;
                if (unknown)
                {
                    Interlocked.Increment(ref Ledger.UnknownWrites);
                    foreach (var o in orders) foreach (var (p, _) in o) Ledger.Unknown(p);
                    return;
                }
                if (status != 201) return;
                foreach (var o in orders) foreach (var (p, q) in o) Ledger.Ordered(p, q);
                Interlocked.Add(ref Ledger.OrdersPlaced, orders.Count);
                Interlocked.Add(ref Ledger.OrdersPlacedTotal, orders.Count);
                CheckCreatedOrders(ctx, body);
                return;
            }
            case "reserve":
            {
                var product = ctx.Product;
                if (unknown) { Interlocked.Increment(ref Ledger.UnknownWrites); Ledger.Unknown(product); return; }
                if (status != 200) return;
                Ledger.Reserved(product, ctx.Quantity);
                try
                {
                    var json = JsonNode.Parse(body);
                    if (json?["remaining_stock"] is JsonNode rs && rs.GetValue<long>() < 0)
                        Ledger.Violation($"reserve of product {product} answered remaining_stock {rs.GetValue<long>()} (< 0)");
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
                return;
            }
        }
        // Lifecycle of an own order (pay, ship, cancel): keep its status; a cancel that moved pending|paid → cancelled gives stock back.
        var own = ctx.OwnOrder;
        if (own is null) return;
        var before = own.Status;
        if (unknown)
        {
            own.Status = null;
            if (op.Effect == "cancel") { Interlocked.Increment(ref Ledger.UnknownWrites); foreach (var (p, _) in own.Lines) Ledger.Unknown(p); }
            return;
        }
        if (status != 200) return;
        string? after = null;
        try { after = JsonNode.Parse(body)?["status"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
        own.Status = after;
        if (op.Effect != "cancel" || after != "cancelled") return;
        if (before is "pending" or "paid") foreach (var (p, q) in own.Lines) Ledger.Cancelled(p, q);
        else if (before is null) foreach (var (p, _) in own.Lines) Ledger.Unknown(p); // may or may not have been cancelled already
    }

    /// <summary>Each 201 order: total_price = Σ quantity × unit_price, lines as requested; remembered as the VU's own order.</summary>
    private void CheckCreatedOrders(Drawn ctx, byte[]? body)
    {
        JsonNode? json;
        try { json = JsonNode.Parse(body); }
        catch (JsonException) { Ledger.Violation($"{ctx.Op.Name}: 201 with a body that is not JSON"); return; }
        var orders = ctx.Op.Uses("orders") ? json?["orders"]?.AsArray().ToList() : [json];
        if (orders is null || orders.Count != ctx.Orders.Count)
        {
            Ledger.Violation($"{ctx.Op.Name}: 201 answered {orders?.Count ?? 0} order(s) for {ctx.Orders.Count} requested");
            return;
        }
        for (var i = 0; i < orders.Count; i++)
        {
            var o = orders[i];
            try
            {
                var id = o!["id"]!.GetValue<long>();
                var total = o["total_price"]!.GetValue<decimal>();
                decimal sum = 0;
                var lines = new List<(long, int)>();
                foreach (var item in o["items"]!.AsArray())
                {
                    var q = item!["quantity"]!.GetValue<int>();
                    sum += q * item["unit_price"]!.GetValue<decimal>();
                    lines.Add((item["product_id"]!.GetValue<long>(), q));
                }
                if (sum != total) Ledger.Violation($"order {id}: total_price {total.ToString(CultureInfo.InvariantCulture)} != Σ quantity × unit_price {sum.ToString(CultureInfo.InvariantCulture)}");
                var requested = ctx.Orders[i];
                if (lines.Count != requested.Count || lines.OrderBy(l => l.Item1).Zip(requested.OrderBy(l => l.Product)).Any(z => z.First.Item1 != z.Second.Product || z.First.Item2 != z.Second.Quantity))
                    Ledger.Violation($"order {id}: items differ from the request");
                ctx.Vu.Orders.Add(new OwnOrder(id, [.. requested]));
                if (ctx.Vu.Orders.Count > 256) ctx.Vu.Orders.RemoveAt(0);
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                Ledger.Violation($"{ctx.Op.Name}: 201 order without id, total_price or items");
            }
        }
    }

    internal static long ParseServerTiming(IEnumerable<string> values)
    {
        foreach (var header in values)
            foreach (var metric in header.Split(','))
            {
                var parts = metric.Split(';', StringSplitOptions.TrimEntries);
                if (parts[0] != "app") continue;
                foreach (var p in parts.Skip(1))
                    if (p.StartsWith("dur=", StringComparison.Ordinal) &&
                        double.TryParse(p.AsSpan(4), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
                        return (long)Math.Round(ms * 1000);
            }
        return -1;
    }

    private static string TraceParent(Random random)
    {
        Span<byte> bytes = stackalloc byte[24];
        random.NextBytes(bytes);
        bytes[0] |= 1; bytes[16] |= 1; // never all zero
        Span<char> chars = stackalloc char[55];
        "00-".CopyTo(chars);
        Convert.TryToHexStringLower(bytes[..16], chars[3..35], out _);
        chars[35] = '-';
        Convert.TryToHexStringLower(bytes[16..], chars[36..52], out _);
        "-01".CopyTo(chars[52..]);
        return new string(chars);
    }

    /// <summary>The parameters of one request, drawn on first use and kept for the ledger.</summary>
    private sealed class Drawn(Workload w, VuState vu, OperationDef op)
    {
        public readonly VuState Vu = vu;
        public readonly OperationDef Op = op;
        private readonly Dictionary<string, JsonNode?> _values = [];
        private long? _user;
        private string? _optimize;
        public long Product => _values.TryGetValue("product", out var p) && p is not null ? p.GetValue<long>() : 0;
        public int Quantity => _values.TryGetValue("quantity", out var q) && q is not null ? q.GetValue<int>() : 0;
        public List<List<(long Product, int Quantity)>> Orders { get; } = [];
        public OwnOrder? OwnOrder { get; private set; }

        public string Optimize => _optimize ??= w._scenario.Optimize == "random" ? (Vu.Random.Next(2) == 0 ? "true" : "false") : w._scenario.Optimize;

        public JsonNode? Resolve(string name)
        {
            if (_values.TryGetValue(name, out var v)) return v;
            v = Compute(name);
            _values[name] = v;
            return v;
        }

        private long User => _user ??= 1 + Vu.Random.Next(100_000);

        private JsonNode? Compute(string name)
        {
            var r = Vu.Random;
            var d = w._data;
            switch (name)
            {
                case "product": return d.ProductPool[r.Next(d.ProductPool.Length)];
                case "page": return 1 + r.Next(d.ProductPages);
                case "review_page": return 1 + r.Next(d.ReviewPages);
                case "order": return d.Orders[r.Next(d.Orders.Length)];
                case "own_order":
                    OwnOrder = PickOwnOrder();
                    return OwnOrder.Id;
                case "optimize": return Optimize;
                case "ordering": return Orderings[r.Next(Orderings.Length)];
                case "term": return w._file.SearchTerms[r.Next(w._file.SearchTerms.Length)];
                case "lock_type": return w._lockType == "random" ? LockTypes[r.Next(LockTypes.Length)] : w._lockType;
                case "user": return User;
                case "quantity": return 1 + r.Next(3);
                case "rating": return 1 + r.Next(5);
                case "text": return $"{Words[r.Next(Words.Length)]}, {Words[r.Next(Words.Length)]} (exbuy-load)";
                case "items": return Items(User);
                case "orders":
                {
                    var n = 2 + r.Next(4);
                    var arr = new JsonArray();
                    for (var i = 0; i < n; i++)
                        arr.Add(new JsonObject { ["user_id"] = 1 + r.Next(100_000), ["items"] = Items(null) });
                    return arr;
                }
                default: throw new InvalidOperationException($"unknown parameter {{{name}}}");
            }
        }

        private JsonArray Items(long? _)
        {
            var r = Vu.Random;
            var pool = w._data.ProductPool;
            var n = Math.Min(1 + r.Next(3), pool.Length);
            var lines = new List<(long Product, int Quantity)>(n);
            var arr = new JsonArray();
            while (lines.Count < n)
            {
                var p = pool[r.Next(pool.Length)];
                if (lines.Exists(l => l.Product == p)) continue;
                var q = 1 + r.Next(3);
                lines.Add((p, q));
                arr.Add(new JsonObject { ["product_id"] = p, ["quantity"] = q });
            }
            Orders.Add(lines);
            return arr;
        }

        /// <summary>An own order the operation's target status can be reached from, else any (a 409 or a no-op is then the answer).</summary>
        private OwnOrder PickOwnOrder()
        {
            var orders = Vu.Orders;
            var target = Op.Body?["status"]?.GetValue<string>();
            if (target is not null)
            {
                var start = Vu.Random.Next(orders.Count);
                for (var k = 0; k < orders.Count; k++)
                {
                    var o = orders[(start + k) % orders.Count];
                    if (o.Status is not null && Transitions.Contains($"{o.Status}>{target}")) return o;
                }
            }
            return orders[Vu.Random.Next(orders.Count)];
        }
    }
}
