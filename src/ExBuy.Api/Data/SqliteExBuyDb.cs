using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Data;

/// <summary>
/// SQLite storage: money is stored as integer cents, because EF's SQLite provider cannot compare, order or sum
/// <c>decimal</c> in SQL (it stores TEXT); integer cents keep <c>min_price</c>, <c>ordering=price</c> and revenue exact
/// and in SQL.
/// </summary>
public sealed class SqliteExBuyDb(DbContextOptions<SqliteExBuyDb> options) : ExBuyDb(options)
{
    public override string Engine => DatabaseOptions.Sqlite;

    public override ITextSearch Search => SqliteTextSearch.Instance;

    public override IStockSql Stock => SqliteStockSql.Instance;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Properties<decimal>().HaveConversion<MoneyCentsConverter>();
}
