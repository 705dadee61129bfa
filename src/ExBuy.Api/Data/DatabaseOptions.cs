using Microsoft.Data.Sqlite;
using Npgsql;

namespace ExBuy.Api.Data;

/// <summary>
/// Database settings, read from the same environment variables as the original (DB_ENGINE, DB_HOST, ...).
/// Defaults live here; <see cref="Validate"/> says how to fix a bad value.
/// </summary>
public sealed class DatabaseOptions
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public string Engine { get; set; } = Sqlite;
    public string Host { get; set; } = "localhost";
    public int Port { get; set; } = 5432;
    public string Name { get; set; } = "exbuy";
    public string User { get; set; } = "postgres";
    public string Password { get; set; } = "postgres";
    public string Path { get; set; } = "exbuy.db";
    public int PoolMax { get; set; } = 64;

    /// <summary>Connections the pool keeps open when idle (Npgsql's Minimum Pool Size; DB_POOL_MIN).</summary>
    public int PoolMin { get; set; }

    /// <summary>Npgsql's Max Auto Prepare (DB_AUTO_PREPARE): statements prepared automatically per connection; 0 = off.</summary>
    public int AutoPrepare { get; set; } = 64;

    /// <summary>Npgsql multiplexing (DB_MULTIPLEXING): commands from many requests share connections. Experimental; off by default.</summary>
    public bool Multiplexing { get; set; }

    /// <summary>
    /// Longest wait for a pooled connection, or to open one (Npgsql's Timeout; DB_POOL_TIMEOUT, seconds). Past it the
    /// request answers 503 with Retry-After instead of queueing for Npgsql's default 15 s.
    /// </summary>
    public int PoolTimeoutSeconds { get; set; } = DefaultPoolTimeoutSeconds;

    public const int DefaultPoolTimeoutSeconds = 5;

    /// <summary>
    /// Longest a statement may run on PostgreSQL (server-side statement_timeout; DB_STATEMENT_TIMEOUT; zero = none). A
    /// statement past it is cancelled by the server and the request answers 503. The client's command timeout is a few
    /// seconds longer, a backstop for a server that does not answer at all.
    /// </summary>
    public TimeSpan StatementTimeout { get; set; } = DefaultStatementTimeout;

    public static readonly TimeSpan DefaultStatementTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Extra Npgsql connection-string keywords (e.g. "Max Auto Prepare=0;Multiplexing=true") for benchmarks.</summary>
    public string? Options { get; set; }

    public bool MigrateOnStart { get; set; } = true;

    /// <summary>Seed preset to load when the database has no products; "none" turns it off.</summary>
    public string SeedOnEmpty { get; set; } = "none";

    public bool IsPostgres => Engine == Postgres;

    public static DatabaseOptions FromConfiguration(IConfiguration c)
    {
        var o = new DatabaseOptions();
        o.Engine = (c["DB_ENGINE"] ?? o.Engine).Trim().ToLowerInvariant() switch
        {
            "postgresql" or "pg" => Postgres,
            var e => e,
        };
        o.Host = c["DB_HOST"] ?? o.Host;
        o.Port = ParseInt(c, "DB_PORT", o.Port);
        o.Name = c["DB_NAME"] ?? o.Name;
        o.User = c["DB_USER"] ?? o.User;
        o.Password = c["DB_PASSWORD"] ?? o.Password;
        o.Path = c["DB_PATH"] ?? o.Path;
        o.PoolMax = ParseInt(c, "DB_POOL_MAX", o.PoolMax);
        o.PoolMin = ParseInt(c, "DB_POOL_MIN", o.PoolMin);
        o.AutoPrepare = ParseInt(c, "DB_AUTO_PREPARE", o.AutoPrepare);
        o.Multiplexing = ParseBool(c, "DB_MULTIPLEXING", o.Multiplexing);
        o.Options = c["DB_OPTIONS"];
        o.PoolTimeoutSeconds = ParseInt(c, "DB_POOL_TIMEOUT", o.PoolTimeoutSeconds);
        o.StatementTimeout = ParseDuration(c, "DB_STATEMENT_TIMEOUT", o.StatementTimeout);
        o.MigrateOnStart = ParseBool(c, "DB_MIGRATE", o.MigrateOnStart);
        // The embedded default serves data at once on a fresh clone; PostgreSQL is seeded explicitly.
        o.SeedOnEmpty = c["SEED_ON_EMPTY"] ?? (o.IsPostgres ? "none" : "small");
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Engine is not (Sqlite or Postgres))
        {
            throw new ConfigurationError($"DB_ENGINE='{Engine}' is not supported: use 'sqlite' (default) or 'postgres'.");
        }
        if (Port is < 1 or > 65535)
        {
            throw new ConfigurationError($"DB_PORT={Port} is out of range: use 1..65535.");
        }
        if (PoolMax < 1)
        {
            throw new ConfigurationError($"DB_POOL_MAX={PoolMax} must be at least 1.");
        }
        if (PoolMin < 0 || PoolMin > PoolMax)
        {
            throw new ConfigurationError($"DB_POOL_MIN={PoolMin} is out of range: use 0..DB_POOL_MAX ({PoolMax}).");
        }
        if (PoolTimeoutSeconds is < 1 or > 300)
        {
            throw new ConfigurationError($"DB_POOL_TIMEOUT={PoolTimeoutSeconds} is out of range: use 1..300 seconds (the longest a request waits for a database connection).");
        }
        if (StatementTimeout < TimeSpan.Zero || StatementTimeout > TimeSpan.FromHours(1))
        {
            throw new ConfigurationError($"DB_STATEMENT_TIMEOUT={StatementTimeout.TotalMilliseconds:F0}ms is out of range: use 0 (none) .. 1h.");
        }
        if (AutoPrepare is < 0 or > 10000)
        {
            throw new ConfigurationError($"DB_AUTO_PREPARE={AutoPrepare} is out of range: use 0 (off) .. 10000 statements per connection.");
        }
    }

    public string PostgresConnectionString()
    {
        var b = new NpgsqlConnectionStringBuilder(Options ?? "")
        {
            Host = Host,
            Port = Port,
            Database = Name,
            Username = User,
            Password = Password,
            MaxPoolSize = PoolMax,
            ApplicationName = "exbuy",
        };
        // Prepared statements for the hot queries and no DISCARD ALL per pooled open, unless DB_OPTIONS says otherwise.
        if (!HasKeyword(Options, "Max Auto Prepare"))
        {
            b.MaxAutoPrepare = AutoPrepare;
        }
        if (!HasKeyword(Options, "Minimum Pool Size") && !HasKeyword(Options, "Min Pool Size"))
        {
            b.MinPoolSize = PoolMin;
        }
        if (Multiplexing)
        {
            b.Multiplexing = true;
        }
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = Options ?? "" };
        if (!given.ContainsKey("Timeout"))
        {
            b.Timeout = PoolTimeoutSeconds;
        }
        if (StatementTimeout > TimeSpan.Zero)
        {
            if (!given.ContainsKey("Options"))
            {
                b.Options = $"-c statement_timeout={(long)StatementTimeout.TotalMilliseconds}";
            }
            if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout"))
            {
                b.CommandTimeout = (int)Math.Ceiling(StatementTimeout.TotalSeconds) + CommandTimeoutMarginSeconds;
            }
        }
        if (!HasKeyword(Options, "No Reset On Close"))
        {
            b.NoResetOnClose = true;
        }
        return b.ConnectionString;
    }

    public string SqliteConnectionString() => new SqliteConnectionStringBuilder
    {
        DataSource = Path,
        Pooling = true,
        // Busy timeout: writers wait for the lock instead of failing with "database is locked".
        DefaultTimeout = 30,
    }.ConnectionString;

    /// <summary>What the start-up line and /api/info say about the database, without the password.</summary>
    public string Describe() => IsPostgres ? $"postgres {User}@{Host}:{Port}/{Name}" : $"sqlite {System.IO.Path.GetFullPath(Path)}";

    /// <summary>How much longer than the statement timeout the client waits before cancelling a command itself.</summary>
    private const int CommandTimeoutMarginSeconds = 5;

    internal static TimeSpan ParseDuration(IConfiguration c, string key, TimeSpan fallback)
    {
        var raw = c[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        return Faults.FaultValues.TryParseDuration(raw, out var v)
            ? v
            : throw new ConfigurationError($"{key}='{raw}' is not a duration: use e.g. 30s, 500ms, or plain milliseconds (0 = none).");
    }

    private static bool HasKeyword(string? options, string keyword) =>
        options is not null && options.Contains(keyword, StringComparison.OrdinalIgnoreCase);

    internal static int ParseInt(IConfiguration c, string key, int fallback)
    {
        var raw = c[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        return int.TryParse(raw, out var v)
            ? v
            : throw new ConfigurationError($"{key}='{raw}' is not a whole number.");
    }

    internal static bool ParseBool(IConfiguration c, string key, bool fallback)
    {
        var raw = c[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        return raw.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "yes" or "on" => true,
            "0" or "false" or "no" or "off" => false,
            _ => throw new ConfigurationError($"{key}='{raw}' is not a boolean: use true or false."),
        };
    }
}
