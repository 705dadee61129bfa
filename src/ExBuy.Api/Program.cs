using ExBuy.Api;

// One executable, like the original's manage.py: no arguments serves; `migrate`, `seed`, `reset`, `warmup` run and exit.
if (ExBuyCommands.IsCommand(args))
{
    return await ExBuyCommands.RunAsync(args);
}

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddExBuy();

var app = builder.Build();
app.UseExBuy();

return await app.RunExBuyAsync();
