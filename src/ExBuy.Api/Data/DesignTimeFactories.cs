using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace ExBuy.Api.Data;

/// <summary>Used by <c>dotnet ef migrations add ... --context SqliteExBuyDb</c> only; no database is opened.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteExBuyDb>
{
    public SqliteExBuyDb CreateDbContext(string[] args)
    {
        var o = new DbContextOptionsBuilder<SqliteExBuyDb>();
        DataSetup.ConfigureSqlite(o, "Data Source=design.db");
        return new SqliteExBuyDb(o.Options);
    }
}

/// <summary>Used by <c>dotnet ef migrations add ... --context PostgresExBuyDb</c> only; no database is opened.</summary>
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresExBuyDb>
{
    public PostgresExBuyDb CreateDbContext(string[] args)
    {
        var o = new DbContextOptionsBuilder<PostgresExBuyDb>();
        DataSetup.ConfigurePostgres(o, NpgsqlDataSource.Create("Host=localhost;Database=exbuy;Username=postgres"));
        return new PostgresExBuyDb(o.Options);
    }
}
