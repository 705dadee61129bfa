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
    public int PoolMax { get; set; } = DefaultPoolMax;

    public const int DefaultPoolMax = 64;

    /// <summary>
    /// Connections the pool keeps once opened (Npgsql's Minimum Pool Size; DB_POOL_MIN). Default: DB_POOL_MAX, a
    /// fixed-size pool. Below it Npgsql prunes idle connections every Connection Idle Lifetime (300 s), closing dozens at
    /// once, and the pool then reopens them all within a second or two while requests queue: measured as a 2–3 s stall
    /// every 5 minutes under a steady load (bench/soak.sh). Connections are still opened on demand, not at start.
    /// </summary>
    public int PoolMin { get; set; } = DefaultPoolMax;

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

    /// <summary>
    /// Standbys for catalog reads (DB_READ_HOSTS, <c>host[:port]</c> separated by commas; empty = every read on the
    /// primary). Reads prefer a standby, spread across them, and fall back to the DB_HOST hosts; see <see cref="ReadRouting"/>.
    /// </summary>
    public string[] ReadHosts { get; set; } = [];

    /// <summary>
    /// PgBouncer in transaction pooling between the app and PostgreSQL (DB_PGBOUNCER): no automatic preparation (a
    /// statement prepared in one transaction is gone in the next server connection), no startup <c>options</c> (PgBouncer
    /// refuses them), so DB_STATEMENT_TIMEOUT is the client's command timeout only; no migration at start (it takes
    /// session-level locks: migrate directly against PostgreSQL).
    /// </summary>
    public bool PgBouncer { get; set; }

    /// <summary>The DB_HOST hosts (Npgsql's multi-host syntax: <c>h1:5432,h2:5433</c>); several = writes follow failover.</summary>
    public string[] WriteHosts => SplitHosts(Host);

    /// <summary>Whether requests should say which server served them (X-Db-Host): with standbys or several hosts.</summary>
    public bool RoutesAcrossHosts => IsPostgres && (ReadHosts.Length > 0 || WriteHosts.Length > 1);

    /// <summary>How often Npgsql re-checks a host's role (primary or standby) before trusting its cache, in seconds.</summary>
    public const int HostRecheckSeconds = 2;

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
        o.PoolMin = ParseInt(c, "DB_POOL_MIN", o.PoolMax);
        o.AutoPrepare = ParseInt(c, "DB_AUTO_PREPARE", o.AutoPrepare);
        o.Multiplexing = ParseBool(c, "DB_MULTIPLEXING", o.Multiplexing);
        o.Options = c["DB_OPTIONS"];
        o.PoolTimeoutSeconds = ParseInt(c, "DB_POOL_TIMEOUT", o.PoolTimeoutSeconds);
        o.StatementTimeout = ParseDuration(c, "DB_STATEMENT_TIMEOUT", o.StatementTimeout);
        o.ReadHosts = SplitHosts(c["DB_READ_HOSTS"]);
        o.PgBouncer = ParseBool(c, "DB_PGBOUNCER", o.PgBouncer);
        if (o.PgBouncer)
        {
            // Unless asked for: PgBouncer >= 1.21 with max_prepared_statements keeps them, and then DB_AUTO_PREPARE may be set.
            o.AutoPrepare = ParseInt(c, "DB_AUTO_PREPARE", 0);
        }
        o.MigrateOnStart = ParseBool(c, "DB_MIGRATE", o.MigrateOnStart && !o.PgBouncer);
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
        foreach (var host in WriteHosts.Concat(ReadHosts))
        {
            var colon = host.LastIndexOf(':');
            if (colon > host.LastIndexOf(']') && (colon == 0 || !int.TryParse(host[(colon + 1)..], out var port) || port is < 1 or > 65535))
            {
                throw new ConfigurationError($"'{host}' in {(ReadHosts.Contains(host) ? "DB_READ_HOSTS" : "DB_HOST")} is not host[:port] with a port in 1..65535: list hosts as h1:5432,h2:5433.");
            }
        }
        if (ReadHosts.Length > 0 && !IsPostgres)
        {
            throw new ConfigurationError("DB_READ_HOSTS needs DB_ENGINE=postgres (standbys are PostgreSQL streaming replicas).");
        }
        if (AutoPrepare is < 0 or > 10000)
        {
            throw new ConfigurationError($"DB_AUTO_PREPARE={AutoPrepare} is out of range: use 0 (off) .. 10000 statements per connection.");
        }
    }

    public string PostgresConnectionString() => PostgresConnectionString(Host, read: false);

    /// <summary>
    /// The read data source: the standbys first (prefer-standby, load balanced across them), then the DB_HOST hosts, so
    /// reads go on when every standby is down. Null without DB_READ_HOSTS.
    /// </summary>
    public string? PostgresReadConnectionString() =>
        ReadHosts.Length == 0 ? null : PostgresConnectionString(string.Join(',', ReadHosts.Concat(WriteHosts).Distinct(StringComparer.OrdinalIgnoreCase)), read: true);

    private string PostgresConnectionString(string hosts, bool read)
    {
        var b = new NpgsqlConnectionStringBuilder(Options ?? "")
        {
            Host = hosts,
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
        var multiHost = SplitHosts(hosts).Length > 1;
        if (multiHost && !HasKeyword(Options, "Target Session Attributes"))
        {
            // Writes need the primary wherever it is now (after a promotion, the former standby); reads take a standby.
            b.TargetSessionAttributes = read ? "prefer-standby" : "read-write";
        }
        if (multiHost && !HasKeyword(Options, "Host Recheck Seconds"))
        {
            b.HostRecheckSeconds = HostRecheckSeconds;
        }
        if (read && !HasKeyword(Options, "Load Balance Hosts"))
        {
            b.LoadBalanceHosts = true;
        }
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = Options ?? "" };
        if (!given.ContainsKey("Timeout"))
        {
            b.Timeout = PoolTimeoutSeconds;
        }
        if (StatementTimeout > TimeSpan.Zero && PgBouncer)
        {
            // PgBouncer refuses startup options, and a SET would leak to the next client of the server connection.
            if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout"))
            {
                b.CommandTimeout = (int)Math.Ceiling(StatementTimeout.TotalSeconds);
            }
        }
        else if (StatementTimeout > TimeSpan.Zero)
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
    public string Describe() => IsPostgres
        ? $"postgres {User}@{(WriteHosts.Length > 1 ? Host : $"{Host}:{Port}")}/{Name}"
            + (ReadHosts.Length > 0 ? $", reads on {string.Join(',', ReadHosts)}" : "") + (PgBouncer ? ", through PgBouncer" : "")
        : $"sqlite {System.IO.Path.GetFullPath(Path)}";

    internal static string[] SplitHosts(string? hosts) =>
        string.IsNullOrWhiteSpace(hosts) ? [] : hosts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

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
