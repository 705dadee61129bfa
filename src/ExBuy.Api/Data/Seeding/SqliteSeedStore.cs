using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using SQLitePCL;

namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// SQLite: the whole load is one IMMEDIATE transaction on the app's own connection (so the app's per-connection pragmas
/// apply), with bulk pragmas while it runs (synchronous=OFF, a 256 MB page cache, temp_store=MEMORY) restored
/// afterwards because connections are pooled. Secondary indexes are dropped and recreated from the exact SQL in
/// sqlite_master (measured on the large preset: 16 s in all, against 45 s loading with the indexes in place). Money is integer cents and timestamps are TEXT in the format EF and Microsoft.Data.Sqlite write.
/// Ids are explicit; the tables use AUTOINCREMENT, so sqlite_sequence is set to each table's max id.
/// </summary>
internal sealed class SqliteSeedStore(IServiceProvider services) : ISeedStore
{
    /// <summary>SQLite's limit on parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).</summary>
    private const int MaxParameters = 32_766;

    private AsyncServiceScope? _scope;
    private ExBuyDb? _db;
    private SqliteConnection? _connection;
    private SqliteTransaction? _transaction;
    private (long Synchronous, long CacheSize, long TempStore)? _saved;
    private readonly List<string> _recreate = [];

    public string Engine => DatabaseOptions.Sqlite;

    private SqliteConnection Connection => _connection ?? throw new InvalidOperationException("BeginAsync first.");

    public async Task BeginAsync(CancellationToken ct)
    {
        _scope = services.CreateAsyncScope();
        _db = _scope.Value.ServiceProvider.GetRequiredService<ExBuyDb>();
        await _db.Database.OpenConnectionAsync(ct);
        _connection = (SqliteConnection)_db.Database.GetDbConnection();
        _saved = (await ScalarAsync("PRAGMA synchronous", ct), await ScalarAsync("PRAGMA cache_size", ct), await ScalarAsync("PRAGMA temp_store", ct));
        await ExecuteAsync("PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;", ct);
        _transaction = _connection.BeginTransaction(deferred: false);
    }

    public async Task<long[]> CountRowsAsync(CancellationToken ct)
    {
        var counts = new long[SeedTables.Names.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = await ScalarAsync($"SELECT count(*) FROM {SeedTables.Names[i]}", ct);
        }
        return counts;
    }

    public Task EmptyAsync(CancellationToken ct)
    {
        var names = SeedTables.Names;
        var sql = new StringBuilder();
        // Children first (foreign keys are on).
        foreach (var table in names.Reverse())
        {
            sql.Append($"DELETE FROM {table};");
        }
        sql.Append($"DELETE FROM sqlite_sequence WHERE name IN ({string.Join(", ", names.Select(n => $"'{n}'"))});");
        return ExecuteAsync(sql.ToString(), ct);
    }

    public async Task DropSecondaryAsync(CancellationToken ct)
    {
        var drops = new StringBuilder();
        await using (var cmd = Command($"""
            SELECT name, sql FROM sqlite_master
            WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({string.Join(", ", SeedTables.Names.Select(n => $"'{n}'"))})
            ORDER BY tbl_name, name
            """))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                drops.Append($"DROP INDEX \"{reader.GetString(0)}\";");
                _recreate.Add(reader.GetString(1));
            }
        }
        if (drops.Length > 0)
        {
            await ExecuteAsync(drops.ToString(), ct);
        }
    }

    public Task LoadAsync(SeedTable table, SeedPlan plan, SeedMethod method, int batchSize, Action<int> advance, CancellationToken ct)
    {
        if (method != SeedMethod.Insert)
        {
            throw new SeedException("--method copy needs PostgreSQL: SQLite loads with --method insert.");
        }
        var rows = table.RowCount(plan);
        var perStatement = Math.Max(1, Math.Min(batchSize, MaxParameters / table.Columns.Length));
        var db = Connection.Handle!;
        sqlite3_stmt? full = null;
        try
        {
            var done = 0;
            while (done < rows)
            {
                ct.ThrowIfCancellationRequested();
                var count = Math.Min(perStatement, rows - done);
                var stmt = count == perStatement ? full ??= Prepare(db, InsertSql(table, count)) : Prepare(db, InsertSql(table, count));
                try
                {
                    var sink = new StatementSink(stmt);
                    for (var i = done; i < done + count; i++)
                    {
                        table.WriteRow(plan, i, sink);
                    }
                    Check(db, raw.sqlite3_step(stmt), raw.SQLITE_DONE);
                    Check(db, raw.sqlite3_reset(stmt), raw.SQLITE_OK);
                }
                finally
                {
                    if (stmt != full)
                    {
                        stmt.Dispose();
                    }
                }
                advance(count);
                done += count;
            }
        }
        finally
        {
            full?.Dispose();
        }
        return Task.CompletedTask;
    }

    private static string InsertSql(SeedTable table, int rows)
    {
        var row = "(" + string.Join(",", Enumerable.Repeat("?", table.Columns.Length)) + ")";
        return $"INSERT INTO {table.Name} ({table.ColumnList}) VALUES {string.Join(",", Enumerable.Repeat(row, rows))}";
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var stmt), raw.SQLITE_OK);
        return stmt;
    }

    private static void Check(sqlite3 db, int rc, int expected)
    {
        if (rc != expected)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    public async Task RecreateSecondaryAsync(CancellationToken ct)
    {
        foreach (var statement in _recreate)
        {
            await ExecuteAsync(statement, ct);
        }
        _recreate.Clear();
    }

    public Task AdvanceSequencesAsync(CancellationToken ct)
    {
        // sqlite_sequence may lack a table's row (never inserted into, or emptied by EmptyAsync): replace it.
        var sql = new StringBuilder($"DELETE FROM sqlite_sequence WHERE name IN ({string.Join(", ", SeedTables.Names.Select(n => $"'{n}'"))});");
        foreach (var table in SeedTables.Names)
        {
            sql.Append($"INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', (SELECT max(id) FROM {table}) WHERE EXISTS (SELECT 1 FROM {table});");
        }
        return ExecuteAsync(sql.ToString(), ct);
    }

    public Task AnalyzeAsync(CancellationToken ct) => ExecuteAsync("ANALYZE", ct);

    public Task CommitAsync(CancellationToken ct)
    {
        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            _transaction.Dispose();
            _transaction = null;
        }
        if (_connection is not null && _saved is { } saved && _connection.State == System.Data.ConnectionState.Open)
        {
            await ExecuteAsync($"PRAGMA synchronous={saved.Synchronous}; PRAGMA cache_size={saved.CacheSize}; PRAGMA temp_store={saved.TempStore};",
                CancellationToken.None);
        }
        if (_db is not null)
        {
            await _db.Database.CloseConnectionAsync();
        }
        if (_scope is { } scope)
        {
            await scope.DisposeAsync();
        }
    }

    private SqliteCommand Command(string sql) => new(sql, Connection, _transaction) { CommandTimeout = 0 };

    private async Task ExecuteAsync(string sql, CancellationToken ct)
    {
        await using var cmd = Command(sql);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var cmd = Command(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Binds by position on the raw statement: Microsoft.Data.Sqlite binds parameters by name
    /// (sqlite3_bind_parameter_index, a linear search each), which makes a statement's cost grow with the square of its
    /// parameters (measured: 32K-parameter statements load ~3K rows/s, 64-parameter ones ~200K rows/s); by position the
    /// full 32766-parameter statements are the fastest.
    /// </summary>
    private sealed class StatementSink(sqlite3_stmt stmt) : IRowSink
    {
        private int _next = 1;

        public void Int64(long value) => raw.sqlite3_bind_int64(stmt, _next++, value);
        public void Int32(int value) => raw.sqlite3_bind_int64(stmt, _next++, value);
        public void Text(string value) => raw.sqlite3_bind_text16(stmt, _next++, value.AsSpan());

        // MoneyCentsConverter: SQLite stores money as integer cents.
        public void Money(long cents) => raw.sqlite3_bind_int64(stmt, _next++, cents);

        // The TEXT that EF and Microsoft.Data.Sqlite write for a DateTime (SqliteValueBinder, SqliteDateTimeTypeMapping).
        public void Time(long unixMs)
        {
            Span<char> text = stackalloc char[32];
            SeedGenerator.ToDateTime(unixMs).TryFormat(text, out var length, @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF", CultureInfo.InvariantCulture);
            raw.sqlite3_bind_text16(stmt, _next++, text[..length]);
        }
    }
}
