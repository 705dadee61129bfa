using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;
using Spectre.Console;

namespace ExBuy.Load;

/// <summary>
/// One window of a fault timeline: from its step until the next one (or the end of the run). Written lock-free by every VU,
/// read once after the measured phase.
/// </summary>
public sealed class FaultWindow(int index, FaultStep step)
{
    public int Index { get; } = index;
    public FaultStep Step { get; } = step;
    public DateTimeOffset? AppliedAt { get; set; }
    /// <summary>Why the PUT failed (the run went on with whatever the target had); null when applied.</summary>
    public string? Error { get; set; }
    public readonly HdrHistogram.Recorder Latency = Hdr.NewRecorder();
    public long Requests, Errors, Faulted;

    public void Record(long latencyMicros, bool error, bool faulted)
    {
        Latency.RecordValue(Hdr.Clamp(latencyMicros));
        Interlocked.Increment(ref Requests);
        if (error) Interlocked.Increment(ref Errors);
        if (faulted) Interlocked.Increment(ref Faulted);
    }
}

/// <summary>
/// Which fault window a request belongs to. A change moves an epoch twice (odd while its PUT is in flight): a request counts in
/// the window it started in only if no change began or was in flight between its start and its end, so every window holds
/// only requests that saw that window's rules; the others are counted as <see cref="Straddled"/>.
/// </summary>
public sealed class FaultWindows
{
    private FaultWindow? _current;
    private long _epoch;
    public long Straddled;

    /// <summary>At a request's start: the epoch (read first), then the window.</summary>
    public (FaultWindow? Window, long Epoch) Begin()
    {
        var epoch = Volatile.Read(ref _epoch);
        return (Volatile.Read(ref _current), epoch);
    }

    public void End(FaultWindow? window, long epoch, long latencyMicros, bool error, bool faulted)
    {
        if ((epoch & 1) != 0 || Volatile.Read(ref _epoch) != epoch)
        {
            Interlocked.Increment(ref Straddled);
            return;
        }
        window?.Record(latencyMicros, error, faulted);
    }

    internal void ChangeBegins() => Interlocked.Increment(ref _epoch);

    internal void ChangeEnds(FaultWindow window)
    {
        Volatile.Write(ref _current, window);
        Interlocked.Increment(ref _epoch);
    }
}

/// <summary>
/// <c>run --faults</c>: talks to the target's admin API on its own connection (never queued behind the VUs): reads the rules active
/// before the run, pre-flights every step (<c>?validate_only=true</c>), applies each step at its offset, restores the rules at the end.
/// </summary>
public sealed class FaultController : IDisposable
{
    public const string Path = "/api/admin/faults";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly FaultTimeline _timeline;
    private readonly HttpClient _admin;
    private readonly Action<string, string> _say;
    private readonly List<FaultWindow> _windows = [];
    private JsonArray? _before;
    private bool _changed, _restored;

    public FaultWindows Windows { get; } = new();
    /// <summary>The windows opened so far (a step not reached, when the run was cancelled, has none).</summary>
    public IReadOnlyList<FaultWindow> Opened => _windows;
    public FaultTimeline Timeline => _timeline;
    /// <summary>Rules active on the target before the run, as GET answered them.</summary>
    public JsonArray? Before => _before;

    /// <param name="say">(markup, plain) line writer.</param>
    public FaultController(Uri baseUrl, FaultTimeline timeline, string token, HttpMessageHandler? handler, Action<string, string> say)
    {
        _timeline = timeline;
        _say = say;
        _admin = handler is not null
            ? new HttpClient(handler, disposeHandler: false)
            : new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false, MaxConnectionsPerServer = 2, ConnectTimeout = TimeSpan.FromSeconds(10) });
        _admin.BaseAddress = baseUrl;
        _admin.Timeout = TimeSpan.FromSeconds(10);
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public void Dispose() => _admin.Dispose();

    private void Say(string text) => _say(Markup.Escape(text), text);
    private void Warn(string text) => _say($"[yellow]{Markup.Escape(text)}[/]", text);

    /// <summary>Prints the timeline (a random one as generated).</summary>
    public void PrintTimeline()
    {
        var what = _timeline.Source == "random" ? $"random timeline, seed {_timeline.Seed}" : "timeline";
        Say($"faults: {what} from {_timeline.Path}{(_timeline.Description is { Length: > 0 } d ? $" ({d})" : "")}: {_timeline.Steps.Count} step(s), offsets from the start of the measured phase");
        foreach (var s in _timeline.Steps) Say($"faults:   {s.AtText,7}  {s.Label} → {FaultTimeline.Describe(s.Rules)}");
    }

    /// <summary>GET the active rules and pre-flight every step; the message of a set-up failure, or null.</summary>
    public async Task<string?> SetUpAsync(CancellationToken ct)
    {
        try
        {
            using var response = await _admin.GetAsync(Path, ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
                return $"GET {Path} answered 404: the target has no admin API: start it with ADMIN_TOKEN=… (see README, Faults)";
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                return $"GET {Path} answered {(int)response.StatusCode}: the target refused the admin token (--admin-token or ADMIN_TOKEN must be the token the server was started with)";
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode != HttpStatusCode.OK) return $"GET {Path} answered {(int)response.StatusCode}: {Short(body)}";
            try { _before = JsonNode.Parse(body) as JsonArray; }
            catch (JsonException) { }
            if (_before is null) return $"GET {Path}: not a JSON array of rules: {Short(body)}";
            Say(_before.Count == 0
                ? "faults: no rules active on the target before the run (cleared at the end)"
                : $"faults: {_before.Count} rule(s) active on the target before the run (put back at the end): {FaultTimeline.Describe(_before)}");

            for (var i = 0; i < _timeline.Steps.Count; i++)
            {
                var step = _timeline.Steps[i];
                using var check = await PutAsync(step.Rules, validateOnly: true, ct);
                if (check.StatusCode == HttpStatusCode.OK) continue;
                var text = await check.Content.ReadAsStringAsync(ct);
                return $"faults: step {i + 1} at {step.AtText} (\"{step.Label}\") refused by the target (PUT {Path}?validate_only=true answered {(int)check.StatusCode}): {ProblemText(text)}";
            }
            Say($"faults: the target accepted the rules of every step (pre-flight, nothing applied)");
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"{Path}: {e.Message}";
        }
    }

    private Task<HttpResponseMessage> PutAsync(JsonArray rules, bool validateOnly, CancellationToken ct) =>
        _admin.PutAsync(validateOnly ? Path + "?validate_only=true" : Path,
            new StringContent(rules.ToJsonString(), Encoding.UTF8, "application/json"), ct);

    /// <summary>The problem's <c>errors</c> ("[0].delay_ms: …; …"), else its detail or title, else the body.</summary>
    internal static string ProblemText(string body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject p)
            {
                if (p["errors"] is JsonObject errors && errors.Count > 0)
                    return string.Join("; ", errors.Select(e => $"{e.Key}: {(e.Value is JsonArray a ? string.Join(" ", a.Select(x => x?.ToString())) : e.Value?.ToString())}"));
                if ((ResultFile.Str(p["detail"]) ?? ResultFile.Str(p["title"])) is { } d) return d;
            }
        }
        catch (JsonException) { }
        return Short(body);
    }

    private static string Short(string body) => body.Length > 300 ? body[..300] + "…" : body.Length == 0 ? "(empty body)" : body;

    /// <summary>Applies every step at or before 0 s now: right before the measured phase, so its first window covers all of it.</summary>
    public async Task ApplyInitialAsync()
    {
        foreach (var step in _timeline.Steps.TakeWhile(s => s.At <= TimeSpan.Zero)) await ApplyAsync(step);
    }

    /// <summary>Applies the later steps at their offsets from <paramref name="measuredStart"/> (a Stopwatch timestamp) until <paramref name="stop"/>.</summary>
    public async Task RunAsync(long measuredStart, CancellationToken stop)
    {
        foreach (var step in _timeline.Steps.Where(s => s.At > TimeSpan.Zero))
        {
            var wait = step.At - Stopwatch.GetElapsedTime(measuredStart);
            try { if (wait > TimeSpan.Zero) await Task.Delay(wait, stop); }
            catch (OperationCanceledException) { return; }
            if (stop.IsCancellationRequested) return;
            await ApplyAsync(step);
        }
    }

    private async Task ApplyAsync(FaultStep step)
    {
        var window = new FaultWindow(_windows.Count, step);
        Windows.ChangeBegins();
        _changed = true;
        try
        {
            window.AppliedAt = DateTimeOffset.UtcNow;
            using var response = await PutAsync(step.Rules, validateOnly: false, CancellationToken.None);
            if (response.StatusCode != HttpStatusCode.OK)
                window.Error = $"PUT {Path} answered {(int)response.StatusCode}: {ProblemText(await response.Content.ReadAsStringAsync())}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            window.Error = $"PUT {Path}: {e.Message}";
        }
        finally
        {
            _windows.Add(window);
            Windows.ChangeEnds(window);
        }
        if (window.Error is null) Say($"faults: {step.AtText} {step.Label} → {FaultTimeline.Describe(step.Rules)}");
        else Warn($"faults: WARNING {step.AtText} {step.Label}: not applied ({window.Error}); the run continues");
    }

    /// <summary>Puts back the rules active before the run (or clears them when there were none); once, and only after a change.</summary>
    public async Task RestoreAsync()
    {
        if (_restored || !_changed || _before is null) return;
        _restored = true;
        var now = DateTimeOffset.UtcNow.AddSeconds(1);
        // A rule whose `until` passed during the run has lapsed on the target anyway (and a PUT would refuse it).
        var keep = new JsonArray(_before.Where(r => !(ResultFile.Str(r?["until"]) is { } u && DateTimeOffset.TryParse(u, Inv, DateTimeStyles.AssumeUniversal, out var until) && until <= now))
            .Select(r => r?.DeepClone()).ToArray());
        var lapsed = _before.Count - keep.Count;
        try
        {
            if (keep.Count == 0)
            {
                using var response = await _admin.DeleteAsync(Path);
                if (response.StatusCode is not (HttpStatusCode.NoContent or HttpStatusCode.OK))
                { Warn($"faults: WARNING could not clear the rules (DELETE {Path} answered {(int)response.StatusCode}): the target may still inject faults"); return; }
                Say(lapsed == 0 ? "faults: restored: rules cleared, as before the run" : $"faults: restored: rules cleared ({lapsed} rule(s) active before the run lapsed meanwhile)");
            }
            else
            {
                using var response = await PutAsync(keep, validateOnly: false, CancellationToken.None);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Warn($"faults: WARNING could not put back the {keep.Count} rule(s) active before the run (PUT {Path} answered {(int)response.StatusCode}: {ProblemText(await response.Content.ReadAsStringAsync())}): the target may still have the last step's rules");
                    return;
                }
                Say($"faults: restored the {keep.Count} rule(s) active before the run{(lapsed > 0 ? $" ({lapsed} lapsed meanwhile)" : "")}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Warn($"faults: WARNING could not restore the rules active before the run ({e.Message}): the target may still inject faults");
        }
    }

    /// <summary>Per-window numbers, computed once after the measured phase.</summary>
    public sealed record WindowStats(FaultWindow Window, double StartS, double EndS, long Requests, long Errors, long Faulted, double Rps, double? P50Ms, double? P99Ms,
        HistogramBase? Histogram = null)
    {
        public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
    }

    public List<WindowStats> Stats(double measuredSeconds)
    {
        var list = new List<WindowStats>();
        for (var i = 0; i < _windows.Count; i++)
        {
            var w = _windows[i];
            var start = w.Step.At.TotalSeconds;
            var end = i + 1 < _windows.Count ? _windows[i + 1].Step.At.TotalSeconds : Math.Max(start, measuredSeconds);
            var h = w.Latency.GetIntervalHistogram();
            var requests = Interlocked.Read(ref w.Requests);
            list.Add(new WindowStats(w, start, end, requests, Interlocked.Read(ref w.Errors), Interlocked.Read(ref w.Faulted),
                end > start ? requests / (end - start) : 0,
                h.TotalCount == 0 ? null : h.GetValueAtPercentile(50) / 1000.0, h.TotalCount == 0 ? null : h.GetValueAtPercentile(99) / 1000.0, h));
        }
        return list;
    }

    private static double R(double v) => Math.Round(v, 3);

    /// <summary>The result's <c>faults</c>: one object per window.</summary>
    public static JsonArray ToJson(IEnumerable<WindowStats> stats) => new(stats.Select(s => (JsonNode)new JsonObject
    {
        ["start_s"] = R(s.StartS),
        ["end_s"] = R(s.EndS),
        ["label"] = s.Window.Step.Label,
        ["rules"] = s.Window.Step.Rules.DeepClone(),
        ["applied_at"] = s.Window.AppliedAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv),
        ["error"] = s.Window.Error,
        ["stats"] = new JsonObject
        {
            ["requests"] = s.Requests, ["errors"] = s.Errors, ["error_rate"] = R(s.ErrorRate), ["rps"] = R(s.Rps),
            ["p50_ms"] = s.P50Ms is double p50 ? R(p50) : null, ["p99_ms"] = s.P99Ms is double p99 ? R(p99) : null, ["faulted"] = s.Faulted,
        },
        // The window's latency histogram (µs, like the operations'): `merge` of shards adds their windows exactly.
        ["histogram"] = s.Histogram is null ? null : Hdr.Encode(s.Histogram),
    }).ToArray());

    /// <summary>The "Fault windows" table (plain mode too).</summary>
    public void PrintTable(IAnsiConsole console, bool plain, IReadOnlyList<WindowStats> stats)
    {
        var table = new Table().Title("Fault windows");
        if (plain) table.Border(TableBorder.Ascii);
        table.AddColumn("window");
        foreach (var c in new[] { "from–to s", "requests", "rps", "p50 ms", "p99 ms", "error %", "faulted" }) table.AddColumn(new TableColumn(c).RightAligned());
        table.AddColumn("rules");
        string Ms(double? v) => v is double d ? d.ToString("0.00", Inv) : "-";
        foreach (var s in stats)
            table.AddRow(Markup.Escape(s.Window.Step.Label), $"{s.StartS.ToString("0.#", Inv)}–{s.EndS.ToString("0.#", Inv)}", s.Requests.ToString(Inv), s.Rps.ToString("0.0", Inv),
                Ms(s.P50Ms), Ms(s.P99Ms), (s.ErrorRate * 100).ToString("0.00", Inv), s.Faulted.ToString(Inv),
                Markup.Escape(s.Window.Error is null ? FaultTimeline.Describe(s.Window.Step.Rules) : "NOT APPLIED: " + s.Window.Error));
        console.Write(table);
        var note = $"windows count the requests that started and ended within them; {Interlocked.Read(ref Windows.Straddled)} in flight during a change are in none; faulted = responses with X-Fault";
        if (plain) console.Profile.Out.Writer.WriteLine(note);
        else console.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
    }
}
