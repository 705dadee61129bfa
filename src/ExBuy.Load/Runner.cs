using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace ExBuy.Load;

/// <summary>What a run ended with (the CLI's exit code, the result file, the numbers tests look at).</summary>
public sealed record RunOutcome(
    int ExitCode, string Verdict, string? ResultFile, string? HistoryFile, CorrectnessReport Correctness, long OrdersPlaced, long OrdersPlacedWithWarmup,
    long Requests, long Errors, IReadOnlyDictionary<string, OpStats> Operations, LongHistogramView All,
    IReadOnlyList<ThresholdResult> Thresholds, OpenModelReport? Open, JsonObject Result);

public sealed record LongHistogramView(HdrHistogram.LongHistogram Histogram)
{
    public double PercentileMs(double p) => Hdr.PercentileMs(Histogram, p);
}

public sealed record ThresholdResult(string Source, string Expression, double? Value, bool Passed);

public sealed record OpenModelReport(double Rate, long Intended, long Started, long Late, long Dropped, double StartRate, double IntendedRate, bool FellBehind);

/// <summary>One run of a scenario against a target: discovery, warm-up, the measured phase, verdict, report and result file.</summary>
public sealed class LoadRunner : IAsyncDisposable
{
    private readonly RunOptions _o;
    private readonly IAnsiConsole _console;
    private readonly bool _plain;
    private readonly HttpMessageHandler? _handler;
    private readonly string _workingDirectory;
    private Workload _workload = null!;
    private VuState[] _vus = [];
    private int _target;
    private int _active;
    private long _internalErrors;
    private string? _firstInternalError;
    private ServerMetrics.Snapshot? _serverBefore, _serverAfter;
    private LoadMetrics? _metrics;
    /// <summary>What a shard records for `merge` (shard, ledger) and the measured phase's wall-clock bounds, added to the result.</summary>
    private readonly JsonObject _extra = [];

    /// <summary>The --metrics-listen endpoint: it serves from the start of <see cref="RunAsync"/> until <see cref="DisposeAsync"/>.</summary>
    public LoadMetrics? Metrics => _metrics;

    public async ValueTask DisposeAsync()
    {
        if (_metrics is not null) await _metrics.DisposeAsync();
        _metrics = null;
    }

    public LoadRunner(RunOptions options, IAnsiConsole console, bool plain, HttpMessageHandler? handler = null, string? workingDirectory = null)
    {
        _o = options; _console = console; _plain = plain; _handler = handler;
        _workingDirectory = workingDirectory ?? Directory.GetCurrentDirectory();
    }

    /// <summary>One shared client: pooled connections (at least one per VU), no proxy, no cookies, no automatic redirects or decompression.</summary>
    public static HttpClient CreateClient(Uri baseUrl, int connections, HttpMessageHandler? handler = null)
    {
        handler ??= new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(connections, 1),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
    }

    private void Say(string markup, string plain)
    {
        if (_plain) _console.Profile.Out.Writer.WriteLine(plain);
        else _console.MarkupLine(markup);
    }

    private void Say(string text) => Say(Markup.Escape(text), text);

    public async Task<RunOutcome> RunAsync(CancellationToken ct = default)
    {
        var scenario = _o.Scenario;
        var startedAt = DateTimeOffset.UtcNow;
        var capacity = _o.OpenModel ? _o.MaxVus : _o.Vus;
        using var http = CreateClient(_o.BaseUrl, capacity + 8, _handler);
        var model = _o.OpenModel
            ? $"open model: {_o.Rate!.Value.ToString("0.###", CultureInfo.InvariantCulture)} req/s, max {_o.MaxVus} in flight"
            : $"closed model: {_o.Vus} VUs";
        Say($"exbuy-load: scenario {scenario.Name} against {_o.BaseUrl.ToString().TrimEnd('/')} ({model}; duration {Options.FormatDuration(_o.Duration)}, ramp-up {Options.FormatDuration(_o.RampUp)}, ramp-down {Options.FormatDuration(_o.RampDown)}, warm-up {Options.FormatDuration(_o.Warmup)}; seed {_o.Seed}; lock_type {_o.LockType})");
        if (_o.Shard is { } sh)
            Say(_o.OpenModel
                ? string.Create(CultureInfo.InvariantCulture, $"shard {sh}: {_o.Rate:0.###} of {sh.TotalRate:0.###} req/s, VU slots {sh.VuOffset + 1}–{sh.VuOffset + _o.MaxVus} of the run's numbering; correctness deferred to merge")
                : $"shard {sh}: {_o.Vus} of {sh.TotalVus} VUs (VUs {sh.VuOffset + 1}–{sh.VuOffset + _o.Vus} of the run's numbering); correctness deferred to merge");
        foreach (var line in Calibration.StartLines(_o))
            if (line.StartsWith("WARNING", StringComparison.Ordinal)) Say($"[yellow]{Markup.Escape(line)}[/]", line);
            else Say(line);
        if (_o.MetricsListen is not null && _metrics is null)
        {
            try
            {
                _metrics = LoadMetrics.Start(_o.MetricsListen, () => Volatile.Read(ref _active), LoadMetrics.RunId(scenario.Name, startedAt, _o.Seed) + Report.ShardSuffix(_o), scenario.Name,
                    _o.OpenModel ? "open" : "closed");
            }
            catch (InvalidOperationException e)
            {
                Say($"[red]set-up failed:[/] {Markup.Escape(e.Message)}", $"set-up failed: {e.Message}");
                return Failed(1, "set-up failed", startedAt);
            }
            Say($"metrics: serving exbuy_load_* on {_metrics.Prefix}metrics");
        }

        // --faults: the admin API answers and accepts every step before anything else runs; whatever happens next, the rules
        // active before the run are put back (the target is left as found).
        using var faults = _o.Faults is null ? null : new FaultController(_o.BaseUrl, _o.Faults, _o.AdminToken!, _handler, Say);
        if (faults is not null)
        {
            faults.PrintTimeline();
            if (await faults.SetUpAsync(ct) is { } problem)
            {
                Say($"[red]set-up failed:[/] {Markup.Escape(problem)}", $"set-up failed: {problem}");
                return Failed(1, "set-up failed", startedAt);
            }
        }
        try { return await RunSetUpAndPhasesAsync(http, faults, capacity, startedAt, ct); }
        finally { if (faults is not null) await faults.RestoreAsync(); }
    }

    private async Task<RunOutcome> RunSetUpAndPhasesAsync(HttpClient http, FaultController? faults, int capacity, DateTimeOffset startedAt, CancellationToken ct)
    {
        var scenario = _o.Scenario;
        // Set-up, through the API only.
        TargetData data;
        try
        {
            data = await Discovery.DiscoverAsync(http, scenario, new Random(unchecked((int)_o.Seed)), s => Say("set-up: " + s), ct);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
            Say($"[red]set-up failed:[/] {Markup.Escape(e.Message)}", $"set-up failed: {e.Message}");
            return Failed(1, "set-up failed", startedAt);
        }
        _workload = new Workload(http, _o.File, scenario, data, _o.LockType, _o.Timeout);
        foreach (var s in _workload.Skipped) Say($"set-up: skipping {s}; its weight goes to the others");
        if (!_workload.CanRun)
        {
            Say("[red]nothing to run:[/] no operation of the scenario can run on this target", "nothing to run: no operation of the scenario can run on this target");
            return Failed(1, "nothing to run", startedAt);
        }
        // A shard's VUs are numbered after the previous shards': VU j draws from Random(seed × 1,000,003 + j × 7919) in any shard.
        _vus = Enumerable.Range(0, capacity).Select(i => new VuState((_o.Shard?.VuOffset ?? 0) + i, _o.Seed)).ToArray();
        var writes = scenario.Writes(_o.File);

        // With --shard or --start-at the start stock is read now, before any shard can have written (they all set up before the common
        // start), and the ledger counts from here, warm-up included: every shard's snapshots and ledger cover the same interval.
        Dictionary<long, long> startStock = [];
        DateTimeOffset? startSnapshotAt = null, startSnapshotDone = null;
        if (writes && _o.SnapshotAtSetUp)
        {
            startSnapshotAt = DateTimeOffset.UtcNow;
            await ReadStartStockAsync(http, startStock, ct);
            startSnapshotDone = DateTimeOffset.UtcNow;
            foreach (var (id, s) in startStock) if (s < 0) _workload.Ledger.Violation($"product {id}: stock {s} < 0 before the run");
            Say($"correctness: stock of {startStock.Count} products read at set-up (the products this run may write to); the ledger counts from here, warm-up included");
        }
        if (_o.StartAt is { } at)
        {
            var now = DateTimeOffset.UtcNow;
            if (now > at)
            {
                var late = $"start-at: set-up ended at {Time(now)}, {(now - at).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s after --start-at {Time(at)}: not starting late; give a later --start-at";
                Say($"[red]{Markup.Escape(late)}[/]", late);
                return Failed(1, "set-up ended after --start-at", startedAt);
            }
            Say($"start-at: set-up done; waiting {(at - now).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s until {Time(at)}");
            await WaitUntilAsync(at, ct);
        }
        var loadStartedAt = DateTimeOffset.UtcNow;

        if (_o.Warmup > TimeSpan.Zero && !ct.IsCancellationRequested)
        {
            var warm = new MetricsSink(_workload.NewStats());
            _metrics?.Attach(warm);
            await RunPhaseAsync(warm, TimeSpan.Zero, _o.Warmup, TimeSpan.Zero, report: false, ct);
            warm.Harvest(0, 0, 0, addToSeries: false);
            Say($"warm-up: {warm.TotalCount} requests in {Options.FormatDuration(_o.Warmup)} ({warm.TotalErrors} errors), excluded from the results");
        }

        if (writes && !_o.SnapshotAtSetUp)
        {
            await ReadStartStockAsync(http, startStock, ct);
            _workload.Ledger.ResetEffects();
            foreach (var (id, s) in startStock) if (s < 0) _workload.Ledger.Violation($"product {id}: stock {s} < 0 before the run");
            Say($"correctness: stock of {startStock.Count} products read before the run (the products this run may write to)");
        }

        _serverBefore = await ServerMetrics.ScrapeAsync(http, ct);
        var sink = new MetricsSink(_workload.NewStats());
        _metrics?.Attach(sink);
        if (faults is not null && !ct.IsCancellationRequested)
        {
            // Steps at 0 s are applied right before the measured phase: their window covers all of its start.
            await faults.ApplyInitialAsync();
            sink.Windows = faults.Windows;
        }
        using var timelineDone = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var measuredStart = Stopwatch.GetTimestamp();
        var measuredStartAt = DateTimeOffset.UtcNow;
        var timeline = faults?.RunAsync(measuredStart, timelineDone.Token) ?? Task.CompletedTask;
        await RunPhaseAsync(sink, _o.RampUp, _o.Duration, _o.RampDown, report: true, ct);
        var measuredSeconds = Stopwatch.GetElapsedTime(measuredStart).TotalSeconds;
        // Every VU has stopped and every request has ended (or timed out: its write is then unknown): this process writes no more.
        var lastWriteAt = DateTimeOffset.UtcNow;
        _extra["measured_start_at"] = Time(measuredStartAt);
        _extra["measured_end_at"] = Time(measuredStartAt.AddSeconds(measuredSeconds));
        await timelineDone.CancelAsync();
        await timeline;
        if (faults is not null) await faults.RestoreAsync();
        if (_serverBefore is not null) _serverAfter = await ServerMetrics.ScrapeAsync(http, CancellationToken.None);
        var finishedAt = DateTimeOffset.UtcNow;

        CorrectnessReport correctness;
        if (writes)
        {
            // A shard reads every product of its ledger (the others may have written to those it could not read at the start).
            var endSnapshotAt = DateTimeOffset.UtcNow;
            var end = await Discovery.ReadStockAsync(http, _o.Shard is null ? startStock.Keys.ToList() : _workload.Ledger.ProductIds, 8, CancellationToken.None);
            var endSnapshotDone = DateTimeOffset.UtcNow;
            if (_o.Shard is { } sh)
            {
                correctness = CorrectnessReport.DeferredToMerge(_workload.Ledger, startStock, end,
                    $"deferred to merge: shard {sh} cannot verify stock alone (the other shards write to the same products); `exbuy-load merge` of all {sh.Count} shard results adds their ledgers and gives the verdict");
                _extra["ledger"] = LedgerJson(startStock, end, startSnapshotAt!.Value, startSnapshotDone!.Value, endSnapshotAt, endSnapshotDone, loadStartedAt, lastWriteAt);
            }
            else correctness = CorrectnessReport.Evaluate(_workload.Ledger, startStock, end);
        }
        else correctness = CorrectnessReport.NotChecked("the scenario does not write");
        if (_o.Shard is { } plan)
            _extra["shard"] = new JsonObject
            {
                ["index"] = plan.Index, ["count"] = plan.Count, ["start_at"] = _o.StartAt is { } sa ? Time(sa) : null, ["seed"] = _o.Seed, ["vu_offset"] = plan.VuOffset,
                ["vus"] = _o.OpenModel ? null : _o.Vus, ["rate"] = _o.Rate, ["max_vus"] = _o.OpenModel ? _o.MaxVus : null,
                ["total_vus"] = plan.TotalVus, ["total_rate"] = plan.TotalRate, ["total_max_vus"] = plan.TotalMaxVus,
                ["load_started_at"] = Time(loadStartedAt), ["streams"] = "VU j of the run's numbering (this shard's first is vu_offset) draws from Random(seed × 1000003 + j × 7919); discovery draws from the seed itself, so every shard samples the same products",
            };

        if (_internalErrors > 0)
            Say($"[red]runner errors:[/] {_internalErrors} requests failed inside the runner (first: {Markup.Escape(_firstInternalError ?? "")})",
                $"runner errors: {_internalErrors} requests failed inside the runner (first: {_firstInternalError})");

        return await FinishAsync(sink, data, correctness, startedAt, finishedAt, measuredSeconds, faults);
    }

    private async Task ReadStartStockAsync(HttpClient http, Dictionary<long, long> startStock, CancellationToken ct)
    {
        var snapshot = await Discovery.ReadStockAsync(http, _workload.Ledger.ProductIds, 8, ct);
        foreach (var (id, s) in snapshot) if (s is long v) startStock[id] = v;
    }

    internal static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Sleeps until about 20 ms before <paramref name="at"/>, then in 1 ms steps (a timer alone may wake late by a tick).</summary>
    private static async Task WaitUntilAsync(DateTimeOffset at, CancellationToken ct)
    {
        for (var left = at - DateTimeOffset.UtcNow; left > TimeSpan.Zero && !ct.IsCancellationRequested; left = at - DateTimeOffset.UtcNow)
        {
            try { await Task.Delay(left > TimeSpan.FromMilliseconds(40) ? left - TimeSpan.FromMilliseconds(20) : TimeSpan.FromMilliseconds(1), ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// A shard's ledger as `merge` needs it: per product the start and end stock this shard read and its own successful effects
    /// (warm-up included), and the wall-clock bounds that decide which shard's snapshots precede or follow every shard's writes.
    /// </summary>
    private JsonObject LedgerJson(Dictionary<long, long> start, Dictionary<long, long?> end, DateTimeOffset startAt, DateTimeOffset startDone,
        DateTimeOffset endAt, DateTimeOffset endDone, DateTimeOffset firstWrite, DateTimeOffset lastWrite)
    {
        var ledger = _workload.Ledger;
        var products = new JsonArray();
        foreach (var id in ledger.ProductIds.Order())
        {
            var (o, r, c, u) = ledger.Of(id);
            products.Add(new JsonObject
            {
                ["id"] = id, ["start"] = start.TryGetValue(id, out var s) ? s : null, ["end"] = end.GetValueOrDefault(id),
                ["ordered"] = o, ["reserved"] = r, ["cancelled"] = c, ["unknown"] = u,
            });
        }
        return new JsonObject
        {
            ["interval"] = "from the start snapshot at set-up (before the warm-up) to the end snapshot; warm-up included",
            ["start_snapshot"] = new JsonObject { ["at"] = Time(startAt), ["done_at"] = Time(startDone) },
            ["end_snapshot"] = new JsonObject { ["at"] = Time(endAt), ["done_at"] = Time(endDone) },
            ["first_write_at"] = Time(firstWrite),
            ["last_write_at"] = Time(lastWrite),
            ["orders_placed"] = ledger.OrdersPlacedTotal,
            ["unknown_writes"] = ledger.UnknownWrites,
            ["other_violations"] = new JsonArray(ledger.Violations.Select(v => (JsonNode)v).ToArray()),
            ["products"] = products,
        };
    }

    private RunOutcome Failed(int code, string verdict, DateTimeOffset startedAt)
    {
        var empty = new Dictionary<string, OpStats>();
        return new RunOutcome(code, verdict, null, null, CorrectnessReport.NotChecked(verdict), 0, 0, 0, 0, empty, new LongHistogramView(Hdr.New()), [], null,
            new JsonObject { ["verdict"] = verdict, ["started_at"] = startedAt.ToString("O") });
    }

    private async Task RunPhaseAsync(MetricsSink sink, TimeSpan rampUp, TimeSpan hold, TimeSpan rampDown, bool report, CancellationToken ct)
    {
        using var phaseDone = new CancellationTokenSource();
        var started = Stopwatch.GetTimestamp();
        var reporter = report ? ReportAsync(sink, started, phaseDone.Token) : Task.CompletedTask;
        try
        {
            if (_o.OpenModel) await RunOpenAsync(sink, new ArrivalSchedule(_o.Rate!.Value, rampUp, hold, rampDown), ct);
            else await RunClosedAsync(sink, rampUp, hold, rampDown, ct);
        }
        finally
        {
            await phaseDone.CancelAsync();
            await reporter;
        }
    }

    private async Task ReportAsync(MetricsSink sink, long started, CancellationToken done)
    {
        var last = started;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (true)
        {
            var more = true;
            try { await timer.WaitForNextTickAsync(done); }
            catch (OperationCanceledException) { more = false; }
            var now = Stopwatch.GetTimestamp();
            var interval = Stopwatch.GetElapsedTime(last, now).TotalSeconds;
            last = now;
            var elapsed = Stopwatch.GetElapsedTime(started, now).TotalSeconds;
            var point = sink.Harvest(elapsed, interval, Volatile.Read(ref _active), addToSeries: more || interval >= 0.2);
            if (!more && interval < 0.2) break;
            var p95 = Hdr.PercentileMs(sink.AllTotal, 95);
            var label = _o.OpenModel ? "in flight" : "VUs";
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{elapsed,6:0.0}s  {label} {point.Vus,4}  rps {point.Rps,8:0.0}  p95 so far {p95,8:0.00} ms  errors {sink.TotalErrors}");
            if (_o.OpenModel) line += $"  late {Interlocked.Read(ref sink.Late)}  dropped {Interlocked.Read(ref sink.Dropped)}";
            Say(Markup.Escape(line), line);
            if (!more) break;
        }
    }

    private int TargetVus(TimeSpan t, TimeSpan rampUp, TimeSpan hold, TimeSpan rampDown)
    {
        var n = _o.Vus;
        if (t < rampUp) return Math.Clamp((int)Math.Ceiling(n * t.TotalSeconds / rampUp.TotalSeconds), 1, n);
        if (t < rampUp + hold) return n;
        if (rampDown > TimeSpan.Zero && t < rampUp + hold + rampDown)
            return Math.Clamp((int)Math.Ceiling(n * (1 - (t - rampUp - hold).TotalSeconds / rampDown.TotalSeconds)), 0, n);
        return 0;
    }

    private async Task RunClosedAsync(MetricsSink sink, TimeSpan rampUp, TimeSpan hold, TimeSpan rampDown, CancellationToken ct)
    {
        var total = rampUp + hold + rampDown;
        var tasks = new Task?[_o.Vus];
        var clock = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            var t = clock.Elapsed;
            if (t >= total) break;
            var target = TargetVus(t, rampUp, hold, rampDown);
            Volatile.Write(ref _target, target);
            for (var i = 0; i < target; i++)
                if (tasks[i] is null || tasks[i]!.IsCompleted)
                {
                    var index = i;
                    tasks[i] = Task.Run(() => VuLoopAsync(index, sink));
                }
            var left = total - clock.Elapsed;
            var step = TimeSpan.FromMilliseconds(rampUp > TimeSpan.Zero || rampDown > TimeSpan.Zero ? 50 : 100);
            try { await Task.Delay(left < step ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : step, ct); }
            catch (OperationCanceledException) { break; }
        }
        Volatile.Write(ref _target, 0);
        await Task.WhenAll(tasks.Where(t => t is not null)!);
    }

    private async Task VuLoopAsync(int index, MetricsSink sink)
    {
        Interlocked.Increment(ref _active);
        try
        {
            var vu = _vus[index];
            while (index < Volatile.Read(ref _target))
            {
                try { await _workload.ExecuteAsync(vu, sink, Stopwatch.GetTimestamp()); }
                catch (Exception e) { InternalError(e); }
            }
        }
        finally { Interlocked.Decrement(ref _active); }
    }

    private void InternalError(Exception e)
    {
        if (Interlocked.Increment(ref _internalErrors) == 1) _firstInternalError = $"{e.GetType().Name}: {e.Message}";
    }

    /// <summary>
    /// Open model: a dedicated scheduler thread sleeps until about 1 ms before each intended start, then yields until it is due
    /// (timer-based waits are late by a millisecond or more). A start that finds every VU slot busy is dropped.
    /// </summary>
    private async Task RunOpenAsync(MetricsSink sink, ArrivalSchedule schedule, CancellationToken ct)
    {
        var free = new ConcurrentStack<VuState>(_vus.Reverse());
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try { Schedule(sink, schedule, free, ct); done.SetResult(); }
            catch (Exception e) { done.SetException(e); }
        })
        { IsBackground = true, Name = "exbuy-load scheduler", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        await done.Task;
        while (Volatile.Read(ref _active) > 0) await Task.Delay(5, CancellationToken.None);
    }

    private void Schedule(MetricsSink sink, ArrivalSchedule schedule, ConcurrentStack<VuState> free, CancellationToken ct)
    {
        var freq = (double)Stopwatch.Frequency;
        var lateTicks = Stopwatch.Frequency / 1000; // 1 ms
        var t0 = Stopwatch.GetTimestamp();
        for (long i = 0; !ct.IsCancellationRequested; i++)
        {
            var offset = schedule.TimeOf(i);
            if (offset is null) break;
            var intended = t0 + (long)(offset.Value * freq);
            long now;
            while ((now = Stopwatch.GetTimestamp()) < intended)
            {
                var aheadMs = (intended - now) * 1000.0 / freq;
                if (aheadMs > 2) Thread.Sleep((int)Math.Min(aheadMs - 1.5, 50));
                else if (aheadMs > 0.2) Thread.Sleep(0);
                else Thread.SpinWait(20);
                if (ct.IsCancellationRequested) return;
            }
            Interlocked.Increment(ref sink.Intended);
            if (i == 0) { sink.FirstIntended = intended; sink.FirstStart = now; }
            sink.LastIntended = intended;
            sink.LastStart = now;
            if (!free.TryPop(out var vu)) { Interlocked.Increment(ref sink.Dropped); continue; }
            Interlocked.Increment(ref sink.Started);
            if (now - intended > lateTicks) Interlocked.Increment(ref sink.Late);
            Interlocked.Increment(ref _active);
            // Latency is measured from the intended start: a late start is charged to latency (coordinated omission corrected).
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Runner.OneAsync(state.Vu, state.Sink, state.Intended, state.Free),
                (Runner: this, Vu: vu, Sink: sink, Intended: intended, Free: free), preferLocal: false);
        }
    }


    private async Task OneAsync(VuState vu, MetricsSink sink, long intended, ConcurrentStack<VuState> free)
    {
        try { await _workload.ExecuteAsync(vu, sink, intended); }
        catch (Exception e) { InternalError(e); }
        finally { free.Push(vu); Interlocked.Decrement(ref _active); }
    }

    private async Task<RunOutcome> FinishAsync(MetricsSink sink, TargetData data, CorrectnessReport correctness, DateTimeOffset startedAt, DateTimeOffset finishedAt, double seconds,
        FaultController? faults)
    {
        var summary = new RunSummary(sink, seconds);
        OpenModelReport? open = null;
        if (_o.OpenModel)
        {
            // Average rates between the first and the last arrival: the one the starts kept and the one the schedule asked for
            // (the same without ramps; lower than --rate with them).
            var f = (double)Stopwatch.Frequency;
            var startRate = sink.LastStart > sink.FirstStart ? (sink.Intended - 1) / ((sink.LastStart - sink.FirstStart) / f) : 0;
            var intendedRate = sink.LastIntended > sink.FirstIntended ? (sink.Intended - 1) / ((sink.LastIntended - sink.FirstIntended) / f) : _o.Rate!.Value;
            var fellBehind = sink.Dropped > 0 || sink.Late > Math.Max(1, sink.Started / 20) || startRate < 0.95 * intendedRate;
            open = new OpenModelReport(_o.Rate!.Value, sink.Intended, sink.Started, sink.Late, sink.Dropped, startRate, intendedRate, fellBehind);
        }
        Report.PrintTable(_console, _plain, summary, _o);
        var windows = faults?.Stats(seconds);
        if (faults is not null) faults.PrintTable(_console, _plain, windows!);
        if (open is not null)
        {
            var text = string.Create(CultureInfo.InvariantCulture,
                $"open model: {open.Intended} arrivals at {open.IntendedRate:0.0}/s on average (--rate {open.Rate:0.###}), started {open.Started} at {open.StartRate:0.0}/s, late (> 1 ms) {open.Late}, dropped (max {_o.MaxVus} in flight) {open.Dropped}");
            Say(Markup.Escape(text), text);
            if (open.FellBehind)
                Say($"[yellow]the run fell behind its rate:[/] {open.Dropped} dropped, {open.Late} late starts, started at {open.StartRate:0.0}/s for {open.IntendedRate:0.0}/s; latencies are measured from the intended times",
                    $"the run fell behind its rate: {open.Dropped} dropped, {open.Late} late starts, started at {open.StartRate:0.0}/s for {open.IntendedRate:0.0}/s; latencies are measured from the intended times");
            else Say("the run kept its rate");
            if (Calibration.AchievedLine(_o, open.StartRate * open.Started / Math.Max(open.Intended, 1), open.IntendedRate) is { } achieved) Say($"[yellow]{Markup.Escape(achieved)}[/]", achieved);
        }

        Report.PrintCorrectness(_console, _plain, correctness);

        var thresholdResults = new List<ThresholdResult>();
        foreach (var t in _o.Thresholds)
        {
            var (value, passed) = t.Evaluate(summary);
            thresholdResults.Add(new ThresholdResult(t.Source, t.Text, value, passed));
        }
        Report.PrintThresholds(_console, _plain, thresholdResults);

        var crossed = thresholdResults.Any(t => !t.Passed);
        var exit = !correctness.Ok ? 1 : crossed ? 99 : 0;
        var verdict = !correctness.Ok ? "violation" : crossed ? "thresholds crossed" : "pass";

        var result = Report.BuildResult(_o, data, _workload, sink, summary, correctness, thresholdResults, open, startedAt, finishedAt, seconds,
            verdict, exit, GitCommit(_workingDirectory));
        result["server_metrics"] = ServerMetrics.Diff(_serverBefore, _serverAfter);
        foreach (var (key, node) in _extra) result[key] = node?.DeepClone();
        if (faults is not null)
        {
            result["faults"] = FaultController.ToJson(windows!);
            var timeline = faults.Timeline.ToJson();
            timeline["rules_before"] = faults.Before?.DeepClone();
            timeline["straddled"] = Interlocked.Read(ref faults.Windows.Straddled);
            result["fault_timeline"] = timeline;
        }
        string? file = null, history = null;
        try { (file, history) = await Report.WriteAsync(_o, result, summary); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Say($"[red]could not write the result file:[/] {Markup.Escape(e.Message)}", $"could not write the result file: {e.Message}");
        }
        if (file is not null)
        {
            Say($"result: {file}");
            // Every run leaves its HTML report beside its result (`report` overlays several runs).
            try { Say($"report: {await ExBuy.Load.HtmlReport.HtmlReportWriter.WriteAsync([file], Path.ChangeExtension(file, ".html"), DateTimeOffset.UtcNow)}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Say($"[red]could not write the HTML report:[/] {Markup.Escape(e.Message)}", $"could not write the HTML report: {e.Message}");
            }
        }
        var final = string.Create(CultureInfo.InvariantCulture, $"verdict: {verdict} (exit {exit})");
        Say(exit == 0 ? $"[green]{final}[/]" : $"[red]{final}[/]", final);
        return new RunOutcome(exit, verdict, file, history, correctness, _workload.Ledger.OrdersPlaced, _workload.Ledger.OrdersPlacedTotal, summary.Count, summary.Errors, sink.Ops,
            new LongHistogramView(sink.AllTotal), thresholdResults, open, result);
    }

    internal static string? GitCommit(string directory)
    {
        try
        {
            var psi = new ProcessStartInfo("git", "rev-parse HEAD")
            {
                WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi);
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(5000)) { p.Kill(); return null; }
            return p.ExitCode == 0 && output.Length >= 7 ? output : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return null;
        }
    }
}
