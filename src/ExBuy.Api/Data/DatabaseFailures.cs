using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ExBuy.Api.Data;

/// <summary>
/// What the app does when the database fails a request: says why in one line (never a stack trace per request: an outage
/// under load fails thousands of requests a second, so each kind of failure is logged once, then summarised every
/// <see cref="LogWindow"/>), and clears the connection pool when a connection turned out dead (after a PostgreSQL restart
/// every idle pooled connection is dead; without clearing, each would fail one more request before being dropped).
/// </summary>
public sealed class DatabaseFailures : IDisposable
{
    public static readonly TimeSpan LogWindow = TimeSpan.FromSeconds(5);
    private static readonly long ClearInterval = Stopwatch.Frequency / 10; // at most 10 pool clears a second

    private readonly ILogger<DatabaseFailures> _log;
    private readonly DatabaseOptions _options;
    private readonly NpgsqlDataSource? _dataSource;
    private readonly NpgsqlDataSource? _readDataSource;
    private readonly bool _debug;
    private readonly ConcurrentDictionary<string, Window> _windows = new();
    private readonly Timer _flush;
    private long _lastClear;
    private long _poolClears;

    public DatabaseFailures(ILogger<DatabaseFailures> log, DatabaseOptions options, IServiceProvider services, IConfiguration configuration)
    {
        _log = log;
        _options = options;
        _dataSource = options.IsPostgres ? services.GetService<NpgsqlDataSource>() : null;
        _readDataSource = options.IsPostgres ? services.GetKeyedService<NpgsqlDataSource>(DataSetup.Reads) : null;
        _debug = DatabaseOptions.ParseBool(configuration, "DEBUG", false);
        _flush = new Timer(_ => Flush(force: false), null, LogWindow, LogWindow);
    }

    /// <summary>Pool clears so far (each after a dead connection was found).</summary>
    public long PoolClears => Interlocked.Read(ref _poolClears);

    /// <summary>Reacts to a failed database call: a dead connection clears the pool (rate-limited).</summary>
    public void Observe(Exception ex)
    {
        if (_dataSource is null || !DbErrors.IsBrokenConnection(ex))
        {
            return;
        }
        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref _lastClear);
        if (now - last < ClearInterval || Interlocked.CompareExchange(ref _lastClear, now, last) != last)
        {
            return;
        }
        // Idle connections close now; those in use are dropped when they come back. New requests open fresh ones.
        _dataSource.Clear();
        _readDataSource?.Clear();
        Interlocked.Increment(ref _poolClears);
    }

    /// <summary>What went wrong, for the 503's detail and the log line: names the setting that bounds it.</summary>
    public string Describe(Exception ex)
    {
        var root = DbErrors.RootCause(ex);
        if (DbErrors.IsStatementTimeout(ex))
        {
            return $"The query ran longer than DB_STATEMENT_TIMEOUT ({_options.StatementTimeout.TotalSeconds:0.###} s) and was cancelled; retry shortly.";
        }
        if (Chain(ex).Any(e => e is NpgsqlException && e.Message.Contains("pool has been exhausted", StringComparison.Ordinal)))
        {
            return $"No database connection became free within DB_POOL_TIMEOUT ({_options.PoolTimeoutSeconds} s): all DB_POOL_MAX ({_options.PoolMax}) connections are busy; retry shortly.";
        }
        if (Chain(ex).Any(DbErrors.IsNoSuitableHost) || Chain(ex).Any(e => e is PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction }))
        {
            return $"No server in DB_HOST ({_options.Host}) is the primary right now (it is down and no standby has been promoted yet, or a promotion is under way); retry shortly.";
        }
        if (Chain(ex).FirstOrDefault(e => e is SqliteException) is SqliteException { SqliteErrorCode: 5 or 6 })
        {
            return "The SQLite database stayed locked by another writer past the busy timeout; retry shortly.";
        }
        if (root is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostNotFound
            or System.Net.Sockets.SocketError.HostUnreachable or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.TimedOut })
        {
            return $"The database is unavailable: {_options.Describe()} cannot be reached ({root.Message}); retry shortly.";
        }
        return DbErrors.IsBrokenConnection(ex)
            ? $"The database connection was lost ({root.GetType().Name}: {FirstLine(root.Message)}); retry shortly."
            : $"The database is unavailable ({root.GetType().Name}: {FirstLine(root.Message)}); retry shortly.";
    }

    /// <summary>One line per kind of failure, then one summary line per window while it lasts; stack traces only with DEBUG=true.</summary>
    public void Log(HttpContext context, int status, string detail, Exception ex)
    {
        if (_debug)
        {
            _log.LogWarning(ex, "{Method} {Path} answered {Status}: {Detail}", context.Request.Method, context.Request.Path, status, detail);
            return;
        }
        var key = $"{status} {DbErrors.RootCause(ex).GetType().Name} {KindOf(detail)}";
        var window = _windows.GetOrAdd(key, _ => new Window());
        if (window.TryOpen())
        {
            _log.LogWarning("{Method} {Path} answered {Status}: {Detail} (further failures like it are counted and summarised every {Window} s)",
                context.Request.Method, context.Request.Path, status, detail, LogWindow.TotalSeconds);
        }
    }

    private void Flush(bool force)
    {
        foreach (var (key, window) in _windows)
        {
            var suppressed = window.Close(force);
            if (suppressed > 0)
            {
                _log.LogWarning("{Count} more requests failed the same way in the last {Window} s: {Key}",
                    suppressed, LogWindow.TotalSeconds, key);
            }
        }
    }

    private static string KindOf(string detail) => detail.Split('(', 2)[0];

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private static IEnumerable<Exception> Chain(Exception? ex)
    {
        for (var i = 0; ex is not null && i < 8; i++, ex = ex.InnerException)
        {
            yield return ex;
        }
    }

    public void Dispose()
    {
        _flush.Dispose();
        Flush(force: true);
    }

    /// <summary>Per kind: open (the next failure is logged in full) or counting until the window closes.</summary>
    private sealed class Window
    {
        private int _open = 1;
        private long _suppressed;

        public bool TryOpen()
        {
            if (Interlocked.Exchange(ref _open, 0) == 1)
            {
                return true;
            }
            Interlocked.Increment(ref _suppressed);
            return false;
        }

        public long Close(bool force)
        {
            var suppressed = Interlocked.Exchange(ref _suppressed, 0);
            if (suppressed == 0 || force)
            {
                // Quiet for a whole window (or stopping): the next failure of this kind is news again.
                Volatile.Write(ref _open, 1);
            }
            return suppressed;
        }
    }
}
