using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using ExBuy.Api.Uploads;
using Microsoft.Extensions.Configuration;

namespace ExBuy.Api.Tests.Common;

/// <summary>Bad settings are one line naming the variable and what it accepts (printed by Program, exit 2), not a stack trace.</summary>
public sealed class ConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [Theory]
    [InlineData("DB_ENGINE", "mysql", "use 'sqlite' (default) or 'postgres'")]
    [InlineData("DB_PORT", "70000", "use 1..65535")]
    [InlineData("DB_PORT", "abc", "is not a whole number")]
    [InlineData("DB_POOL_MAX", "0", "must be at least 1")]
    [InlineData("DB_MIGRATE", "maybe", "use true or false")]
    public void BadDatabaseSettingNamesTheVariable(string key, string value, string hint)
    {
        var ex = Assert.Throws<ConfigurationError>(() => DatabaseOptions.FromConfiguration(Config((key, value))));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
        Assert.Contains(hint, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pool_is_fixed_size_unless_DB_POOL_MIN_says_otherwise()
    {
        var fixedSize = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_POOL_MAX", "12")));
        Assert.Equal(12, fixedSize.PoolMin);
        Assert.Contains("Minimum Pool Size=12", fixedSize.PostgresConnectionString(), StringComparison.Ordinal);
        var pruned = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_POOL_MAX", "12"), ("DB_POOL_MIN", "0")));
        Assert.Equal(0, pruned.PoolMin);
    }

    [Fact]
    public void Read_hosts_give_a_prefer_standby_load_balanced_source_with_the_primary_last_and_writes_follow_the_primary()
    {
        var o = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_HOST", "pg-a:5432,pg-b:5433"),
            ("DB_READ_HOSTS", "pg-b:5433, pg-c")));
        var write = new Npgsql.NpgsqlConnectionStringBuilder(o.PostgresConnectionString());
        Assert.Equal("pg-a:5432,pg-b:5433", write.Host);
        Assert.Equal("read-write", write.TargetSessionAttributes);
        Assert.False(write.LoadBalanceHosts);
        var read = new Npgsql.NpgsqlConnectionStringBuilder(o.PostgresReadConnectionString()!);
        Assert.Equal("pg-b:5433,pg-c,pg-a:5432", read.Host);
        Assert.Equal("prefer-standby", read.TargetSessionAttributes);
        Assert.True(read.LoadBalanceHosts);
        Assert.True(o.RoutesAcrossHosts);
        // One host and no standbys: the single-server connection string of before, nothing routed.
        var single = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_HOST", "pg-a")));
        Assert.Null(single.PostgresReadConnectionString());
        Assert.Null(new Npgsql.NpgsqlConnectionStringBuilder(single.PostgresConnectionString()).TargetSessionAttributes);
        Assert.False(single.RoutesAcrossHosts);
    }

    [Fact]
    public void PgBouncer_mode_turns_off_preparation_startup_options_and_migration()
    {
        var o = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_PGBOUNCER", "true")));
        var b = new Npgsql.NpgsqlConnectionStringBuilder(o.PostgresConnectionString());
        Assert.Equal(0, b.MaxAutoPrepare);
        Assert.Null(b.Options);
        Assert.Equal(30, b.CommandTimeout);
        Assert.False(o.MigrateOnStart);
        // Asked for explicitly (PgBouncer >= 1.21 with max_prepared_statements), preparation and migration stay.
        var asked = DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_PGBOUNCER", "true"),
            ("DB_AUTO_PREPARE", "16"), ("DB_MIGRATE", "true")));
        Assert.Equal(16, new Npgsql.NpgsqlConnectionStringBuilder(asked.PostgresConnectionString()).MaxAutoPrepare);
        Assert.True(asked.MigrateOnStart);
        var direct = new Npgsql.NpgsqlConnectionStringBuilder(DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"))).PostgresConnectionString());
        Assert.Equal("-c statement_timeout=30000", direct.Options);
        Assert.Equal(64, direct.MaxAutoPrepare);
    }

    [Theory]
    [InlineData("pg-b:0")]
    [InlineData(":5432")]
    [InlineData("pg-b:http")]
    public void A_bad_read_host_names_DB_READ_HOSTS(string hosts)
    {
        var ex = Assert.Throws<ConfigurationError>(() => DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"), ("DB_READ_HOSTS", hosts))));
        Assert.Contains("DB_READ_HOSTS", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_hosts_need_PostgreSQL()
    {
        var ex = Assert.Throws<ConfigurationError>(() => DatabaseOptions.FromConfiguration(Config(("DB_READ_HOSTS", "pg-b"))));
        Assert.Contains("DB_ENGINE=postgres", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("10MB")]
    public void BadUploadLimitNamesTheVariable(string value)
    {
        var ex = Assert.Throws<ConfigurationError>(() => UploadOptions.FromConfiguration(Config(("UPLOAD_MAX_BYTES", value))));
        Assert.Contains("UPLOAD_MAX_BYTES", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadLogLevelNamesTheVariable()
    {
        var ex = Assert.Throws<ConfigurationError>(() => LoggingSetup.Parse("loud", Microsoft.Extensions.Logging.LogLevel.Information, "LOG_LEVEL"));
        Assert.Contains("LOG_LEVEL='loud'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultsAreTheOriginalsAndSqlite()
    {
        var o = DatabaseOptions.FromConfiguration(Config());
        Assert.Equal(("sqlite", "localhost", 5432, "exbuy", "postgres", "postgres"), (o.Engine, o.Host, o.Port, o.Name, o.User, o.Password));
        Assert.Equal("small", o.SeedOnEmpty);
        Assert.Equal("none", DatabaseOptions.FromConfiguration(Config(("DB_ENGINE", "postgres"))).SeedOnEmpty);
    }
}
