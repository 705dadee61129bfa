using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ExBuy.Api.Data;

/// <summary>What a provider error means, independent of how it is reported.</summary>
public enum DbErrorKind
{
    None,

    /// <summary>A check, unique, foreign-key or not-null constraint refused the change.</summary>
    ConstraintViolation,

    /// <summary>A concurrent transaction won: serialization failure, deadlock, or a lock that was not available.</summary>
    SerializationFailure,

    /// <summary>The database cannot be reached or is too busy: connection errors, shutdown, locked SQLite file, pool exhausted.</summary>
    Unavailable,
}

/// <summary>
/// Recognises the providers' errors (PostgreSQL SQLSTATEs, SQLite result codes, Npgsql's network failures) in one place;
/// the HTTP error mapping, the start-up line and the commands each decide what to say about them.
/// </summary>
public static class DbErrors
{
    /// <summary>How many exceptions of a chain <see cref="Classify"/> looks at (the exception and its inner ones).</summary>
    private const int ClassifyDepth = 8;

    /// <summary>
    /// The kind of the first match anywhere in the chain, looked for in this order: constraint violation, serialization
    /// failure, unavailable.
    /// </summary>
    public static DbErrorKind Classify(Exception ex) =>
        Chain(ex, ClassifyDepth).Any(IsConstraintViolation) ? DbErrorKind.ConstraintViolation
        : Chain(ex, ClassifyDepth).Any(IsSerializationFailure) ? DbErrorKind.SerializationFailure
        : Chain(ex, ClassifyDepth).Any(IsUnavailable) ? DbErrorKind.Unavailable
        : DbErrorKind.None;

    /// <summary>
    /// The exception whose message says what went wrong: the first one the server or SQLite reported itself
    /// (<see cref="PostgresException"/>, <see cref="SqliteException"/>), else the innermost.
    /// </summary>
    public static Exception RootCause(Exception ex)
    {
        var root = ex;
        while (root.InnerException is not null && root is not (PostgresException or SqliteException))
        {
            root = root.InnerException;
        }
        return root;
    }

    /// <summary>
    /// The database could not be used: the exception, or its <see cref="RootCause"/>, is the driver's, or the root is a
    /// socket error. Otherwise the failure is the app's own around it (e.g. a bad seed preset).
    /// </summary>
    public static bool IsDatabaseFailure(Exception ex)
    {
        var root = RootCause(ex);
        return IsDriverError(ex) || IsDriverError(root) || root is SocketException;
    }

    /// <summary>Anywhere in the chain: a driver (Npgsql, SQLite), socket or timeout error.</summary>
    public static bool InvolvesDatabase(Exception ex) =>
        Chain(ex, int.MaxValue).Any(e => IsDriverError(e) || e is SocketException or TimeoutException);

    private static bool IsDriverError(Exception ex) => ex is NpgsqlException or SqliteException;

    /// <summary>
    /// The connection itself is gone (the server restarted, the session was terminated, the socket broke): the pool may
    /// hold more like it, and a read on a fresh connection may well succeed.
    /// </summary>
    public static bool IsBrokenConnection(Exception ex) => Chain(ex, ClassifyDepth).Any(e => e switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            // A write on a server that is a standby now (demoted, or a stale role): its pooled connections must go.
            || pg.SqlState is PostgresErrorCodes.ReadOnlySqlTransaction,
        NpgsqlException { InnerException: IOException or SocketException } => true,
        _ => false,
    });

    /// <summary>The server cancelled a statement that ran past statement_timeout (DB_STATEMENT_TIMEOUT).</summary>
    public static bool IsStatementTimeout(Exception ex) =>
        Chain(ex, ClassifyDepth).Any(e => e is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled });

    private static bool IsConstraintViolation(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState is PostgresErrorCodes.CheckViolation or PostgresErrorCodes.UniqueViolation
            or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.NotNullViolation,
        SqliteException sq => sq.SqliteErrorCode == 19, // SQLITE_CONSTRAINT
        _ => false,
    };

    private static bool IsSerializationFailure(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable };

    private static bool IsUnavailable(Exception e) => e switch
    {
        SqliteException sq => sq.SqliteErrorCode is 5 or 6 or 14, // BUSY, LOCKED, CANTOPEN
        NpgsqlException { InnerException: SocketException or TimeoutException or IOException } => true,
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exceptions
            || pg.SqlState is PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.CannotConnectNow
            || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) // admin shutdown
            || pg.SqlState is PostgresErrorCodes.QueryCanceled // statement_timeout
            || pg.SqlState is PostgresErrorCodes.ReadOnlySqlTransaction, // the server is a standby (now)
        SocketException => true,
        NpgsqlException { IsTransient: true } => true,
        // Multi-host (several DB_HOST hosts, DB_READ_HOSTS): no host of the wanted role answers, e.g. during a failover.
        NpgsqlException when IsNoSuitableHost(e) => true,
        // An error that names the pool, e.g. Npgsql's "The connection pool has been exhausted".
        DbException when e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) => true,
        _ => false,
    };

    /// <summary>Npgsql's multi-host failure: none of the hosts could be used in the wanted role.</summary>
    public static bool IsNoSuitableHost(Exception e) => e is NpgsqlException && e.Message.Contains("suitable host", StringComparison.Ordinal);

    private static IEnumerable<Exception> Chain(Exception? ex, int depth)
    {
        for (var i = 0; ex is not null && i < depth; i++, ex = ex.InnerException)
        {
            yield return ex;
        }
    }
}
