using System.Data.Common;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace ExBuy.Api.Observability;

/// <summary>
/// Per-request SQL accounting, kept as an HttpContext feature (never on the pooled DbContext): the commands started
/// (<c>X-Query-Count</c>, the queries-per-request histogram) and the wall time during which at least one was running
/// (<c>Server-Timing: db;dur=</c>, the DB-time histogram). Both come from the same start/end events, so the count and
/// the time always describe the same commands.
/// </summary>
public sealed class RequestStats(long startTimestamp)
{
    private int _count;
    private int _running;
    private long _dbStartedAt;
    private long _dbTicks;

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the request entered the app.</summary>
    public long StartTimestamp { get; } = startTimestamp;

    public int Count => Volatile.Read(ref _count);

    public TimeSpan DbTime => TimeSpan.FromTicks(Volatile.Read(ref _dbTicks) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);

    public void CommandStarted()
    {
        Interlocked.Increment(ref _count);
        if (Interlocked.Increment(ref _running) == 1)
        {
            Volatile.Write(ref _dbStartedAt, Stopwatch.GetTimestamp());
        }
    }

    public void CommandEnded()
    {
        var running = Interlocked.Decrement(ref _running);
        if (running == 0)
        {
            Interlocked.Add(ref _dbTicks, Stopwatch.GetTimestamp() - Volatile.Read(ref _dbStartedAt));
        }
        else if (running < 0)
        {
            // An end without a start (a provider event this class does not pair): keep the books balanced.
            Interlocked.Increment(ref _running);
        }
    }
}

/// <summary>
/// SQLite's command events (PostgreSQL's come from Npgsql's meter, <see cref="NpgsqlCommandCounter"/>): a command
/// starts when EF executes it and ends when it completes, fails, or its reader is disposed (rows read). One singleton for
/// all contexts; the request is found through the HttpContext's async-local flow.
/// </summary>
public sealed class SqliteCommandEvents(IHttpContextAccessor accessor) : DbCommandInterceptor
{
    private RequestStats? Stats => accessor.HttpContext?.Features.Get<RequestStats>();

    private void Started() => Stats?.CommandStarted();

    private void Ended() => Stats?.CommandEnded();

    public override InterceptionResult<DbDataReader> ReaderExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Started();
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken = default)
    {
        Started();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult DataReaderDisposing(
        DbCommand command, DataReaderDisposingEventData eventData, InterceptionResult result)
    {
        Ended();
        return result;
    }

    public override InterceptionResult<int> NonQueryExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Started();
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Started();
        return ValueTask.FromResult(result);
    }

    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Ended();
        return result;
    }

    public override ValueTask<int> NonQueryExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Ended();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Started();
        return result;
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result,
        CancellationToken cancellationToken = default)
    {
        Started();
        return ValueTask.FromResult(result);
    }

    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Ended();
        return result;
    }

    public override ValueTask<object?> ScalarExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Ended();
        return ValueTask.FromResult(result);
    }

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData) => Ended();

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Ended();
        return Task.CompletedTask;
    }

    public override void CommandCanceled(DbCommand command, CommandEndEventData eventData) => Ended();

    public override Task CommandCanceledAsync(DbCommand command, CommandEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Ended();
        return Task.CompletedTask;
    }
}
