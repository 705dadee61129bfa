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
