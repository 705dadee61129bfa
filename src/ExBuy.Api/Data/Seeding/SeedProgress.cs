using System.Collections.Concurrent;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ExBuy.Api.Data.Seeding;

/// <summary>Log-friendly progress (CI, redirected output): one line per finished step.</summary>
public sealed class PlainSeedProgress(TextWriter output) : ISeedProgress
{
    public void Started(string step, long total)
    {
    }

    public void Advanced(string step, long rows)
    {
    }

    public void Finished(SeedStep step) => output.WriteLine(step.Rows > 0
        ? string.Create(CultureInfo.InvariantCulture,
            $"  {step.Name,-12} {step.Rows,12:N0} rows {step.Elapsed.TotalSeconds,8:F2} s {step.RowsPerSecond,12:N0} rows/s")
        : string.Create(CultureInfo.InvariantCulture, $"  {step.Name,-12} {"",17} {step.Elapsed.TotalSeconds,8:F2} s"));
}

/// <summary>Terminal progress: a Spectre.Console bar per step with rows, rows/s and ETA.</summary>
public sealed class SpectreSeedProgress(ProgressContext context) : ISeedProgress
{
    private readonly ConcurrentDictionary<string, ProgressTask> _tasks = new();

    /// <summary>Runs <paramref name="work"/> under a live progress display.</summary>
    public static Task<T> RunAsync<T>(Func<ISeedProgress, Task<T>> work) => AnsiConsole.Progress()
        .AutoClear(false)
        .HideCompleted(false)
        .Columns(
            new TaskDescriptionColumn { Alignment = Justify.Left },
            new ProgressBarColumn { Width = 24 },
            new PercentageColumn(),
            new RowsColumn(),
            new RowsPerSecondColumn(),
            new RemainingTimeColumn(),
            new SpinnerColumn())
        .StartAsync(ctx => work(new SpectreSeedProgress(ctx)));

    public void Started(string step, long total)
    {
        var task = _tasks.GetOrAdd(step, s => context.AddTask(s, autoStart: true, maxValue: Math.Max(1, total)));
        task.IsIndeterminate = total == 0;
    }

    public void Advanced(string step, long rows)
    {
        if (_tasks.TryGetValue(step, out var task))
        {
            task.Increment(rows);
        }
    }

    public void Finished(SeedStep step)
    {
        if (_tasks.TryGetValue(step.Name, out var task))
        {
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }

    private sealed class RowsColumn : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            task.MaxValue > 1 || task.Value > 1
                ? new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Value,11:N0}/{task.MaxValue:N0}"))
                : new Text("");
    }

    private sealed class RowsPerSecondColumn : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            var elapsed = task.ElapsedTime?.TotalSeconds ?? 0;
            var speed = task.Speed ?? (elapsed > 0 ? task.Value / elapsed : 0);
            return task.MaxValue > 1 && speed > 0
                ? new Text(string.Create(CultureInfo.InvariantCulture, $"{speed,10:N0} rows/s"))
                : new Text("");
        }
    }
}

public static class SeedSummary
{
    /// <summary>The end-of-run table: rows, seconds and rows/s per step, then the total wall time.</summary>
    public static void Write(SeedReport report, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"  {"step",-12} {"rows",12} {"seconds",10} {"rows/s",12}"));
        foreach (var step in report.Steps)
        {
            output.WriteLine(step.Rows > 0
                ? string.Create(inv, $"  {step.Name,-12} {step.Rows,12:N0} {step.Elapsed.TotalSeconds,10:F2} {step.RowsPerSecond,12:N0}")
                : string.Create(inv, $"  {step.Name,-12} {"",12} {step.Elapsed.TotalSeconds,10:F2}"));
        }
        var total = report.TotalRows;
        output.WriteLine(string.Create(inv,
            $"  {"total",-12} {total,12:N0} {report.Elapsed.TotalSeconds,10:F2} {total / Math.Max(report.Elapsed.TotalSeconds, 1e-9),12:N0}"));
    }
}
