using ExBuy.Api;
using ExBuy.Api.Commands;

// One executable, like the original's manage.py: no arguments serves; `migrate`, `seed`, `reset`, `warmup` run and exit.
if (ExBuyCommands.IsCommand(args))
{
    return await ExBuyCommands.RunAsync(args);
}

var builder = WebApplication.CreateSlimBuilder(args);
try
{
    builder.AddExBuy();
}
catch (ConfigurationError ex)
{
    Console.Error.WriteLine($"exbuy: {ex.Message}");
    return 2;
}

var app = builder.Build();
app.UseExBuy();

return await app.RunExBuyAsync();
