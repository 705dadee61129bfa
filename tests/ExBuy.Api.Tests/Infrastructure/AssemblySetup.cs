using ExBuy.Api.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(PostgresCluster))]
