using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// PostgreSQL: the whole load is one transaction on one connection from the app's <see cref="NpgsqlDataSource"/>.
/// TRUNCATE in the same transaction lets binary COPY use FREEZE (rows written frozen and all-visible, no later
/// vacuum pass); secondary indexes and foreign keys are dropped first and recreated afterwards from the definitions the
/// catalog gave (<c>pg_get_indexdef</c>, <c>pg_get_constraintdef</c>), so the schema ends exactly as the migration made it.
/// Primary keys and CHECK constraints stay during the load.
/// </summary>
internal sealed class PostgresSeedStore(NpgsqlDataSource dataSource) : ISeedStore
{
    /// <summary>Npgsql's limit on parameters in one command.</summary>
    private const int MaxParameters = 65_535;

    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private readonly List<string> _recreate = [];

    public string Engine => DatabaseOptions.Postgres;

    private NpgsqlConnection Connection => _connection ?? throw new InvalidOperationException("BeginAsync first.");

    public async Task BeginAsync(CancellationToken ct)
    {
        _connection = await dataSource.OpenConnectionAsync(ct);
        _transaction = await _connection.BeginTransactionAsync(ct);
        // Transaction-scoped settings only: the pooled connection goes back unchanged (No Reset On Close is on).
        // A running app holds no locks between requests; a stuck one makes the load fail fast with a clear error.
        await ExecuteAsync("""
            SET LOCAL lock_timeout = '30s';
            SET LOCAL statement_timeout = 0;
            SET LOCAL maintenance_work_mem = '512MB';
            SET LOCAL synchronous_commit = off;
            """, ct);
    }

    public async Task<long[]> CountRowsAsync(CancellationToken ct)
    {
        await using var cmd = Command("SELECT " + string.Join(", ", SeedTables.Names.Select(t => $"(SELECT count(*) FROM {t})")));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return [.. Enumerable.Range(0, SeedTables.Names.Length).Select(reader.GetInt64)];
    }

    public Task EmptyAsync(CancellationToken ct) =>
        ExecuteAsync($"TRUNCATE {string.Join(", ", SeedTables.Names)} RESTART IDENTITY", ct);

    public async Task DropSecondaryAsync(CancellationToken ct)
    {
        var tables = SeedTables.Names;
        var drops = new List<string>();
        // Foreign keys first (they depend on the referenced primary keys, which stay).
        await using (var cmd = Command("""
            SELECT quote_ident(t.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = ANY($1)
            ORDER BY t.relname, c.conname
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (table, name, definition) = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
                drops.Add($"ALTER TABLE {table} DROP CONSTRAINT {name};");
                _recreate.Add($"ALTER TABLE {table} ADD CONSTRAINT {name} {definition};");
            }
        }
        // Indexes that back no constraint (primary keys stay): the secondary and the unique (order_id, product_id) ones.
        var indexes = new List<string>();
        await using (var cmd = Command("""
            SELECT quote_ident(i.relname), pg_get_indexdef(i.oid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = current_schema() AND t.relname = ANY($1)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype IN ('p', 'u', 'x'))
            ORDER BY t.relname, i.relname
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                drops.Add($"DROP INDEX {reader.GetString(0)};");
                indexes.Add(reader.GetString(1) + ";");
            }
        }
        // Indexes before foreign keys: the FK validation query can use them.
        _recreate.InsertRange(0, indexes);
        if (drops.Count > 0)
        {
            await ExecuteAsync(string.Join("\n", drops), ct);
        }
    }

    public async Task LoadAsync(SeedTable table, SeedPlan plan, SeedMethod method, int batchSize, Action<int> advance, CancellationToken ct)
    {
        var rows = table.RowCount(plan);
        if (rows == 0)
        {
            return;
        }
        if (method == SeedMethod.Copy)
        {
            await CopyAsync(table, plan, rows, batchSize, advance, ct);
        }
        else
        {
            await InsertAsync(table, plan, rows, batchSize, advance, ct);
        }
    }

    private async Task CopyAsync(SeedTable table, SeedPlan plan, int rows, int batchSize, Action<int> advance, CancellationToken ct)
    {
        // FREEZE: allowed because the table was truncated in this transaction (EmptyAsync always runs first).
        await using var importer = await Connection.BeginBinaryImportAsync(
            $"COPY {table.Name} ({table.ColumnList}) FROM STDIN (FORMAT BINARY, FREEZE)", ct);
        var sink = new CopySink(importer);
        var done = 0;
        while (done < rows)
        {
            ct.ThrowIfCancellationRequested();
            var end = Math.Min(rows, done + batchSize);
            // Synchronous writes: they only block when the 8 KB buffer flushes, and avoid a state machine per value.
            for (var i = done; i < end; i++)
            {
                importer.StartRow();
                table.WriteRow(plan, i, sink);
            }
            advance(end - done);
            done = end;
        }
        await importer.CompleteAsync(ct);
    }

    private async Task InsertAsync(SeedTable table, SeedPlan plan, int rows, int batchSize, Action<int> advance, CancellationToken ct)
    {
        var perStatement = Math.Max(1, Math.Min(batchSize, MaxParameters / table.Columns.Length));
        NpgsqlCommand? full = null;
        try
        {
            var done = 0;
            while (done < rows)
            {
                ct.ThrowIfCancellationRequested();
                var count = Math.Min(perStatement, rows - done);
                NpgsqlCommand cmd;
                if (count == perStatement)
                {
                    if (full is null)
                    {
                        full = InsertCommand(table, count);
                        await full.PrepareAsync(ct);
                    }
                    cmd = full;
                }
                else
                {
                    cmd = InsertCommand(table, count);
                }
                var sink = new ParameterSink(cmd.Parameters);
                for (var i = done; i < done + count; i++)
                {
                    table.WriteRow(plan, i, sink);
                }
                await cmd.ExecuteNonQueryAsync(ct);
                if (cmd != full)
                {
                    await cmd.DisposeAsync();
                }
                advance(count);
                done += count;
            }
        }
        finally
        {
            if (full is not null)
            {
                // Explicitly prepared statements outlive the pooled connection's checkout (No Reset On Close).
                if (full.IsPrepared && Connection.State == System.Data.ConnectionState.Open)
                {
                    await full.UnprepareAsync(CancellationToken.None);
                }
                await full.DisposeAsync();
            }
        }
    }

    private NpgsqlCommand InsertCommand(SeedTable table, int rows)
    {
        var columns = table.Columns;
        var sql = new StringBuilder($"INSERT INTO {table.Name} ({table.ColumnList}) VALUES ");
        var cmd = Command("");
        var n = 0;
        for (var r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (var c = 0; c < columns.Length; c++)
            {
                sql.Append(c == 0 ? "$" : ", $").Append(++n);
                cmd.Parameters.Add(columns[c].Kind switch
                {
                    ColumnKind.Int64 => new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint },
                    ColumnKind.Int32 => new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer },
                    ColumnKind.Text => new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Varchar },
                    ColumnKind.Money => new NpgsqlParameter<decimal> { NpgsqlDbType = NpgsqlDbType.Numeric },
                    _ => new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz },
                });
            }
            sql.Append(')');
        }
        cmd.CommandText = sql.ToString();
        return cmd;
    }

    public async Task RecreateSecondaryAsync(CancellationToken ct)
    {
        foreach (var statement in _recreate)
        {
            await ExecuteAsync(statement, ct);
        }
        _recreate.Clear();
    }

    public Task AdvanceSequencesAsync(CancellationToken ct) => ExecuteAsync(string.Join("\n", SeedTables.Names.Select(t =>
        $"SELECT setval(pg_get_serial_sequence('{t}', 'id'), coalesce(max(id), 0) + 1, false) FROM {t};")), ct);

    // In the transaction: the statistics commit with the rows.
    public Task AnalyzeAsync(CancellationToken ct) => ExecuteAsync($"ANALYZE {string.Join(", ", SeedTables.Names)}", ct);

    public async Task CommitAsync(CancellationToken ct)
    {
        await _transaction!.CommitAsync(ct);
        await _transaction.DisposeAsync();
        _transaction = null;
        // Outside the transaction (VACUUM cannot run in one): sets the visibility map, so the covering indexes of the
        // read paths answer with index-only scans from the first request instead of after the next autovacuum. And
        // ANALYZE again once the loaded rows are counted in the statistics system (flushed first): an ANALYZE inside
        // the loading transaction leaves every loaded row "modified since analyze", so autovacuum would re-analyze all
        // tables within a minute — in the middle of the first benchmark, invalidating every prepared statement's plan
        // (measured: product detail fell from ~5,000 to ~1,500 req/s when its connections re-chose custom plans).
        if (Connection.PostgreSqlVersion.Major >= 15)
        {
            await ExecuteAsync("SELECT pg_stat_force_next_flush()", ct);
        }
        // The app's statement timeout (DB_STATEMENT_TIMEOUT) is for requests; a large preset's VACUUM may take longer.
        await ExecuteAsync("SET statement_timeout = 0", ct);
        await ExecuteAsync($"VACUUM (ANALYZE) {string.Join(", ", SeedTables.Names)}", ct);
        await ExecuteAsync("RESET statement_timeout", ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            await _transaction.DisposeAsync();
        }
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    private NpgsqlCommand Command(string sql) => new(sql, Connection, _transaction) { CommandTimeout = 0 };

    private async Task ExecuteAsync(string sql, CancellationToken ct)
    {
        await using var cmd = Command(sql);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private sealed class CopySink(NpgsqlBinaryImporter importer) : IRowSink
    {
        public void Int64(long value) => importer.Write(value, NpgsqlDbType.Bigint);
        public void Int32(int value) => importer.Write(value, NpgsqlDbType.Integer);
        public void Text(string value) => importer.Write(value, NpgsqlDbType.Varchar);
        public void Money(long cents) => importer.Write(Data.Money.FromCents(cents), NpgsqlDbType.Numeric);
        public void Time(long unixMs) => importer.Write(SeedGenerator.ToDateTime(unixMs), NpgsqlDbType.TimestampTz);
    }

    private sealed class ParameterSink(NpgsqlParameterCollection parameters) : IRowSink
    {
        private int _next;

        public void Int64(long value) => ((NpgsqlParameter<long>)parameters[_next++]).TypedValue = value;
        public void Int32(int value) => ((NpgsqlParameter<int>)parameters[_next++]).TypedValue = value;
        public void Text(string value) => ((NpgsqlParameter<string>)parameters[_next++]).TypedValue = value;
        public void Money(long cents) => ((NpgsqlParameter<decimal>)parameters[_next++]).TypedValue = Data.Money.FromCents(cents);
        public void Time(long unixMs) => ((NpgsqlParameter<DateTime>)parameters[_next++]).TypedValue = SeedGenerator.ToDateTime(unixMs);
    }
}
