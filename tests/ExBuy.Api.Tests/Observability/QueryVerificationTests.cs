using System.Globalization;
using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExBuy.Api.Tests.Observability;

/// <summary>
/// Verified query counts, the small version of bench/verify-queries.sh: for every optimize endpoint, both paths and page
/// sizes 20 and 100, the sum of <c>X-Query-Count</c> over a few requests equals the statements PostgreSQL executed in
/// this class's database, as pg_stat_statements counts them (the test cluster preloads it with track=all).
/// <para>What is compared: top-level <c>calls</c> in this database only (other classes run in parallel in other
/// databases of the cluster), without this test's own statistic statements (they name pg_stat_statements) and without
/// transaction-control/session statements (BEGIN, COMMIT, ROLLBACK, SET, DISCARD, …: Npgsql may send those on its own and
/// no X-Query-Count counts them), which are counted apart and must be 0 for these reads: they run no transaction and
/// ExBuy's connection string sets No Reset On Close (no DISCARD ALL). Statements nested in functions or triggers must be
/// 0 too. Npgsql's automatic preparation (Max Auto Prepare=64, the app's default, used here) does not change the
/// equality: pg_stat_statements counts every execution of a prepared statement.</para>
/// </summary>
public sealed class QueryVerificationTests(PostgresApp app) : EngineTests(app), IClassFixture<PostgresApp>
{
    private const int Products = 120;
    private const int RequestsPerRow = 3;

    /// <summary>Transaction-control and session statements, counted apart from the endpoint's own.</summary>
    private const string TxControl =
        @"'^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION|SET|RESET|DISCARD|DEALLOCATE|CLOSE|UNLISTEN)\M'";

    /// <summary>This test's own statistic statements all name the view or its functions.</summary>
    private const string NotOurs = "query NOT ILIKE '%pg_stat_statements%'";

    private sealed record Row(string Endpoint, bool Optimize, int? PageSize, int Requests, int QueryCountSum,
        long Executed, long TxControl, long Nested, string Statements)
    {
        public bool Ok => Executed == QueryCountSum && TxControl == 0 && Nested == 0;

        public string Describe() =>
            $"{Endpoint} optimize={(Optimize ? "true" : "false")} page_size={PageSize?.ToString(CultureInfo.InvariantCulture) ?? "-"}: "
            + $"{Requests} requests, sum X-Query-Count {QueryCountSum}, executed {Executed}, transaction-control {TxControl} "
            + $"(expected 0), nested {Nested}{(Ok ? "" : Environment.NewLine + Statements)}";
    }

    [Fact]
    public async Task XQueryCountEqualsTheStatementsPostgresExecuted()
    {
        var (category, token, userId, products) = await App.AddReviewedCatalogAsync("qv", Products);
        var busy = products[0];
        var orders = new List<long>();
        for (var i = 0; i < RequestsPerRow; i++)
        {
            orders.Add(await App.AddOrderAsync(userId, "pending", [.. products.Skip(i * 10).Take(4 + i * 3).Select(p => (p, 1 + i))]));
        }
        var userReviews = Enumerable.Range(0, Products).Sum(i => 1 + i % 5);

        // (name, url of request i at a page size, rows paged through, null = not paged)
        var endpoints = new (string Name, Func<int, int, string> Url, int? Rows)[]
        {
            ("GET /api/products", (i, s) => $"/api/products?category={category}&page={Page(i, s, Products)}&page_size={s}", Products),
            ("GET /api/products?ordering=-price",
                (i, s) => $"/api/products?category={category}&ordering=-price&page={Page(i, s, Products)}&page_size={s}", Products),
            ("GET /api/products/{id}", (i, _) => $"/api/products/{products[i * 7].Id}", null),
            ("GET /api/products/{id}/reviews",
                (i, s) => $"/api/products/{busy.Id}/reviews?page={Page(i, s, Products + 1)}&page_size={s}", Products + 1),
            ("GET /api/search/products",
                (i, s) => $"/api/search/products?q={token}&category={category}&page={Page(i, s, Products)}&page_size={s}", Products),
            ("GET /api/reviews", (i, s) => $"/api/reviews?user_id={userId}&page={Page(i, s, userReviews)}&page_size={s}", userReviews),
            ("GET /api/orders/{id}", (i, _) => $"/api/orders/{orders[i]}", null),
        };

        var dataSource = App.Services.GetRequiredService<NpgsqlDataSource>();
        await ExecuteAsync(dataSource, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        var dbid = Convert.ToInt64(await ScalarAsync(dataSource, "SELECT oid FROM pg_database WHERE datname = current_database()"),
            CultureInfo.InvariantCulture);

        var rows = new List<Row>();
        foreach (var (name, url, paged) in endpoints)
        {
            foreach (var optimize in new[] { false, true })
            {
                foreach (var size in paged is null ? new int?[] { null } : [20, 100])
                {
                    rows.Add(await MeasureAsync(dataSource, dbid, name, optimize, size,
                        i => $"{url(i, size ?? 0)}{(size is null ? "?" : "&")}optimize={(optimize ? "true" : "false")}"));
                }
            }
        }

        TestContext.Current.SendDiagnosticMessage(string.Join(Environment.NewLine, rows.Select(r => r.Describe())));
        var failed = rows.Where(r => !r.Ok).ToList();
        Assert.True(failed.Count == 0,
            $"X-Query-Count differs from what PostgreSQL executed (pg_stat_statements, database oid {dbid}):{Environment.NewLine}"
            + string.Join(Environment.NewLine, failed.Select(r => r.Describe())));
        // The comparison compared something: the naive pages ran many statements, the optimized few.
        Assert.All(rows.Where(r => r.Optimize), r => Assert.True(r.Executed <= 3 * r.Requests, r.Describe()));
        Assert.True(rows.Where(r => !r.Optimize).Sum(r => r.Executed) > 20 * RequestsPerRow * endpoints.Length);
    }

    /// <summary>Request i's page: spread over the pages that exist at this size.</summary>
    private static int Page(int i, int size, int rows) => 1 + i % ((rows + size - 1) / size);

    /// <summary>
    /// Resets this database's statistics, sends the requests, and reads what PostgreSQL recorded. pg_stat_statements keeps
    /// a bounded number of entries for the whole cluster and evicts the least used when full (its <c>dealloc</c>
    /// counter): a row measured across an eviction is measured again, a few times at most.
    /// </summary>
    private async Task<Row> MeasureAsync(NpgsqlDataSource dataSource, long dbid, string name, bool optimize, int? size,
        Func<int, string> url)
    {
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var evictionsBefore = await ScalarAsync(dataSource, "SELECT dealloc FROM pg_stat_statements_info");
            await ScalarAsync(dataSource, $"SELECT pg_stat_statements_reset(0, {dbid}, 0)");
            var sum = 0;
            for (var i = 0; i < RequestsPerRow; i++)
            {
                using var response = await Client.GetAsync(url(i), Ct);
                await response.ExpectAsync(HttpStatusCode.OK);
                sum += response.QueryCount();
            }
            long executed = 0, tx = 0, nested = 0;
            var statements = new List<string>();
            await using (var command = dataSource.CreateCommand(
                $"""
                SELECT toplevel, query ~* {TxControl}, calls, regexp_replace(left(query, 300), '\s+', ' ', 'g')
                FROM pg_stat_statements WHERE dbid = {dbid} AND {NotOurs} ORDER BY calls DESC, query
                """))
            await using (var reader = await command.ExecuteReaderAsync(Ct))
            {
                while (await reader.ReadAsync(Ct))
                {
                    var (topLevel, isTx, calls) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetInt64(2));
                    string kind;
                    if (!topLevel)
                    {
                        (kind, nested) = ("nested", nested + calls);
                    }
                    else if (isTx)
                    {
                        (kind, tx) = ("transaction-control", tx + calls);
                    }
                    else
                    {
                        (kind, executed) = ("statement", executed + calls);
                    }
                    statements.Add($"    {kind} × {calls}: {reader.GetString(3)}");
                }
            }
            if (Equals(evictionsBefore, await ScalarAsync(dataSource, "SELECT dealloc FROM pg_stat_statements_info")))
            {
                return new Row(name, optimize, size, RequestsPerRow, sum, executed, tx, nested, string.Join(Environment.NewLine, statements));
            }
            Assert.True(attempt < attempts,
                $"{name}: pg_stat_statements evicted entries during each of {attempts} attempts (pg_stat_statements.max too small)");
        }
    }

    private async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task<object?> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync(Ct);
    }
}
